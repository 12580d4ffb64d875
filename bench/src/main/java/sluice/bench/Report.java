package sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import sluice.bench.BenchMain.Outcome;
import sluice.bench.BenchMain.Scenario;

/** Tables, JSON, plots and headline ratios of one scenario's outcomes. */
final class Report {

  private Report() {}

  static void write(Path dir, Scenario sc, List<Outcome> os, int rounds) throws IOException {
    Files.writeString(dir.resolve(sc.name() + ".md"), table(sc, os, rounds));
    Files.writeString(dir.resolve(sc.name() + ".json"), json(sc, os));
    LinkedHashMap<String, double[]> bars = new LinkedHashMap<>();
    for (String t : targets(os)) {
      bars.put(t, new double[] {
          median(values(os, t, o -> o.r().p50Millis())), median(values(os, t, o -> o.r().p90Millis())),
          median(values(os, t, o -> o.r().p99Millis())), median(values(os, t, o -> o.r().p999Millis()))});
    }
    Plot.bars(dir.resolve(sc.name() + "-latency.png"), sc.name() + ": latency of 2xx responses (median of "
        + rounds + " rounds)", "milliseconds (log scale)", List.of("p50", "p90", "p99", "p99.9"), bars);
    Map<String, double[][]> lines = new LinkedHashMap<>();
    for (String t : targets(os)) {
      double[][] mean = meanSeries(os, t, s -> (double) s.ok());
      if (mean != null) {
        lines.put(t, mean);
      }
    }
    List<Double> marks = new ArrayList<>();
    marks.add((double) sc.warmup().toSeconds());
    sc.shifts().forEach(s -> marks.add((double) s.atSecond()));
    Plot.lines(dir.resolve(sc.name() + "-goodput.png"), sc.name() + ": goodput per second (mean of "
        + rounds + " rounds; dashed: end of warm-up" + (sc.shifts().isEmpty() ? "" : ", capacity shifts") + ")",
        "seconds since load start", "2xx responses per second", lines, marks);
  }

  /** Per second: x = second, y = mean over the rounds that ran. */
  private static double[][] meanSeries(List<Outcome> os, String t, Function<LoadDriver.Second, Double> f) {
    List<Outcome> ok = os.stream().filter(o -> o.target().equals(t) && o.r() != null).toList();
    if (ok.isEmpty()) {
      return null;
    }
    int n = ok.get(0).r().series().size() - 1; // the last second is partial
    double[][] xy = new double[2][n];
    for (int s = 0; s < n; s++) {
      xy[0][s] = s + 0.5;
      for (Outcome o : ok) {
        xy[1][s] += f.apply(o.r().series().get(s)) / ok.size();
      }
    }
    return xy;
  }

