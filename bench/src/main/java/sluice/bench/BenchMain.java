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
 * Runs every scenario of a set against every target, interleaved: each round runs each target of
 * a scenario once, the order rotated by one per round; each target's run gets fresh back-ends and
 * a fresh proxy. Writes a markdown table, a JSON file and PNG plots per scenario, and a summary of
 * the headline ratios, under the results directory; prints the tables.
 *
 * <p>Three sets: {@code default} (the scenarios of the first bench), {@code dataplane} (the five
 * figures the Netty data plane is judged by, each as a ratio against HAProxy of the same round) and
 * {@code cluster} (three Sluice nodes holding one back-end's limit together, against one node and
 * against one and three HAProxy instances).
 */
public final class BenchMain {

  /** A parameter change of one back-end, {@code atSecond} seconds after the run's start. */
  record Shift(int atSecond, int backend, String query) {}

  /**
   * One row of a scenario: a target under the scenario's load plus {@code idle} connections that
   * are opened beside the scenario's ones and send nothing.
   */
  record Arm(String name, Target target, int idle) {
    static Arm of(Target t) {
      return new Arm(t.name(), t, 0);
    }

    static Arm withIdle(Target t, int idle) {
      return new Arm(t.name() + " +" + idle + " idle", t, idle);
    }
  }

  /**
   * A headline figure: one value per round, computed from that round's outcomes by arm name (NaN if
   * it cannot be), reported as median (min-max) over rounds; {@code na} says why when no round gave
   * a value.
   */
  record Figure(String label, String format, String unit, String goal,
      ToDoubleFunction<Map<String, Outcome>> perRound, String na) {
    Figure(String label, String format, String unit, String goal, ToDoubleFunction<Map<String, Outcome>> perRound) {
      this(label, format, unit, goal, perRound, "a run failed or had no 2xx");
    }
  }

  /**
   * {@code burst}: the driver opens all connections at once ({@link LoadDriver.Config#burst}), after
   * a pre-warm of the proxy; {@code figures}: the headline figures (empty: the default set's ratios).
   */
  record Scenario(String name, String title, List<Backends.Spec> backends, int connections,
      int active, double rate, List<Arm> arms, Duration warmup, Duration measure,
      List<Shift> shifts, boolean memory, boolean burst, List<Figure> figures, boolean shortConnections) {

    Scenario(String name, String title, List<Backends.Spec> backends, int connections, int active,
        double rate, List<Arm> arms, Duration warmup, Duration measure, List<Shift> shifts,
        boolean memory, boolean burst, List<Figure> figures) {
      this(name, title, backends, connections, active, rate, arms, warmup, measure, shifts, memory, burst,
          figures, false);
    }

    Scenario withFigures(List<Figure> fs) {
      return new Scenario(name, title, backends, connections, active, rate, arms, warmup, measure, shifts,
          memory, burst, fs, shortConnections);
    }

    Scenario(String name, String title, List<Backends.Spec> backends, int connections, int active,
        double rate, List<Target> targets, Duration warmup, Duration measure, List<Shift> shifts,
        boolean memory) {
      this(name, title, backends, connections, active, rate, targets.stream().map(Arm::of).toList(),
          warmup, measure, shifts, memory, false, List.of());
    }
  }

  /**
   * One arm's run in one round. The proxy figures are of all the target's proxy processes together
   * (several for a cluster or several HAProxy instances): CPU and fds summed, RSS the peak of the sum.
   * {@code proxyCpuMicrosPerRequest}: the proxy's CPU seconds over the counted window / the 2xx
   * responses of the window, in microseconds (NaN without a proxy or 2xx); {@code proxyFdsAtEnd}:
   * the proxy's open file descriptors at the end of the window (-1: none); {@code listenOverflows},
   * {@code synRetransmits}: the kernel's TcpExt counters ListenOverflows and TCPSynRetrans over the
   * driver's run (system-wide: another job's connects count too). {@code proxyProcesses}: how many;
   * {@code startSeconds}: from starting the target to its being ready (HTTP ports accept; for a
   * Sluice cluster every node's /ready answers 200). {@code grantedAtEnd}, {@code limitAtEnd}: per
   * Sluice node of a cluster target, one {@code /status} answer at the end of the window: the slots it holds
   * and the limit it knows, summed over the pool's back-ends (-1: no answer; empty for other targets).
   */
  record Outcome(String target, int round, LoadDriver.Result r, double proxyCpuCores,
      double proxyCpuMicrosPerRequest, double backendCpuCores, double proxyRssMaxMiB,
      int proxyFdsAtEnd, int backendMaxInFlight, double heapUsedMiB, double heapLiveMiB,
      long listenOverflows, long synRetransmits, String failure, int proxyProcesses, double startSeconds,
      List<Integer> grantedAtEnd, List<Integer> limitAtEnd) {}

  static final Backends.Spec FAST = new Backends.Spec("0", 0, 0);
  /** Best N = sqrt(0.96 / 0.0024) = 20; peak about 3,740 req/s. */
  static final Backends.Spec THRASH = new Backends.Spec("2ms", 0.04, 0.0024);
  static final Backends.Spec THRASH_SLOW = new Backends.Spec("6ms", 0.04, 0.0024);

  /** Idle connections of the dataplane set's idle-connections scenario. */
  static final int IDLE = 10_000;
  /** The burst's steady-state window starts at least this long after the connects. */
  static final Duration BURST_MIN_WARMUP = Duration.ofSeconds(5);
  /** Connections of the pre-warm before a burst: the limit, so nothing queues in the proxy. */
  static final int PREWARM_CONNECTIONS = 24;

