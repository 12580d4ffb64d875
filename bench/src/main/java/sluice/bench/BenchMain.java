package sluice.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs every scenario against every target, interleaved: each round runs each target of a
 * scenario once, the order rotated by one per round; each target's run gets fresh back-ends and a
 * fresh proxy. Writes a markdown table, a JSON file and PNG plots per scenario, and a summary of
 * the headline ratios, under the results directory; prints the tables.
 */
public final class BenchMain {

  /** A parameter change of one back-end, {@code atSecond} seconds after the run's start. */
  record Shift(int atSecond, int backend, String query) {}

  record Scenario(String name, String title, List<Backends.Spec> backends, int connections,
      int active, double rate, List<Target> targets, Duration warmup, Duration measure,
      List<Shift> shifts, boolean memory) {}

  /** One target's run in one round. */
  record Outcome(String target, int round, LoadDriver.Result r, double proxyCpuCores,
      double backendCpuCores, double proxyRssMaxMiB, int backendMaxInFlight, double heapUsedMiB,
      double heapLiveMiB, String failure) {}

  static final Backends.Spec FAST = new Backends.Spec("0", 0, 0);
  /** Best N = sqrt(0.96 / 0.0024) = 20; peak about 3,740 req/s. */
  static final Backends.Spec THRASH = new Backends.Spec("2ms", 0.04, 0.0024);
  static final Backends.Spec THRASH_SLOW = new Backends.Spec("6ms", 0.04, 0.0024);

  private final boolean quick;
  private final int rounds;
  private final Duration warmup;
  private final Duration measure;
  private final int[] sweep;
  private final double openRate;
  private final Target.Env env;
  private final Path dir;
  private final Set<String> only;
  private final StringBuilder summary = new StringBuilder();
  private final Map<String, List<Outcome>> results = new LinkedHashMap<>();