  private static String table(Scenario sc, List<Outcome> os, int rounds) {
    StringBuilder b = new StringBuilder();
    b.append("### ").append(sc.title()).append("\n\n");
    b.append("Medians of ").append(rounds).append(" round(s), (min-max) over rounds; latency of 2xx responses")
        .append(sc.rate() > 0 ? " counted from the intended send time" : "").append(".\n\n");
    List<String> phases = phaseColumns(sc);
    b.append("| target | goodput req/s | p50 ms | p99 ms | p99.9 ms | errors/s | back-end max in flight |"
        + " CPU cores: proxy / back-ends / driver | proxy CPU us/req |");
    phases.forEach(p -> b.append(' ').append(p).append(" |"));
    if (sc.memory()) {
      b.append(" proxy RSS MiB | heap used / live MiB | idle open at end | proxy fds at end |");
    }
    boolean processes = os.stream().anyMatch(o -> o.proxyProcesses() > 1 || !o.grantedAtEnd().isEmpty());
    if (processes) {
      b.append(" proxy processes | ready after s | Sluice nodes at end: slots granted (limit), per round |");
    }
    if (sc.burst()) {
      b.append(" first response p50 / p99 / max ms | first 2xx / connections | connects issued within ms"
          + " (driver CPU ms) | burst drained at s | driver cores in burst | proxy fds at end |"
          + " listen overflows / SYN retransmits |");
    }
    b.append("\n|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    phases.forEach(p -> b.append("---:|"));
    if (sc.memory()) {
      b.append("---:|---:|---:|---:|");
    }
    if (processes) {
      b.append("---:|---:|---|");
    }
    if (sc.burst()) {
      b.append("---:|---:|---:|---:|---:|---:|---:|");
    }
    b.append('\n');
    for (String t : targets(os)) {
      List<Outcome> mine = os.stream().filter(o -> o.target().equals(t)).toList();
      List<Outcome> ok = mine.stream().filter(o -> o.r() != null).toList();
      if (ok.isEmpty()) {
        b.append("| ").append(t).append(" | failed: ").append(mine.get(0).failure()).append(" |\n");
        continue;
      }
      b.append("| ").append(t)
          .append(" | ").append(spread(values(os, t, o -> o.r().goodput()), "%.0f"))
          .append(" | ").append(fmt(median(values(os, t, o -> o.r().p50Millis())), "%.2f"))
          .append(" | ").append(spread(values(os, t, o -> o.r().p99Millis()), "%.2f"))
          .append(" | ").append(fmt(median(values(os, t, o -> o.r().p999Millis())), "%.1f"))
          .append(" | ").append(fmt(median(values(os, t, o -> o.r().errorsPerSecond())), "%.1f"))
          .append(" | ").append(fmt(max(values(os, t, o -> o.backendMaxInFlight())), "%.0f"))
          .append(" | ").append(fmt(median(values(os, t, Outcome::proxyCpuCores)), "%.2f"))
          .append(" / ").append(fmt(median(values(os, t, Outcome::backendCpuCores)), "%.2f"))
          .append(" / ").append(fmt(median(values(os, t, o -> o.r().driverCpuCores())), "%.2f"))
          .append(" | ").append(spread(values(os, t, Outcome::proxyCpuMicrosPerRequest), "%.1f"))
          .append(" |");
      for (int p = 0; p < phases.size(); p++) {
        int phase = p;
        b.append(' ').append(spread(values(os, t, o -> phaseGoodput(sc, o, phase)), "%.0f")).append(" |");
      }
      if (sc.memory()) {
        b.append(' ').append(fmt(max(values(os, t, Outcome::proxyRssMaxMiB)), "%.0f")).append(" | ");
        double used = median(values(os, t, Outcome::heapUsedMiB));
        b.append(used < 0 ? "n/a" : fmt(used, "%.0f") + " / " + fmt(median(values(os, t, Outcome::heapLiveMiB)), "%.0f"))
            .append(" | ").append(spread(values(os, t, o -> o.r().idleOpenAtEnd()), "%.0f"))
            .append(" | ").append(spread(values(os, t, Outcome::proxyFdsAtEnd), "%.0f")).append(" |");
      }
      if (processes) {
        b.append(' ').append(ok.get(0).proxyProcesses()).append(" | ")
            .append(spread(values(os, t, Outcome::startSeconds), "%.1f")).append(" | ")
            .append(ok.get(0).grantedAtEnd().isEmpty() ? "n/a" : String.join("; ", ok.stream()
                .map(o -> joined(o.grantedAtEnd()) + " (" + joined(o.limitAtEnd()) + ")").toList()))
            .append(" |");
      }
      if (sc.burst()) {
        b.append(' ').append(fmt(median(values(os, t, o -> o.r().burst().p50Millis())), "%.1f"))
            .append(" / ").append(fmt(median(values(os, t, o -> o.r().burst().p99Millis())), "%.1f"))
            .append(" / ").append(spread(values(os, t, o -> o.r().burst().maxMillis()), "%.1f"))
            .append(" | ").append(fmt(median(values(os, t, o -> o.r().burst().firstOk())), "%.0f"))
            .append(" / ").append(ok.get(0).r().burst().connections())
            .append(" | ").append(spread(values(os, t, o -> o.r().burst().connectSpreadMillis()), "%.1f"))
            .append(" (").append(fmt(median(values(os, t, o -> o.r().burst().connectLoopCpuMillis())), "%.1f"))
            .append(") | ").append(spread(values(os, t, o -> o.r().burst().lastFirstMillis() / 1000), "%.2f"))
            .append(" | ").append(spread(values(os, t, o -> o.r().burst().driverCpuCores()), "%.2f"))
            .append(" | ").append(spread(values(os, t, Outcome::proxyFdsAtEnd), "%.0f"))
            .append(" | ").append(fmt(median(values(os, t, Outcome::listenOverflows)), "%.0f"))
            .append(" / ").append(fmt(median(values(os, t, Outcome::synRetransmits)), "%.0f")).append(" |");
      }
      b.append('\n');
    }
    b.append('\n');
    for (Outcome o : os) {
      if (o.failure() != null || (o.r() != null && !o.r().errorKinds().isEmpty())) {
        b.append("- round ").append(o.round() + 1).append(' ').append(o.target()).append(": ")
            .append(o.failure() != null ? "FAILURE " + o.failure() + " " : "")
            .append(o.r() != null ? "errors in window " + o.r().errorKinds() + ", unfinished at end "
                + o.r().unfinished() : "").append('\n');
      }
    }
    if (sc.rate() > 0) {
      os.stream().filter(o -> o.r() != null && o.r().backlogMax() > 0).forEach(o -> b.append("- round ")
          .append(o.round() + 1).append(' ').append(o.target()).append(": driver backlog up to ")
          .append(o.r().backlogMax()).append(" due requests with no idle connection\n"));
    }
    if (sc.burst()) {
      os.stream().filter(o -> o.r() != null && o.r().burst().firstOk() < o.r().burst().connections())
          .forEach(o -> b.append("- round ").append(o.round() + 1).append(' ').append(o.target()).append(": ")
              .append(o.r().burst().connections() - o.r().burst().firstOk()).append(" of ")
              .append(o.r().burst().connections()).append(" connections had no first 2xx response within the run (")
              .append(fmt((sc.warmup().toMillis() + sc.measure().toMillis()) / 1000.0, "%.0f"))
              .append(" s): first-response percentiles that fall on them are n/a (longer than the run)\n"));
      os.stream().filter(o -> o.r() != null && o.r().burst().firstInWindow() > 0).forEach(o -> b.append("- round ")
          .append(o.round() + 1).append(' ').append(o.target()).append(": ").append(o.r().burst().firstInWindow())
          .append(" first responses came after the counted window had begun: the steady-state window overlaps"
              + " the burst\n"));
    }
    os.stream().filter(o -> o.r() != null && o.r().idleFailures() > 0).forEach(o -> b.append("- round ")
        .append(o.round() + 1).append(' ').append(o.target()).append(": ").append(o.r().idleFailures())
        .append(" idle connections failed or were closed by the target (and reopened)\n"));
    b.append('\n').append(haproxyThreads(sc));
    if (!sc.figures().isEmpty()) {
      b.append("\nFigures (per round, then median (min-max) over rounds):\n\n").append(figures(sc, os));
    }
    b.append('\n');
    return b.toString();
  }

  /** Which nbthread each HAProxy target ran with. */
  static String haproxyThreads(Scenario sc) {
    List<String> hs = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    for (BenchMain.Arm a : sc.arms()) {
      if (a.target() instanceof Target.HAProxy h && seen.add(h.name())) {
        hs.add(h.name() + " " + h.threads() + (h.instances() > 1 ? " in each of " + h.instances() + " instances" : ""));
      }
    }
    return hs.isEmpty() ? "" : "- HAProxy nbthread: " + String.join(", ", hs) + "\n";
  }

  /** The values of a figure, one per round (NaN where it could not be computed). */
  static double[] figureValues(List<Outcome> os, BenchMain.Figure f) {
    int rounds = os.stream().mapToInt(Outcome::round).max().orElse(-1) + 1;
    double[] v = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      Map<String, Outcome> byArm = new LinkedHashMap<>();
      for (Outcome o : os) {
        if (o.round() == r) {
          byArm.put(o.target(), o);
        }
      }
      v[r] = f.perRound().applyAsDouble(byArm);
    }
    return v;
  }

