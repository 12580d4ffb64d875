package sluice.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The l4 set's large transfer: one client reads {@code bytes} from a {@link StreamSource} straight
 * (direct) or through a proxy, every target once per round, the order rotated by one per round,
 * each run with a fresh source and a fresh proxy. A warm-up transfer (a quarter of the bytes, at
 * most 256 MiB, not counted) goes first through the same proxy, so Sluice's JIT has seen the relay.
 * Writes {@code l4-transfer.md} and {@code l4-transfer.json}; returns the summary's section.
 */
final class TransferBench {

  /** One target's run in one round; {@code r} null if the run could not start. */
  record Run(String target, int round, Transfer.Result warm, Transfer.Result r, double proxyCpuCores,
      double sourceCpuCores, String failure) {
    boolean ok() {
      return r != null && r.failure() == null;
    }
  }

  static final String NAME = "l4-transfer";
  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  private TransferBench() {}

  static String run(Target.Env env, List<Target> targets, int rounds, long bytes) throws IOException {
    long warmBytes = Math.min(bytes / 4, 256L << 20);
    String title = String.format(Locale.ROOT, "Large transfer: one client reads %,d bytes (%.2f GiB) from one"
        + " back-end that streams them, through the target; MB/s = 10^6 bytes per second, from the connect() call"
        + " to the end of the stream; CRC-32 checked", bytes, bytes / (double) (1L << 30));
    System.out.println("\n== " + NAME + ": " + title);
    long crc = StreamSource.expectedCrc(bytes);
    long warmCrc = StreamSource.expectedCrc(warmBytes);
    List<Run> runs = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      List<Target> order = new ArrayList<>(targets);
      Collections.rotate(order, -round);
      for (Target t : order) {
        Run r = runOne(env, t, round, bytes, crc, warmBytes, warmCrc);
        runs.add(r);
        System.out.println("  " + line(r));
      }
    }
    String table = table(title, targets, runs, rounds);
    Files.writeString(env.dir().resolve(NAME + ".md"), table);
    Files.writeString(env.dir().resolve(NAME + ".json"), json(title, bytes, runs));
    System.out.println();
    System.out.println(table);
    return "\n## " + NAME + "\n\n" + title + "\n\n" + figures(targets, runs);
  }

  private static Run runOne(Target.Env env, Target t, int round, long bytes, long crc, long warmBytes, long warmCrc) {
    int port = Children.freePort();
    Process source = env.children().start("stream-source", List.of(env.javaBin(), "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), StreamSource.class.getName(), "--port", String.valueOf(port)));
    Target.Running running = null;
    try {
      Children.awaitPort(source, "stream-source", port, Duration.ofSeconds(20));
      running = t.start(env, List.of(new InetSocketAddress("127.0.0.1", port)));
      InetSocketAddress entry = running.entry().get(0);
      Transfer.Result warm = Transfer.run(entry, warmBytes, warmCrc, TIMEOUT);
      List<Process> proxies = running.proxies();
      double proxy0 = cpu(proxies);
      double source0 = Children.cpuSeconds(source.pid());
      Transfer.Result r = Transfer.run(entry, bytes, crc, TIMEOUT);
      double proxyCpu = proxies.isEmpty() ? 0 : (cpu(proxies) - proxy0) / r.seconds();
      double sourceCpu = (Children.cpuSeconds(source.pid()) - source0) / r.seconds();
      return new Run(t.name(), round, warm, r, proxyCpu, sourceCpu, r.failure());
    } catch (RuntimeException e) {
      return new Run(t.name(), round, null, null, Double.NaN, Double.NaN, String.valueOf(e));
    } finally {
      if (running != null) {
        env.children().stopAll(running.proxies());
      }
      env.children().stop(source);
    }
  }

  private static double cpu(List<Process> ps) {
    double sum = 0;
    for (Process p : ps) {
      sum += Children.cpuSeconds(p.pid());
    }
    return sum;
  }

  private static String line(Run r) {
    if (r.r() == null) {
      return String.format(Locale.ROOT, "round %d %-22s FAILED: %s", r.round() + 1, r.target(), r.failure());
    }
    return String.format(Locale.ROOT, "round %d %-22s %8.0f MB/s  %6.2f s  intact %s  warm-up %.0f MB/s  cpu: proxy"
            + " %.2f source %.2f client %.2f%s", r.round() + 1, r.target(), r.r().megabytesPerSecond(), r.r().seconds(),
        r.r().crcOk(), r.warm().megabytesPerSecond(), r.proxyCpuCores(), r.sourceCpuCores(),
        r.r().clientCpuSeconds() / r.r().seconds(), r.failure() == null ? "" : "  FAILURE: " + r.failure());
  }

  private static double[] values(List<Run> runs, String target, ToDoubleFunction<Run> f) {
    return runs.stream().filter(r -> r.target().equals(target) && r.ok()).mapToDouble(f).toArray();
  }

  private static String table(String title, List<Target> targets, List<Run> runs, int rounds) {
    StringBuilder b = new StringBuilder("### ").append(title).append("\n\nMedians of ").append(rounds)
        .append(" round(s), (min-max) over rounds.\n\n")
        .append("| target | MB/s | seconds | intact (rounds) | CPU cores during the transfer: proxy / source / client |\n")
        .append("|---|---:|---:|---:|---:|\n");
    for (Target t : targets) {
      String n = t.name();
      long intact = runs.stream().filter(r -> r.target().equals(n) && r.ok()).count();
      long all = runs.stream().filter(r -> r.target().equals(n)).count();
      b.append("| ").append(n).append(" | ").append(Report.spread(values(runs, n, r -> r.r().megabytesPerSecond()), "%.0f"))
          .append(" | ").append(Report.spread(values(runs, n, r -> r.r().seconds()), "%.2f"))
          .append(" | ").append(intact).append(" of ").append(all)
          .append(" | ").append(Report.fmt(Report.median(values(runs, n, Run::proxyCpuCores)), "%.2f"))
          .append(" / ").append(Report.fmt(Report.median(values(runs, n, Run::sourceCpuCores)), "%.2f"))
          .append(" / ").append(Report.fmt(Report.median(values(runs, n, r -> r.r().clientCpuSeconds() / r.r().seconds())),
              "%.2f"))
          .append(" |\n");
    }
    b.append('\n');
    runs.stream().filter(r -> !r.ok()).forEach(r -> b.append("- round ").append(r.round() + 1).append(' ')
        .append(r.target()).append(": FAILURE ").append(r.failure()).append('\n'));
    b.append("\nFigures (per round, then median (min-max) over rounds):\n\n").append(figures(targets, runs)).append('\n');
    return b.toString();
  }

  /** MB/s of each target, and every proxy's over each other target of the same round. */
  private static String figures(List<Target> targets, List<Run> runs) {
    StringBuilder b = new StringBuilder();
    for (Target t : targets) {
      b.append("- ").append(t.name()).append(": ")
          .append(Report.spread(values(runs, t.name(), r -> r.r().megabytesPerSecond()), "%.0f")).append(" MB/s\n");
    }
    for (Target a : targets) {
      for (Target o : targets) {
        if (a == o || a instanceof Target.Direct || (a instanceof Target.HAProxy && o instanceof Target.SluiceTcp)) {
          continue;
        }
        List<Double> v = new ArrayList<>();
        for (Run x : runs) {
          if (x.target().equals(a.name()) && x.ok()) {
            runs.stream().filter(y -> y.target().equals(o.name()) && y.round() == x.round() && y.ok()).findFirst()
                .ifPresent(y -> v.add(x.r().megabytesPerSecond() / y.r().megabytesPerSecond()));
          }
        }
        b.append("- ").append(a.name()).append(" MB/s / ").append(o.name()).append(" MB/s: ")
            .append(v.isEmpty() ? "n/a (a run failed)" : Report.spread(v.stream().mapToDouble(Double::doubleValue)
                .toArray(), "%.2f") + "x").append('\n');
      }
    }
    return b.toString();
  }

  private static String json(String title, long bytes, List<Run> runs) {
    StringBuilder b = new StringBuilder("{\n  \"scenario\": \"").append(NAME).append("\",\n  \"title\": \"")
        .append(title.replace("\"", "'")).append("\",\n  \"bytes\": ").append(bytes).append(",\n  \"runs\": [\n");
    for (int i = 0; i < runs.size(); i++) {
      Run r = runs.get(i);
      b.append("    {\"target\": \"").append(r.target()).append("\", \"round\": ").append(r.round() + 1);
      if (r.r() != null) {
        b.append(String.format(Locale.ROOT, ", \"megabytesPerSecond\": %.1f, \"seconds\": %.3f, \"bytesRead\": %d,"
                + " \"intact\": %b, \"warmupMegabytesPerSecond\": %.1f, \"proxyCpuCores\": %.3f, \"sourceCpuCores\": %.3f,"
                + " \"clientCpuCores\": %.3f", r.r().megabytesPerSecond(), r.r().seconds(), r.r().bytes(), r.r().crcOk(),
            r.warm().megabytesPerSecond(), r.proxyCpuCores(), r.sourceCpuCores(), r.r().clientCpuSeconds() / r.r().seconds()));
      }
      b.append(", \"failure\": ").append(r.failure() == null ? "null" : "\"" + r.failure().replace("\"", "'") + "\"")
          .append(i == runs.size() - 1 ? "}\n" : "},\n");
    }
    return b.append("  ]\n}\n").toString().replace("NaN", "null");
  }
}