  private BenchMain(Map<String, String> opts) throws IOException {
    quick = opts.containsKey("quick");
    rounds = Integer.parseInt(opts.getOrDefault("rounds", quick ? "1" : "3"));
    warmup = Duration.ofSeconds(Long.parseLong(opts.getOrDefault("warmup", quick ? "3" : "5")));
    measure = Duration.ofSeconds(Long.parseLong(opts.getOrDefault("measure", quick ? "4" : "15")));
    sweep = Arrays.stream(opts.getOrDefault("sweep", quick ? "8,16,32" : "4,8,16,32,64").split(","))
        .mapToInt(Integer::parseInt).toArray();
    openRate = Double.parseDouble(opts.getOrDefault("open-rate", "2000"));
    only = opts.containsKey("only") ? Set.of(opts.get("only").split(",")) : Set.of();
    String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd_HHmm"));
    dir = Files.createDirectories(Path.of(opts.getOrDefault("out", "bench/results/" + stamp)));
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    env = new Target.Env(new Children(dir), javaBin, opts.getOrDefault("sluice-jar", "node/target/sluice.jar"),
        opts.getOrDefault("haproxy", "haproxy"), dir);
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i].replaceFirst("^--", "");
      if (a.equals("quick")) {
        opts.put("quick", "true");
      } else if (i + 1 < args.length) {
        opts.put(a, args[++i]);
      } else {
        throw new IllegalArgumentException("option " + args[i] + " needs a value");
      }
    }
    BenchMain bench = new BenchMain(opts);
    try {
      bench.runAll();
    } finally {
      bench.env.children().close();
    }
  }

  private void runAll() throws Exception {
    long started = System.nanoTime();
    String machine = machine();
    System.out.println("results in " + dir + "\n" + machine);
    summary.append("# Sluice bench, ").append(quick ? "--quick" : "full").append(" run\n\n")
        .append(machine).append('\n');
    List<Target> thrashTargets = new ArrayList<>(List.of(new Target.Direct(), new Target.HAProxy(0)));
    for (int m : sweep) {
      thrashTargets.add(new Target.HAProxy(m));
    }
    thrashTargets.add(Target.Sluice.fixed(20));
    thrashTargets.add(Target.Sluice.auto());
    List<Target> overheadTargets = List.of(new Target.Direct(), new Target.HAProxy(0),
        Target.Sluice.fixed(64), Target.Sluice.auto());

    run(new Scenario("overhead", "Overhead: fast back-end (S0=0), 64 connections, closed loop",
        List.of(FAST), 64, 64, 0, overheadTargets, warmup, measure, List.of(), false));
    run(new Scenario("overhead-open", "Overhead: fast back-end (S0=0), 64 connections, open loop at "
        + (long) openRate + " req/s", List.of(FAST), 64, 64, openRate, overheadTargets, warmup, measure,
        List.of(), false));
    for (int n : new int[] {512, 2048}) {
      run(new Scenario("thrash-" + n, "Thrash: one back-end with best N = 20 (S0=2ms, alpha=0.04, "
          + "beta=0.0024), " + n + " connections, closed loop", List.of(THRASH), n, n, 0, thrashTargets,
          warmup, measure, List.of(), false));
    }
    run(new Scenario("three-backends", "Three back-ends (best N = 20 each), the third 3x slower "
        + "(S0=6ms), 512 connections, closed loop", List.of(THRASH, THRASH, THRASH_SLOW), 512, 512, 0,
        thrashTargets, warmup, measure, List.of(), false));
    runShift();
    runManyConnections();

    Files.writeString(dir.resolve("summary.md"), summary.toString());
    System.out.println("\n" + summary);
    System.out.printf(Locale.ROOT, "bench took %.1f min; results in %s%n",
        (System.nanoTime() - started) / 60e9, dir);
  }

  private void runShift() throws IOException {
    long phase = quick ? 4 : 10;
    int w = (int) warmup.toSeconds();
    List<Target> targets = List.of(new Target.Direct(), new Target.HAProxy(10), new Target.HAProxy(20),
        new Target.HAProxy(40), Target.Sluice.fixed(20), Target.Sluice.auto());
    // phase 1: best N 20 (~3,740 req/s); phase 2: beta/4 -> best N 40 (~5,700 req/s);
    // phase 3: beta*4 -> best N 10 (~2,250 req/s)
    List<Shift> shifts = List.of(new Shift(w + (int) phase, 0, "beta=0.0006"),
        new Shift(w + 2 * (int) phase, 0, "beta=0.0096"));
    run(new Scenario("shift", "Shift: one back-end, 512 connections; best N 20, then 40 (beta/4) at "
        + (w + phase) + " s, then 10 (beta*4) at " + (w + 2 * phase) + " s", List.of(THRASH), 512, 512, 0,
        targets, warmup, Duration.ofSeconds(3 * phase), shifts, false));
  }

  private void runManyConnections() throws IOException {
    int best = bestHaproxy("thrash-512").map(s -> Integer.parseInt(s.replace("haproxy-maxconn-", "")))
        .orElse(16);
    run(new Scenario("many-connections", "Many connections: 10,000 client connections open, 1,000 "
        + "active (closed loop), one back-end with best N = 20", List.of(THRASH), 10_000, 1_000, 0,
        List.of(new Target.HAProxy(best), Target.Sluice.fixed(20), Target.Sluice.auto()), warmup,
        measure, List.of(), true));
  }

  // ---------------------------------------------------------------------------------------------

  private void run(Scenario sc) throws IOException {
    if (!only.isEmpty() && !only.contains(sc.name())) {
      return;
    }
    System.out.println("\n== " + sc.name() + ": " + sc.title());
    List<Outcome> outcomes = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      List<Target> order = new ArrayList<>(sc.targets());
      java.util.Collections.rotate(order, -round);
      for (Target t : order) {
        Outcome o = runOne(sc, t, round);
        outcomes.add(o);
        System.out.println("  " + line(o));
      }
    }
    results.put(sc.name(), outcomes);
    Report.write(dir, sc, outcomes, rounds);
    String table = Files.readString(dir.resolve(sc.name() + ".md"));
    System.out.println();
    System.out.println(table);
    summary.append(Report.headline(sc, outcomes, this::bestHaproxyOf));
  }

  private Outcome runOne(Scenario sc, Target t, int round) {
    LoadDriver.Config cfg;
    Target.Running running = null;
    try (Backends backends = new Backends(env.children(), env.javaBin(), env.sluiceJar(), sc.backends())) {
      try {
        running = t.start(env, backends.addresses());
        cfg = new LoadDriver.Config(running.entry(), sc.connections(), sc.active(), sc.rate(), sc.warmup(),
            sc.measure(), 2);
        Probe probe = new Probe(sc, backends, running.proxy());
        LoadDriver.Result r = new LoadDriver(cfg).run(probe);
        String failure = null;
        if (running.proxy() != null && !running.proxy().isAlive()) {
          failure = t.name() + " exited with " + running.proxy().exitValue() + " during the run";
        }
        return new Outcome(t.name(), round, r, probe.proxyCpu, probe.backendCpu, probe.rssMax,
            backends.maxInFlight(), probe.heapUsed, probe.heapLive, failure);
      } finally {
        if (running != null) {
          env.children().stop(running.proxy());
        }
      }
    } catch (Exception e) {
      return new Outcome(t.name(), round, null, 0, 0, 0, 0, 0, 0, String.valueOf(e));
    }
  }

  /** Samples CPU of the proxy and back-ends over the window, RSS each second, shifts, heap. */
  private final class Probe implements LoadDriver.Observer {
    final Scenario sc;
    final Backends backends;
    final Process proxy;
    double proxyCpu;
    double backendCpu;
    double rssMax = -1;
    double heapUsed = -1;
    double heapLive = -1;
    long t0;

    Probe(Scenario sc, Backends backends, Process proxy) {
      this.sc = sc;
      this.backends = backends;
      this.proxy = proxy;
    }

    @Override
    public void measureStart() {
      t0 = System.nanoTime();
      proxyCpu = proxy == null ? 0 : Children.cpuSeconds(proxy.pid());
      backendCpu = backends.pids().stream().mapToDouble(Children::cpuSeconds).sum();
    }

    @Override
    public void second(int s) {
      for (Shift shift : sc.shifts()) {
        if (shift.atSecond() == s) {
          backends.setParams(shift.backend(), shift.query());
        }
      }
      if (proxy != null && t0 != 0) {
        rssMax = Math.max(rssMax, Children.rssMiB(proxy.pid()));
      }
    }

    @Override
    public void measureEnd() {
      double secs = (System.nanoTime() - t0) / 1e9;
      proxyCpu = proxy == null ? 0 : (Children.cpuSeconds(proxy.pid()) - proxyCpu) / secs;
      backendCpu = (backends.pids().stream().mapToDouble(Children::cpuSeconds).sum() - backendCpu) / secs;
      if (proxy != null) {
        rssMax = Math.max(rssMax, Children.rssMiB(proxy.pid()));
      }
      if (sc.memory() && proxy != null && proxy.info().command().orElse("").endsWith("java")) {
        heapUsed = heapUsedMiB(proxy.pid(), false);
        heapLive = heapUsedMiB(proxy.pid(), true);
      }
    }
  }

  private static final Pattern HEAP_USED = Pattern.compile("total \\d+K, used (\\d+)K");

  /** Heap in use as {@code jcmd GC.heap_info} reports it; after a full GC if {@code live}. */
  private static double heapUsedMiB(long pid, boolean live) {
    try {
      if (live) {
        jcmd(pid, "GC.run");
      }
      Matcher m = HEAP_USED.matcher(jcmd(pid, "GC.heap_info"));
      return m.find() ? Long.parseLong(m.group(1)) / 1024.0 : -1;
    } catch (IOException | InterruptedException e) {
      return -1;
    }
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }

  private static String line(Outcome o) {
    if (o.r() == null) {
      return String.format(Locale.ROOT, "round %d %-20s FAILED: %s", o.round() + 1, o.target(), o.failure());
    }
    LoadDriver.Result r = o.r();
    return String.format(Locale.ROOT,
        "round %d %-20s goodput %8.0f/s  errors %6.1f/s  p50 %8.2f ms  p99 %9.2f ms  backend max in flight %5d"
            + "  cpu: driver %.2f proxy %.2f backend %.2f%s%s",
        o.round() + 1, o.target(), r.goodput(), r.errorsPerSecond(), r.p50Millis(), r.p99Millis(),
        o.backendMaxInFlight(), r.driverCpuCores(), o.proxyCpuCores(), o.backendCpuCores(),
        r.errorKinds().isEmpty() ? "" : "  " + r.errorKinds(),
        o.failure() == null ? "" : "  FAILURE: " + o.failure());
  }

  private java.util.Optional<String> bestHaproxy(String scenario) {
    List<Outcome> os = results.get(scenario);
    return os == null ? java.util.Optional.empty() : bestHaproxyOf(os);
  }

  /** The haproxy-maxconn-M target with the highest median goodput. */
  java.util.Optional<String> bestHaproxyOf(List<Outcome> os) {
    Set<String> names = new LinkedHashSet<>();
    os.stream().map(Outcome::target).filter(n -> n.startsWith("haproxy-maxconn-")).forEach(names::add);
    return names.stream().max(Comparator.comparingDouble(
        n -> Report.median(Report.values(os, n, r -> r.r().goodput()))));
  }

  private String machine() {
    String cpu = "unknown";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
    } catch (IOException ignored) {
      // unknown
    }
    String haproxy = "unknown";
    try {
      Process p = new ProcessBuilder(env.haproxyBin(), "-v").redirectErrorStream(true).start();
      haproxy = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().findFirst()
          .orElse(haproxy);
      p.waitFor();
    } catch (IOException | InterruptedException ignored) {
      // unknown
    }
    return String.format(Locale.ROOT,
        "- date: %s%n- machine: %d cores (nproc), CPU %s; driver, back-ends and proxy share these cores%n"
            + "- Java %s; %s%n- rounds %d, warm-up %d s, counted window %d s per target per round; "
            + "maxconn sweep %s%n",
        LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME).substring(0, 16),
        Runtime.getRuntime().availableProcessors(), cpu, System.getProperty("java.version"), haproxy, rounds,
        warmup.toSeconds(), measure.toSeconds(), Arrays.toString(sweep));
  }

  static double[] doubles(List<Outcome> os, String target, ToDoubleFunction<Outcome> f) {
    return Report.values(os, target, f);
  }
}