  /** One markdown line per figure: median (min-max) over the rounds in which it could be computed. */
  static String figures(Scenario sc, List<Outcome> os) {
    StringBuilder b = new StringBuilder();
    for (BenchMain.Figure f : sc.figures()) {
      double[] v = Arrays.stream(figureValues(os, f)).filter(Double::isFinite).toArray();
      b.append("- ").append(f.label()).append(": ")
          .append(v.length == 0 ? "n/a (" + f.na() + ")" : spread(v, f.format()) + f.unit());
      if (!f.goal().isEmpty()) {
        b.append(" (goal ").append(f.goal()).append(')');
      }
      b.append('\n');
    }
    return b.toString();
  }

  private static List<String> phaseColumns(Scenario sc) {
    if (sc.shifts().isEmpty()) {
      return List.of();
    }
    List<String> cols = new ArrayList<>();
    for (int p = 0; p <= sc.shifts().size(); p++) {
      cols.add("phase " + (p + 1) + " goodput");
    }
    return cols;
  }

  /** Mean goodput over a phase of the counted window (phases split at the shifts). */
  static double phaseGoodput(Scenario sc, Outcome o, int phase) {
    int from = phase == 0 ? (int) sc.warmup().toSeconds() : sc.shifts().get(phase - 1).atSecond();
    int to = phase == sc.shifts().size() ? (int) (sc.warmup().toSeconds() + sc.measure().toSeconds())
        : sc.shifts().get(phase).atSecond();
    double sum = 0;
    for (int s = from; s < to; s++) {
      sum += o.r().series().get(s).ok();
    }
    return sum / (to - from);
  }