  private final boolean quick;
  /** "--quick", "full" (the defaults) or "custom" (rounds, warm-up or window given). */
  private final String runKind;
  private final String set;
  private final int haproxyThreads;
  private final List<String> sluiceJavaOpts;
  private final int rounds;
  private final Duration warmup;
  private final Duration measure;
  private final int[] sweep;
  /** The l4 set: HAProxy mode tcp maxconn values, and Sluice L4 fixed at each of them. */
  private final int[] l4Sweep;
  /** The l4 set: bytes of the counted large transfer. */
  private final long transferBytes;
  /** The l4 set: Sluice L4 fixed limits run (default: those of the sweep; 24 is always run). */
  private final int[] l4SluiceLimits;
  private final double openRate;
  private final Target.Env env;
  private final Path dir;
  private final Set<String> only;
  private final StringBuilder summary = new StringBuilder();
  private final Map<String, List<Outcome>> results = new LinkedHashMap<>();

  private BenchMain(Map<String, String> opts) throws IOException {
    quick = opts.containsKey("quick");
    runKind = quick ? "--quick" : opts.containsKey("rounds") || opts.containsKey("warmup")
        || opts.containsKey("measure") ? "custom" : "full";
    rounds = Integer.parseInt(opts.getOrDefault("rounds", quick ? "1" : "3"));
    warmup = Duration.ofSeconds(Long.parseLong(opts.getOrDefault("warmup", quick ? "3" : "5")));
    measure = Duration.ofSeconds(Long.parseLong(opts.getOrDefault("measure", quick ? "4" : "15")));
    sweep = Arrays.stream(opts.getOrDefault("sweep", quick ? "8,16,32" : "4,8,16,32,64").split(","))
        .mapToInt(Integer::parseInt).toArray();
    openRate = Double.parseDouble(opts.getOrDefault("open-rate", "2000"));
    only = opts.containsKey("only") ? Set.of(opts.get("only").split(",")) : Set.of();
    set = opts.getOrDefault("set", "default");
    if (!List.of("default", "dataplane", "cluster", "l4").contains(set)) {
      throw new IllegalArgumentException("--set must be default, dataplane, cluster or l4, not " + set);
    }
    l4Sweep = Arrays.stream(opts.getOrDefault("l4-sweep", "8,16,24,32,48").split(","))
        .mapToInt(Integer::parseInt).toArray();
    l4SluiceLimits = opts.containsKey("l4-sluice") ? Arrays.stream(opts.get("l4-sluice").split(","))
        .mapToInt(Integer::parseInt).toArray() : l4Sweep;
    transferBytes = Long.parseLong(opts.getOrDefault("transfer-bytes", String.valueOf(1L << 30)));
    if (transferBytes < 1 || transferBytes > StreamSource.MAX_BYTES) {
      throw new IllegalArgumentException("--transfer-bytes must be in [1, " + StreamSource.MAX_BYTES + "], not "
          + transferBytes);
    }
    haproxyThreads = Integer.parseInt(opts.getOrDefault("haproxy-threads", "1"));
    if (haproxyThreads < 1) {
      throw new IllegalArgumentException("--haproxy-threads must be >= 1, not " + haproxyThreads);
    }
    String javaOpts = System.getenv("SLUICE_JAVA_OPTS");
    sluiceJavaOpts = javaOpts == null || javaOpts.isBlank() ? List.of() : List.of(javaOpts.trim().split("\\s+"));
    String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd_HHmm"));
    dir = Files.createDirectories(Path.of(opts.getOrDefault("out", "bench/results/" + stamp)));
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    env = new Target.Env(new Children(dir), javaBin, opts.getOrDefault("sluice-jar", "node/target/sluice.jar"),
        opts.getOrDefault("haproxy", "haproxy"), dir, sluiceJavaOpts);
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
    String jvm = sluiceJvm();
    System.out.println(jvm);
    Files.createDirectories(dir.resolve("configs"));
    Files.writeString(dir.resolve("configs").resolve("sluice-java-opts.txt"), jvm);
    summary.append("# Sluice bench, ").append(set).append(" set, ").append(runKind).append(" run\n\n").append(machine).append(jvm).append('\n');
    switch (set) {
      case "dataplane" -> runDataplane();
      case "cluster" -> runCluster();
      case "l4" -> runL4();
      default -> runDefault();
    }
    Files.writeString(dir.resolve("summary.md"), summary.toString());
    System.out.println("\n" + summary);
    System.out.printf(Locale.ROOT, "bench took %.1f min; results in %s%n",
        (System.nanoTime() - started) / 60e9, dir);
  }