  private static String json(Scenario sc, List<Outcome> os) {
    StringBuilder b = new StringBuilder();
    b.append("{\n  \"scenario\": ").append(q(sc.name())).append(",\n  \"title\": ").append(q(sc.title()))
        .append(",\n  \"backends\": ").append(q(sc.backends().toString()))
        .append(",\n  \"connections\": ").append(sc.connections()).append(", \"activeConnections\": ")
        .append(sc.active()).append(", \"openLoopRate\": ").append(sc.rate())
        .append(", \"warmupSeconds\": ").append(sc.warmup().toSeconds()).append(", \"measureSeconds\": ")
        .append(sc.measure().toSeconds()).append(",\n  \"shifts\": [");
    for (int i = 0; i < sc.shifts().size(); i++) {
      BenchMain.Shift s = sc.shifts().get(i);
      b.append(i == 0 ? "" : ", ").append("{\"atSecond\": ").append(s.atSecond()).append(", \"backend\": ")
          .append(s.backend()).append(", \"params\": ").append(q(s.query())).append('}');
    }
    b.append("],\n  \"runs\": [\n");
    for (int i = 0; i < os.size(); i++) {
      Outcome o = os.get(i);
      b.append("    {\"target\": ").append(q(o.target())).append(", \"round\": ").append(o.round() + 1)
          .append(", \"failure\": ").append(o.failure() == null ? "null" : q(o.failure()));
      if (o.r() != null) {
        LoadDriver.Result r = o.r();
        b.append(String.format(Locale.ROOT, ", \"goodput\": %.1f, \"errorsPerSecond\": %.2f, \"p50Millis\": %.3f,"
                + " \"p90Millis\": %.3f, \"p99Millis\": %.3f, \"p999Millis\": %.3f, \"maxMillis\": %.3f,"
                + " \"unfinished\": %d, \"connected\": %d, \"driverCpuCores\": %.3f, \"proxyCpuCores\": %.3f,"
                + " \"backendCpuCores\": %.3f, \"backendMaxInFlight\": %d, \"proxyRssMaxMiB\": %.1f,"
                + " \"heapUsedMiB\": %.1f, \"heapLiveMiB\": %.1f, \"openLoopBacklogMax\": %d,"
                + " \"proxyCpuMicrosPerRequest\": %.2f, \"proxyFdsAtEnd\": %d, \"idleOpenAtEnd\": %d,"
                + " \"idleFailures\": %d",
            r.goodput(), r.errorsPerSecond(), r.p50Millis(), r.p90Millis(), r.p99Millis(), r.p999Millis(),
            r.maxMillis(), r.unfinished(), r.connected(), r.driverCpuCores(), o.proxyCpuCores(),
            o.backendCpuCores(), o.backendMaxInFlight(), o.proxyRssMaxMiB(), o.heapUsedMiB(), o.heapLiveMiB(),
            r.backlogMax(), o.proxyCpuMicrosPerRequest(), o.proxyFdsAtEnd(), r.idleOpenAtEnd(), r.idleFailures()));
        b.append(String.format(Locale.ROOT, ", \"listenOverflows\": %d, \"synRetransmits\": %d", o.listenOverflows(),
            o.synRetransmits()));
        b.append(String.format(Locale.ROOT, ", \"proxyProcesses\": %d, \"startSeconds\": %.2f, \"grantedAtEnd\": %s,"
            + " \"limitAtEnd\": %s", o.proxyProcesses(), o.startSeconds(), o.grantedAtEnd(), o.limitAtEnd()));
        if (r.burst() != null) {
          LoadDriver.Burst x = r.burst();
          b.append(String.format(Locale.ROOT, ",\n     \"burst\": {\"connections\": %d, \"firstOk\": %d, \"firstFailed\": %d,"
                  + " \"firstP50Millis\": %.3f, \"firstP99Millis\": %.3f, \"firstMaxMillis\": %.3f,"
                  + " \"connectSpreadMillis\": %.3f, \"connectLoopCpuMillis\": %.3f, \"lastFirstMillis\": %.3f,"
                  + " \"firstInWindow\": %d, \"driverCpuCores\": %.3f}", x.connections(), x.firstOk(), x.firstFailed(),
              x.p50Millis(), x.p99Millis(), x.maxMillis(), x.connectSpreadMillis(), x.connectLoopCpuMillis(),
              x.lastFirstMillis(), x.firstInWindow(), x.driverCpuCores()));
        }
        b.append(", \"errorKinds\": {");
        int k = 0;
        for (Map.Entry<String, Long> e : r.errorKinds().entrySet()) {
          b.append(k++ == 0 ? "" : ", ").append(q(e.getKey())).append(": ").append(e.getValue());
        }
        b.append("},\n     \"perSecond\": [");
        for (int s = 0; s < r.series().size(); s++) {
          LoadDriver.Second x = r.series().get(s);
          b.append(s == 0 ? "" : ", ").append(String.format(Locale.ROOT,
              "{\"t\": %d, \"ok\": %d, \"errors\": %d, \"p50Millis\": %.3f, \"p99Millis\": %.3f}",
              x.t(), x.ok(), x.errors(), x.p50Millis(), x.p99Millis()));
        }
        b.append(']');
      }
      b.append(i == os.size() - 1 ? "}\n" : "},\n");
    }
    b.append("  ],\n  \"arms\": [");
    for (int i = 0; i < sc.arms().size(); i++) {
      BenchMain.Arm a = sc.arms().get(i);
      b.append(i == 0 ? "" : ", ").append("{\"name\": ").append(q(a.name())).append(", \"idleConnections\": ")
          .append(a.idle()).append(a.target() instanceof Target.HAProxy h ? ", \"haproxyNbthread\": " + h.threads()
              + (h.instances() > 1 ? ", \"haproxyInstances\": " + h.instances() : "") : "")
          .append(a.target() instanceof Target.SluiceCluster c ? ", \"sluiceNodes\": " + c.nodes() : "")
          .append('}');
    }
    b.append("],\n  \"figures\": [");
    for (int i = 0; i < sc.figures().size(); i++) {
      BenchMain.Figure f = sc.figures().get(i);
      b.append(i == 0 ? "\n" : ",\n").append("    {\"label\": ").append(q(f.label())).append(", \"unit\": ")
          .append(q(f.unit().trim())).append(", \"goal\": ").append(q(f.goal())).append(", \"perRound\": [");
      double[] v = figureValues(os, f);
      for (int k = 0; k < v.length; k++) {
        b.append(k == 0 ? "" : ", ").append(Double.isFinite(v[k]) ? String.format(Locale.ROOT, "%.4f", v[k]) : "null");
      }
      b.append("]}");
    }
    b.append(sc.figures().isEmpty() ? "]\n}\n" : "\n  ]\n}\n");
    return b.toString().replace(": NaN", ": null"); // no 2xx in a window or second: no latency
  }

  /** The headline figures of a scenario, as markdown lines. */
  static String headline(Scenario sc, List<Outcome> os, Function<List<Outcome>, Optional<String>> bestOf) {
    StringBuilder b = new StringBuilder("\n## ").append(sc.name()).append("\n\n").append(sc.title()).append("\n\n");
    Set<String> ts = targets(os);
    if (!sc.figures().isEmpty()) {
      b.append(figures(sc, os)).append("- p99 ms (median of rounds): ");
      int k = 0;
      for (String t : ts) {
        b.append(k++ == 0 ? "" : ", ").append(t).append(' ')
            .append(fmt(median(values(os, t, o -> o.r().p99Millis())), "%.1f"));
      }
      b.append('\n').append(haproxyThreads(sc));
      long failures = os.stream().filter(o -> o.failure() != null).count();
      if (failures > 0) {
        b.append("- ").append(failures).append(" run(s) failed; see ").append(sc.name()).append(".md\n");
      }
      return b.toString();
    }
    Optional<String> best = bestOf.apply(os);
    List<String> proxies = new ArrayList<>();
    best.ifPresent(proxies::add);
    if (ts.contains("haproxy")) {
      proxies.add("haproxy");
    }
    if (ts.contains("direct")) {
      proxies.add("direct");
    }
    for (String sluice : ts) {
      if (!sluice.startsWith("sluice")) {
        continue;
      }
      for (String other : proxies) {
        b.append("- ").append(sluice).append(" goodput / ").append(other)
            .append(other.equals(best.orElse("")) ? " (best maxconn of the sweep)" : "").append(": ")
            .append(ratio(os, sluice, other, o -> o.r().goodput())).append('\n');
      }
    }
    b.append("- p99 ms (median of rounds): ");
    int k = 0;
    for (String t : ts) {
      b.append(k++ == 0 ? "" : ", ").append(t).append(' ').append(fmt(median(values(os, t, o -> o.r().p99Millis())), "%.1f"));
    }
    b.append('\n');
    if (!sc.shifts().isEmpty()) {
      for (String t : ts) {
        b.append("- ").append(t).append(" mean goodput per phase:");
        for (int p = 0; p <= sc.shifts().size(); p++) {
          int phase = p;
          b.append(' ').append(fmt(median(values(os, t, o -> phaseGoodput(sc, o, phase))), "%.0f"));
        }
        b.append(" req/s\n");
      }
    }
    if (sc.memory()) {
      for (String t : ts) {
        b.append("- ").append(t).append(": RSS ").append(fmt(max(values(os, t, Outcome::proxyRssMaxMiB)), "%.0f"))
            .append(" MiB");
        double used = median(values(os, t, Outcome::heapUsedMiB));
        if (used >= 0) {
          b.append(", heap used ").append(fmt(used, "%.0f")).append(" MiB, live after full GC ")
              .append(fmt(median(values(os, t, Outcome::heapLiveMiB)), "%.0f")).append(" MiB");
        }
        b.append(", p99 ").append(fmt(median(values(os, t, o -> o.r().p99Millis())), "%.1f")).append(" ms\n");
      }
    }
    long failures = os.stream().filter(o -> o.failure() != null).count();
    if (failures > 0) {
      b.append("- ").append(failures).append(" run(s) failed; see ").append(sc.name()).append(".md\n");
    }
    return b.toString();
  }