  private void runDefault() throws IOException {
    List<Target> thrashTargets = new ArrayList<>(List.of(new Target.Direct(), Target.HAProxy.of(0, haproxyThreads)));
    for (int m : sweep) {
      thrashTargets.add(Target.HAProxy.of(m, haproxyThreads));
    }
    thrashTargets.add(Target.Sluice.fixed(20));
    thrashTargets.add(Target.Sluice.auto());
    List<Target> overheadTargets = List.of(new Target.Direct(), Target.HAProxy.of(0, haproxyThreads),
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
  }

  private void runShift() throws IOException {
    long phase = quick ? 4 : 10;
    int w = (int) warmup.toSeconds();
    List<Target> targets = List.of(new Target.Direct(), Target.HAProxy.of(10, haproxyThreads),
        Target.HAProxy.of(20, haproxyThreads), Target.HAProxy.of(40, haproxyThreads), Target.Sluice.fixed(20),
        Target.Sluice.auto());
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
        List.of(Target.HAProxy.of(best, haproxyThreads), Target.Sluice.fixed(20), Target.Sluice.auto()), warmup,
        measure, List.of(), true));
  }

  // --- the dataplane set ------------------------------------------------------------------------

  /**
   * The five figures of the data-plane issue, each against HAProxy of the same round: overhead,
   * thrash, three back-ends, idle connections, accept burst.
   */
  private void runDataplane() throws IOException {
    Target sluice64 = Target.Sluice.fixed(64);
    Target sluice24 = Target.Sluice.fixed(24);
    Target haproxy24 = Target.HAProxy.of(24, haproxyThreads);
    Target.HAProxy haproxy1t = new Target.HAProxy("haproxy-1t", 0, 1);
    Target.HAProxy haproxy2t = new Target.HAProxy("haproxy-2t", 0, 2);
    String s64 = sluice64.name();
    String s24 = sluice24.name();
    String h24 = haproxy24.name();

    List<Figure> overhead = new ArrayList<>();
    for (String h : List.of(haproxy1t.name(), haproxy2t.name())) {
      overhead.add(ratio(s64 + " req/s / " + h + " req/s", s64, h, BenchMain::goodput,
          h.equals(haproxy1t.name()) ? ">= 0.8" : ""));
      overhead.add(ratio(s64 + " p99 / " + h + " p99", s64, h, o -> o.r().p99Millis(),
          h.equals(haproxy1t.name()) ? "<= 1.5" : ""));
    }
    overhead.addAll(cpuPerRequest(s64, List.of(haproxy1t.name(), haproxy2t.name()), ""));
    run(new Scenario("dp-overhead", "Overhead: instant back-end (S0=0), 64 connections, closed loop",
        List.of(FAST), 64, 64, 0, arms(new Target.Direct(), haproxy1t, haproxy2t, sluice64), warmup, measure,
        List.of(), false, false, overhead));

    List<Figure> thrash = new ArrayList<>();
    thrash.add(ratio(s24 + " goodput / " + h24 + " goodput", s24, h24, BenchMain::goodput, ">= 0.98"));
    thrash.addAll(cpuPerRequest(s24, List.of(h24), "<= 2"));
    run(new Scenario("dp-thrash", "Thrash: one back-end with best N = 20 (S0=2ms, alpha=0.04, beta=0.0024), "
        + "512 connections, closed loop", List.of(THRASH), 512, 512, 0,
        arms(new Target.Direct(), haproxy24, sluice24), warmup, measure, List.of(), false, false, thrash));

    List<Figure> three = new ArrayList<>();
    three.add(ratio(s24 + " goodput / " + h24 + " goodput", s24, h24, BenchMain::goodput, ">= 0.95"));
    three.addAll(cpuPerRequest(s24, List.of(h24), ""));
    run(new Scenario("dp-three-backends", "Three back-ends (best N = 20 each), the third 3x slower (S0=6ms), "
        + "512 connections, closed loop; limits per back-end", List.of(THRASH, THRASH, THRASH_SLOW), 512, 512, 0,
        arms(haproxy24, sluice24), warmup, measure, List.of(), false, false, three));

    runIdle(sluice24, haproxy24);
    runBurst(sluice24, haproxy24);
  }

  private void runIdle(Target sluice24, Target haproxy24) throws IOException {
    List<Arm> arms = List.of(Arm.withIdle(sluice24, IDLE), Arm.of(sluice24), Arm.withIdle(haproxy24, IDLE),
        Arm.of(haproxy24));
    List<Figure> figures = new ArrayList<>();
    for (Arm a : arms) {
      figures.add(new Figure(a.name() + " peak RSS", "%.0f", " MiB",
          a.target() instanceof Target.Sluice ? "<= 300" : "", m -> get(m, a.name(), Outcome::proxyRssMaxMiB)));
    }
    String sWith = arms.get(0).name();
    String s = arms.get(1).name();
    figures.add(new Figure("Sluice heap per idle connection: (live heap after full GC " + sWith + " - " + s
        + ") / " + IDLE, "%.2f", " KiB", "<= 4", m -> {
          double with = get(m, sWith, Outcome::heapLiveMiB);
          double without = get(m, s, Outcome::heapLiveMiB);
          return with < 0 || without < 0 ? Double.NaN : (with - without) * 1024 / IDLE;
        }));
    for (int i = 0; i < arms.size(); i += 2) {
      Arm with = arms.get(i);
      Arm without = arms.get(i + 1);
      figures.add(ratio(with.name() + " goodput / " + without.name() + " goodput", with.name(), without.name(),
          BenchMain::goodput, with.target() instanceof Target.Sluice ? "0.90-1.10" : ""));
      figures.add(new Figure(with.name() + ": idle connections open at the end (driver)", "%.0f", " of " + IDLE,
          "", m -> get(m, with.name(), o -> o.r().idleOpenAtEnd())));
      figures.add(new Figure(with.name() + ": proxy's open fds at the end, with idle - without", "%.0f", "", "",
          m -> get(m, with.name(), o -> o.proxyFdsAtEnd()) - get(m, without.name(), o -> o.proxyFdsAtEnd())));
    }
    run(new Scenario("dp-idle", "Idle connections: " + IDLE + " idle client connections (opened, no request) "
        + "beside 512 active ones (closed loop), and the 512 alone; one back-end with best N = 20", List.of(THRASH),
        512, 512, 0, arms, warmup, measure, List.of(), true, false, figures));
  }

  private void runBurst(Target sluice24, Target haproxy24) throws IOException {
    List<Figure> figures = new ArrayList<>();
    Duration burstWarmup = warmup.compareTo(BURST_MIN_WARMUP) < 0 ? BURST_MIN_WARMUP : warmup;
    String longer = "longer than the run: too few connections had a first 2xx response in it";
    for (Target t : List.of(sluice24, haproxy24)) {
      String n = t.name();
      figures.add(new Figure(n + " connections with a first response (2xx)", "%.0f", " of 2048", "2048",
          m -> get(m, n, o -> o.r().burst().firstOk())));
      figures.add(new Figure(n + " first response p50", "%.1f", " ms", "",
          m -> get(m, n, o -> o.r().burst().p50Millis()), longer));
      figures.add(new Figure(n + " first response p99", "%.1f", " ms", "",
          m -> get(m, n, o -> o.r().burst().p99Millis()), longer));
      figures.add(new Figure(n + " first response max", "%.1f", " ms", "",
          m -> get(m, n, o -> o.r().burst().maxMillis()), longer));
      figures.add(new Figure(n + " steady-state p99 (counted window)", "%.1f", " ms", "",
          m -> get(m, n, o -> o.r().p99Millis())));
      figures.add(new Figure(n + " max first response / steady-state p99", "%.2f", "x", "<= 2",
          m -> get(m, n, o -> o.r().burst().maxMillis() / o.r().p99Millis()), longer));
    }
    run(new Scenario("dp-burst", "Accept burst: 2,048 connections opened at once against one back-end with best "
        + "N = 20, then a closed loop over them; steady-state window from " + burstWarmup.toSeconds()
        + " s after the connects", List.of(THRASH), 2048, 2048, 0, arms(sluice24, haproxy24), burstWarmup, measure,
        List.of(), false, true, figures));
  }

  // --- the cluster set --------------------------------------------------------------------------

  /** The fixed limit of the cluster set, and the cluster's size. */
  static final int CLUSTER_LIMIT = 24;
  static final int CLUSTER_NODES = 3;

  /**
   * One thrashing back-end, 512 connections: three Sluice nodes with one limit of 24 for the
   * back-end across them against one node (fixed 24 and auto), and three HAProxy instances with
   * maxconn 24 each (72 together) against one.
   */
  private void runCluster() throws IOException {
    int n = CLUSTER_NODES;
    int l = CLUSTER_LIMIT;
    Target fixed1 = Target.SluiceCluster.fixed(1, l);
    Target fixedN = Target.SluiceCluster.fixed(n, l);
    Target haproxy1 = new Target.HAProxy("haproxy-maxconn-" + l, l, 1);
    Target haproxyN = Target.HAProxy.instances(n, l, 1);
    Target autoN = Target.SluiceCluster.auto(n);
    Target auto1 = Target.SluiceCluster.auto(1);
    List<Target> targets = List.of(fixed1, fixedN, haproxy1, haproxyN, autoN, auto1);

    List<Figure> figures = new ArrayList<>();
    figures.add(ratio(fixedN.name() + " goodput / " + fixed1.name() + " goodput", fixedN.name(), fixed1.name(),
        BenchMain::goodput, ">= 0.95"));
    figures.add(ratio(autoN.name() + " goodput / " + auto1.name() + " goodput", autoN.name(), auto1.name(),
        BenchMain::goodput, "0.95-1.05"));
    for (Target t : targets) {
      boolean sluiceFixed = t == fixed1 || t == fixedN;
      figures.add(new Figure(t.name() + ": back-end max in flight", "%.0f", "", sluiceFixed ? "<= " + l : "",
          m -> get(m, t.name(), o -> o.backendMaxInFlight())));
    }
    figures.add(ratio(haproxyN.name() + " goodput / " + haproxy1.name() + " goodput", haproxyN.name(),
        haproxy1.name(), BenchMain::goodput, ""));
    figures.add(ratio(haproxyN.name() + " p99 / " + haproxy1.name() + " p99", haproxyN.name(), haproxy1.name(),
        o -> o.r().p99Millis(), ""));
    for (Target t : targets) {
      figures.add(new Figure(t.name() + ": CPU of all its proxy processes", "%.2f", " cores", "",
          m -> get(m, t.name(), Outcome::proxyCpuCores)));
      figures.add(new Figure(t.name() + ": CPU per request (all its proxy processes)", "%.1f", " us", "",
          m -> get(m, t.name(), Outcome::proxyCpuMicrosPerRequest)));
    }
    figures.add(ratio(fixedN.name() + " CPU per request / " + fixed1.name() + " CPU per request", fixedN.name(),
        fixed1.name(), Outcome::proxyCpuMicrosPerRequest, ""));
    figures.add(ratio(haproxyN.name() + " CPU per request / " + haproxy1.name() + " CPU per request",
        haproxyN.name(), haproxy1.name(), Outcome::proxyCpuMicrosPerRequest, ""));
    run(new Scenario("cluster", "Cluster: one back-end with best N = 20 (S0=2ms, alpha=0.04, beta=0.0024), 512 "
        + "connections, closed loop, spread evenly over the target's entry points; " + n + " Sluice nodes with one "
        + "limit for the back-end against 1 node, " + n + " HAProxy instances with maxconn " + l + " each against 1",
        List.of(THRASH), 512, 512, 0, arms(targets.toArray(Target[]::new)), warmup, measure, List.of(), false, false,
        figures));
  }

  // --- the l4 set -------------------------------------------------------------------------------

  /** Clients of the l4 set's short-connection scenario, and the L compared beside the best one. */
  static final int L4_CLIENTS = 512;
  static final int L4_LIMIT = 24;

  /**
   * L4 (TCP): short connections on one thrashing back-end through HAProxy mode tcp (a maxconn
   * sweep and no maxconn), Sluice's TCP listener (fixed at every L of the sweep and auto) and no
   * proxy; then one large transfer through HAProxy mode tcp, Sluice L4 and no proxy.
   */
  private void runL4() throws IOException {
    List<Target> targets = new ArrayList<>(List.of(new Target.Direct(), Target.HAProxy.tcp(0, haproxyThreads)));
    java.util.TreeSet<Integer> limits = new java.util.TreeSet<>();
    for (int m : l4Sweep) {
      targets.add(Target.HAProxy.tcp(m, haproxyThreads));
    }
    for (int l : l4SluiceLimits) {
      limits.add(l);
    }
    limits.add(L4_LIMIT);
    limits.forEach(l -> targets.add(Target.SluiceTcp.fixed(l)));
    targets.add(Target.SluiceTcp.auto());
    Scenario sc = new Scenario("l4-short", "L4 short connections: " + L4_CLIENTS + " clients, each connection carries"
        + " one HTTP/1.0 request and is closed after its response (ab without -k); one back-end with best N = 20"
        + " (S0=2ms, alpha=0.04, beta=0.0024). goodput = completed connections/s; latency = connection time, from"
        + " connect() to the end of the response", List.of(THRASH), L4_CLIENTS, L4_CLIENTS, 0, arms(targets.toArray(
        Target[]::new)), warmup, measure, List.of(), false, false, List.of(), true);
    if (only.isEmpty() || only.contains(sc.name())) {
      List<Outcome> os = runRounds(sc);
      report(sc.withFigures(l4Figures(os)), os);
    }
    if (only.isEmpty() || only.contains(TransferBench.NAME)) {
      summary.append(TransferBench.run(env, List.of(new Target.Direct(), Target.HAProxy.tcp(0, haproxyThreads),
          Target.SluiceTcp.fixed(L4_LIMIT)), rounds, transferBytes));
    }
  }

  /** The l4-short figures, against the HAProxy mode tcp maxconn with the highest median conn/s. */
  private List<Figure> l4Figures(List<Outcome> os) {
    String prefix = "haproxy-tcp-maxconn-";
    Set<String> names = new LinkedHashSet<>();
    os.stream().map(Outcome::target).filter(n -> n.startsWith(prefix)).forEach(names::add);
    java.util.Optional<String> found = names.stream().max(Comparator.comparingDouble(
        n -> median(Report.values(os, n, r -> r.r().goodput()))));
    List<Figure> fs = new ArrayList<>();
    if (found.isEmpty()) {
      return fs;
    }
    String best = found.get();
    int bestL = Integer.parseInt(best.substring(prefix.length()));
    fs.add(new Figure("HAProxy mode tcp best maxconn (highest median conn/s of the sweep)", "%.0f", "", "",
        m -> bestL));
    List<String> others = new ArrayList<>(List.of("sluice-l4-fixed-" + bestL));
    if (bestL != L4_LIMIT) {
      others.add("sluice-l4-fixed-" + L4_LIMIT);
      others.add(prefix + L4_LIMIT);
    }
    others.addAll(List.of("sluice-l4-auto", "haproxy-tcp", "direct"));
    for (String o : others) {
      boolean sluice = o.equals("sluice-l4-fixed-" + bestL) || o.equals("sluice-l4-auto");
      fs.add(ratio(o + " conn/s / " + best + " conn/s", o, best, BenchMain::goodput, sluice ? ">= 1.0" : ""));
    }
    for (String o : List.of("sluice-l4-fixed-" + bestL, "sluice-l4-auto")) {
      fs.add(ratio(o + " p99 / " + best + " p99", o, best, x -> x.r().p99Millis(), ""));
    }
    for (String o : List.of("sluice-l4-fixed-" + bestL, best)) {
      fs.add(new Figure(o + " CPU per connection", "%.1f", " us", "", m -> get(m, o, Outcome::proxyCpuMicrosPerRequest)));
    }
    fs.add(ratio("sluice-l4-fixed-" + bestL + " CPU per connection / " + best + " CPU per connection",
        "sluice-l4-fixed-" + bestL, best, Outcome::proxyCpuMicrosPerRequest, ""));
    fs.add(new Figure("sluice-l4-auto limit at the end (/status)", "%.0f", "", "",
        m -> get(m, "sluice-l4-auto", x -> x.limitAtEnd().isEmpty() || x.limitAtEnd().get(0) < 0 ? Double.NaN
            : x.limitAtEnd().get(0))));
    return fs;
  }

  private static double median(double[] v) {
    return Report.median(v);
  }

  private static List<Arm> arms(Target... targets) {
    return Arrays.stream(targets).map(Arm::of).toList();
  }

  private static double goodput(Outcome o) {
    return o.r().goodput();
  }

  /** f of the named arm's outcome in this round; NaN if it did not run or failed. */
  private static double get(Map<String, Outcome> round, String arm, ToDoubleFunction<Outcome> f) {
    Outcome o = round.get(arm);
    return o == null || o.r() == null ? Double.NaN : f.applyAsDouble(o);
  }

  /** f(a) / f(b) of the same round. */
  private static Figure ratio(String label, String a, String b, ToDoubleFunction<Outcome> f, String goal) {
    return new Figure(label, "%.2f", "x", goal, m -> {
      double y = get(m, b, f);
      return y > 0 ? get(m, a, f) / y : Double.NaN;
    });
  }

  /** CPU microseconds per request of the Sluice arm and of each HAProxy arm, and Sluice's over each. */
  private static List<Figure> cpuPerRequest(String sluice, List<String> haproxies, String goal) {
    List<Figure> fs = new ArrayList<>();
    fs.add(new Figure(sluice + " CPU per request", "%.1f", " us", "",
        m -> get(m, sluice, Outcome::proxyCpuMicrosPerRequest)));
    for (String h : haproxies) {
      fs.add(new Figure(h + " CPU per request", "%.1f", " us", "", m -> get(m, h, Outcome::proxyCpuMicrosPerRequest)));
    }
    for (String h : haproxies) {
      fs.add(ratio(sluice + " CPU per request / " + h + " CPU per request", sluice, h,
          Outcome::proxyCpuMicrosPerRequest, goal));
    }
    return fs;
  }

  // ---------------------------------------------------------------------------------------------

  private void run(Scenario sc) throws IOException {
    if (!only.isEmpty() && !only.contains(sc.name())) {
      return;
    }
    report(sc, runRounds(sc));
  }

  /** Every arm of {@code sc} once per round, the order rotated by one per round. */
  private List<Outcome> runRounds(Scenario sc) {
    System.out.println("\n== " + sc.name() + ": " + sc.title());
    List<Outcome> outcomes = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      List<Arm> order = new ArrayList<>(sc.arms());
      java.util.Collections.rotate(order, -round);
      for (Arm a : order) {
        Outcome o = runOne(sc, a, round);
        outcomes.add(o);
        System.out.println("  " + line(o));
      }
    }
    return outcomes;
  }

  private void report(Scenario sc, List<Outcome> outcomes) throws IOException {
    results.put(sc.name(), outcomes);
    Report.write(dir, sc, outcomes, rounds);
    String table = Files.readString(dir.resolve(sc.name() + ".md"));
    System.out.println();
    System.out.println(table);
    summary.append(Report.headline(sc, outcomes, this::bestHaproxyOf));
  }

  private Outcome runOne(Scenario sc, Arm arm, int round) {
    Target t = arm.target();
    Target.Running running = null;
    try (Backends backends = new Backends(env.children(), env.javaBin(), env.sluiceJar(), sc.backends())) {
      try {
        long starting = System.nanoTime();
        running = t.start(env, backends.addresses());
        double startSeconds = (System.nanoTime() - starting) / 1e9;
        LoadDriver.Config cfg;
        if (sc.burst()) {
          // a warm proxy meets the burst: PREWARM_CONNECTIONS (the limit, so nothing is left queued
          // when they close) in a closed loop for the warm-up time, uncounted
          new LoadDriver(LoadDriver.Config.closed(running.entry(), PREWARM_CONNECTIONS, Duration.ZERO, warmup))
              .run(new LoadDriver.Observer() {});
          cfg = LoadDriver.Config.burst(running.entry(), sc.connections(), sc.warmup(), sc.measure());
        } else if (sc.shortConnections()) {
          cfg = LoadDriver.Config.shortConnections(running.entry(), sc.connections(), sc.warmup(), sc.measure());
        } else {
          cfg = new LoadDriver.Config(running.entry(), sc.connections() + arm.idle(), sc.active(), sc.rate(),
              sc.warmup(), sc.measure(), 2);
        }
        Probe probe = new Probe(sc, backends, running.proxies(), running.adminPorts());
        long overflows = Children.tcpExt("ListenOverflows");
        long synRetrans = Children.tcpExt("TCPSynRetrans");
        LoadDriver.Result r = new LoadDriver(cfg).run(probe);
        overflows = overflows < 0 ? -1 : Children.tcpExt("ListenOverflows") - overflows;
        synRetrans = synRetrans < 0 ? -1 : Children.tcpExt("TCPSynRetrans") - synRetrans;
        String failure = null;
        List<Process> proxies = running.proxies();
        for (int k = 0; k < proxies.size(); k++) {
          if (!proxies.get(k).isAlive()) {
            failure = (failure == null ? "" : failure + "; ") + t.name()
                + (proxies.size() > 1 ? " process " + (k + 1) : "") + " exited with " + proxies.get(k).exitValue()
                + " during the run";
          }
        }
        double served = r.goodput() * sc.measure().toNanos() / 1e9;
        double cpuMicros = proxies.isEmpty() || served <= 0 || probe.proxyCpuSeconds < 0 ? Double.NaN
            : probe.proxyCpuSeconds * 1e6 / served;
        return new Outcome(arm.name(), round, r, probe.proxyCpu, cpuMicros, probe.backendCpu, probe.rssMax,
            probe.fds, backends.maxInFlight(), probe.heapUsed, probe.heapLive, overflows, synRetrans, failure,
            proxies.size(), startSeconds, probe.granted, probe.limits);
      } finally {
        if (running != null) {
          env.children().stopAll(running.proxies());
        }
      }
    } catch (Exception e) {
      return new Outcome(arm.name(), round, null, 0, Double.NaN, 0, 0, -1, 0, 0, 0, -1, -1, String.valueOf(e),
          0, Double.NaN, List.of(), List.of());
    }
  }

  /**
   * Samples CPU of the proxy processes and back-ends over the window, RSS each second, shifts, heap;
   * at the end, each Sluice node's /status. Several proxy processes count together: CPU, fds and heap
   * summed, RSS the peak of the sum (-1 where one of them could not be read).
   */
  private final class Probe implements LoadDriver.Observer {
    final Scenario sc;
    final Backends backends;
    final List<Process> proxies;
    final List<Integer> adminPorts;
    double proxyCpu;
    double proxyCpuSeconds = -1;
    double backendCpu;
    double rssMax = -1;
    int fds = -1;
    double heapUsed = -1;
    double heapLive = -1;
    List<Integer> granted = List.of();
    List<Integer> limits = List.of();
    long t0;

    Probe(Scenario sc, Backends backends, List<Process> proxies, List<Integer> adminPorts) {
      this.sc = sc;
      this.backends = backends;
      this.proxies = proxies;
      this.adminPorts = adminPorts;
    }

    @Override
    public void measureStart() {
      t0 = System.nanoTime();
      proxyCpu = proxies.isEmpty() ? 0 : sum(Children::cpuSeconds);
      backendCpu = backends.pids().stream().mapToDouble(Children::cpuSeconds).sum();
    }

    @Override
    public void second(int s) {
      for (Shift shift : sc.shifts()) {
        if (shift.atSecond() == s) {
          backends.setParams(shift.backend(), shift.query());
        }
      }
      if (!proxies.isEmpty() && t0 != 0) {
        rssMax = Math.max(rssMax, sum(Children::rssMiB));
      }
    }

    @Override
    public void measureEnd() {
      double secs = (System.nanoTime() - t0) / 1e9;
      double cpuNow = proxies.isEmpty() ? -1 : sum(Children::cpuSeconds);
      proxyCpuSeconds = cpuNow < 0 || proxyCpu < 0 ? -1 : cpuNow - proxyCpu;
      proxyCpu = proxies.isEmpty() ? 0 : proxyCpuSeconds < 0 ? Double.NaN : proxyCpuSeconds / secs;
      backendCpu = (backends.pids().stream().mapToDouble(Children::cpuSeconds).sum() - backendCpu) / secs;
      if (!proxies.isEmpty()) {
        rssMax = Math.max(rssMax, sum(Children::rssMiB));
        fds = (int) sum(Children::openFds);
      }
      if (sc.memory() && !proxies.isEmpty()
          && proxies.stream().allMatch(p -> p.info().command().orElse("").endsWith("java"))) {
        heapUsed = sum(BenchMain::heapUsedMiB);
        heapLive = sum(BenchMain::liveHeapMiB);
      }
      // one answer per node, all nodes asked at once
      List<java.util.concurrent.CompletableFuture<String>> asked = adminPorts.stream()
          .map(p -> java.util.concurrent.CompletableFuture.supplyAsync(() -> status(p))).toList();
      List<String> status = asked.stream().map(java.util.concurrent.CompletableFuture::join).toList();
      // the node's own view only: the "cluster" part repeats the limit and grants of the entities hosted here
      List<String> own = status.stream().map(j -> j.contains("\"cluster\":") ? j.substring(0, j.indexOf("\"cluster\":"))
          : j).toList();
      granted = own.stream().map(j -> sumOf(j, GRANTED)).toList();
      limits = own.stream().map(j -> sumOf(j, LIMIT)).toList();
    }

    /** f summed over the proxy processes; -1 if any of them gave -1. */
    private double sum(java.util.function.LongToDoubleFunction f) {
      double total = 0;
      for (Process p : proxies) {
        double v = f.applyAsDouble(p.pid());
        if (v < 0) {
          return -1;
        }
        total += v;
      }
      return total;
    }
  }

  private static final Pattern GRANTED = Pattern.compile("\"granted\":(\\d+)");
  private static final Pattern LIMIT = Pattern.compile("\"limit\":(\\d+)");

  /**
   * A Sluice node's /status JSON; empty if it did not answer 200 within {@link #STATUS_TIMEOUT}. (In a
   * trial at load average 10 on 2 cores one of three nodes, serving normally, did not answer within 1 s.)
   */
  private static String status(int adminPort) {
    return Children.get(adminPort, "/status", STATUS_TIMEOUT).filter(a -> a.status() == 200)
        .map(Children.Answer::body).orElse("");
  }

  private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);

  /** A number field of a /status answer summed over its back-ends; -1 if it has none. */
  private static int sumOf(String json, Pattern field) {
    Matcher m = field.matcher(json);
    int sum = 0;
    boolean any = false;
    while (m.find()) {
      sum += Integer.parseInt(m.group(1));
      any = true;
    }
    return any ? sum : -1;
  }

  private static final Pattern HEAP_USED = Pattern.compile("total \\d+K, used (\\d+)K");

  /** Heap in use as {@code jcmd GC.heap_info} reports it. */
  private static double heapUsedMiB(long pid) {
    try {
      Matcher m = HEAP_USED.matcher(jcmd(pid, "GC.heap_info"));
      return m.find() ? Long.parseLong(m.group(1)) / 1024.0 : -1;
    } catch (IOException | InterruptedException e) {
      return -1;
    }
  }

  private static final Pattern HISTOGRAM_TOTAL = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)\\s*$");

  /**
   * Live heap after a full GC: the bytes of all live objects as {@code jcmd GC.class_histogram}
   * counts them, within the safepoint of the full GC it runs. ({@code GC.run} then {@code
   * GC.heap_info} counted what the load allocated between the two attaches as live: 77 MiB "live"
   * after 35 MiB used in a trial, noise the size of the 10,000 idle connections' whole budget.)
   */
  private static double liveHeapMiB(long pid) {
    try {
      Matcher m = HISTOGRAM_TOTAL.matcher(jcmd(pid, "GC.class_histogram"));
      return m.find() ? Long.parseLong(m.group(1)) / (1024.0 * 1024) : -1;
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
    String extra = "";
    if (r.burst() != null) {
      LoadDriver.Burst b = r.burst();
      extra = String.format(Locale.ROOT, "  first response: %d/%d ok, p50 %.1f p99 %.1f max %.1f ms, connects within"
              + " %.1f ms (driver CPU %.1f ms), driver %.2f cores in the burst, proxy fds %d, listen overflows %d,"
              + " SYN retransmits %d", b.firstOk(), b.connections(), b.p50Millis(), b.p99Millis(), b.maxMillis(),
          b.connectSpreadMillis(), b.connectLoopCpuMillis(), b.driverCpuCores(), o.proxyFdsAtEnd(),
          o.listenOverflows(), o.synRetransmits());
    } else if (r.connected() > 0 && r.idleOpenAtEnd() + r.idleFailures() > 0) {
      extra = String.format(Locale.ROOT, "  idle open at end %d (%d idle failures), proxy fds %d, rss %.0f MiB",
          r.idleOpenAtEnd(), r.idleFailures(), o.proxyFdsAtEnd(), o.proxyRssMaxMiB());
    }
    if (!o.grantedAtEnd().isEmpty()) {
      extra += String.format(Locale.ROOT, "  %d nodes ready after %.1f s, granted at end %s (limit %s)",
          o.proxyProcesses(), o.startSeconds(), Report.joined(o.grantedAtEnd()), Report.joined(o.limitAtEnd()));
    } else if (o.proxyProcesses() > 1) {
      extra += String.format(Locale.ROOT, "  %d processes ready after %.1f s", o.proxyProcesses(), o.startSeconds());
    }
    return String.format(Locale.ROOT,
        "round %d %-28s goodput %8.0f/s  errors %6.1f/s  p50 %8.2f ms  p99 %9.2f ms  backend max in flight %5d"
            + "  cpu: driver %.2f proxy %.2f (%.0f us/req) backend %.2f%s%s%s",
        o.round() + 1, o.target(), r.goodput(), r.errorsPerSecond(), r.p50Millis(), r.p99Millis(),
        o.backendMaxInFlight(), r.driverCpuCores(), o.proxyCpuCores(), o.proxyCpuMicrosPerRequest(),
        o.backendCpuCores(), extra, r.errorKinds().isEmpty() ? "" : "  " + r.errorKinds(),
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
            + "- Java %s; %s%n- rounds %d, warm-up %d s, counted window %d s per target per round%s%n"
            + "- HAProxy nbthread: %s%n",
        LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME).substring(0, 16),
        Runtime.getRuntime().availableProcessors(), cpu, System.getProperty("java.version"), haproxy, rounds,
        warmup.toSeconds(), measure.toSeconds(),
        set.equals("default") ? "; maxconn sweep " + Arrays.toString(sweep)
            : set.equals("l4") ? "; HAProxy mode tcp maxconn sweep " + Arrays.toString(l4Sweep) + ", Sluice L4 fixed "
            + Arrays.toString(l4SluiceLimits) + " and " + L4_LIMIT
            + ", large transfer " + transferBytes + " bytes" : "",
        set.equals("cluster") ? "1 in every HAProxy process of this set (--haproxy-threads does not apply)"
            : haproxyThreads + " (--haproxy-threads) unless a target's line says otherwise");
  }

  private static final Pattern JVM_FLAG = Pattern.compile("^\\s*\\S+\\s+(\\w+)\\s+:?=\\s+(\\S+)");

  /**
   * The Sluice processes' JVM options and what they come to (GC, heap sizes), from {@code java
   * <options> -XX:+PrintFlagsFinal -version}: the settings under which Sluice's RSS is measured.
   */
  private String sluiceJvm() {
    List<String> cmd = new ArrayList<>(List.of(env.javaBin()));
    cmd.addAll(sluiceJavaOpts);
    cmd.addAll(List.of("-XX:+PrintFlagsFinal", "-version"));
    Map<String, String> flags = new LinkedHashMap<>();
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      for (String line : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        Matcher m = JVM_FLAG.matcher(line);
        if (m.find()) {
          flags.put(m.group(1), m.group(2));
        }
      }
      p.waitFor();
    } catch (IOException | InterruptedException e) {
      // unknown
    }
    String gc = List.of("UseSerialGC", "UseParallelGC", "UseG1GC", "UseZGC", "UseShenandoahGC").stream()
        .filter(f -> "true".equals(flags.get(f))).map(f -> f.replace("Use", "")).findFirst().orElse("unknown");
    return String.format(Locale.ROOT, "- Sluice JVM options (SLUICE_JAVA_OPTS): %s; in effect: %s, max heap %s, "
            + "initial heap %s, MaxDirectMemorySize %s (0: as max heap)%n",
        sluiceJavaOpts.isEmpty() ? "none (the JVM's defaults)" : String.join(" ", sluiceJavaOpts), gc,
        mib(flags.get("MaxHeapSize")), mib(flags.get("InitialHeapSize")), mib(flags.get("MaxDirectMemorySize")));
  }

  private static String mib(String bytes) {
    try {
      return (Long.parseLong(bytes) >> 20) + " MiB";
    } catch (NumberFormatException | NullPointerException e) {
      return "unknown";
    }
  }

  static double[] doubles(List<Outcome> os, String target, ToDoubleFunction<Outcome> f) {
    return Report.values(os, target, f);
  }
}