  /** Per-round ratio a/b (same round, so the same machine weather), as median (min-max). */
  static String ratio(List<Outcome> os, String a, String b, ToDoubleFunction<Outcome> f) {
    List<Double> rs = new ArrayList<>();
    for (Outcome x : os) {
      if (!x.target().equals(a) || x.r() == null) {
        continue;
      }
      os.stream().filter(y -> y.target().equals(b) && y.round() == x.round() && y.r() != null).findFirst()
          .filter(y -> f.applyAsDouble(y) > 0)
          .ifPresent(y -> rs.add(f.applyAsDouble(x) / f.applyAsDouble(y)));
    }
    double[] v = rs.stream().mapToDouble(Double::doubleValue).toArray();
    return v.length == 0 ? "n/a (" + b + " had no 2xx in the window)" : spread(v, "%.2f") + "x";
  }

  /** 8+8+8; ? for a node that did not answer. */
  static String joined(List<Integer> perNode) {
    return String.join("+", perNode.stream().map(v -> v < 0 ? "?" : String.valueOf(v)).toList());
  }

  static Set<String> targets(List<Outcome> os) {
    Set<String> ts = new LinkedHashSet<>();
    os.forEach(o -> ts.add(o.target()));
    return ts;
  }

  static double[] values(List<Outcome> os, String target, ToDoubleFunction<Outcome> f) {
    return os.stream().filter(o -> o.target().equals(target) && o.r() != null).mapToDouble(f).toArray();
  }

  static double median(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  static double max(double[] v) {
    return Arrays.stream(v).max().orElse(Double.NaN);
  }

  static String spread(double[] v, String format) {
    if (v.length == 0) {
      return "n/a";
    }
    if (v.length == 1) {
      return fmt(v[0], format);
    }
    return fmt(median(v), format) + " (" + fmt(Arrays.stream(v).min().getAsDouble(), format) + "-"
        + fmt(Arrays.stream(v).max().getAsDouble(), format) + ")";
  }

  static String fmt(double v, String format) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, format, v);
  }

  private static String q(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
