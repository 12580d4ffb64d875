package sluice.controller.sim;

import static sluice.controller.sim.Simulation.MS;
import static sluice.controller.sim.Simulation.SECOND;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import sluice.controller.algorithm.LimitAlgorithm;
import sluice.controller.algorithm.LimitAlgorithms;
import sluice.controller.sim.Simulation.Result;
import sluice.controller.sim.Simulation.Settings;
import sluice.protocol.LimitSpec;

/**
 * The scenarios the simulation tests assert on and the table in
 * docs/controller-simulation.md is made of. Every back-end peaks at 2000 requests per
 * second with contention a = 0.02; what differs is where the peak is.
 */
public final class Scenarios {
  private Scenarios() {}

  public static final List<String> ALGORITHMS =
      List.of("auto", "fixed", "band", "queue", "gradient", "vegas", "aimd");
  public static final List<Integer> BEST_NS = List.of(4, 16, 64, 200);
  public static final double CONTENTION = 0.02;
  public static final double PEAK_PER_SECOND = 2000;
  public static final long STEADY_RUN = 30 * SECOND;
  public static final long STEADY_MEASURED_FROM = 15 * SECOND;
  public static final long SHIFT_PHASE = 10 * SECOND;

  /** A back-end whose best N is {@code bestN}. */
  public static UslModel backend(int bestN) {
    return UslModel.withBestN(bestN, CONTENTION, PEAK_PER_SECOND);
  }

  /** More clients than the best N: eight times as many, and at least 512. */
  public static int clients(double bestN) {
    return (int) Math.max(512, 8 * Math.ceil(bestN));
  }

  /**
   * The spec each algorithm runs with in the table: bounds 1..1000 from 8, parameters at
   * their defaults, except band, which must be told a band: mean response time between 0.8
   * and 1.0 times the response time at the model's best N (the operator's knowledge).
   */
  public static LimitSpec spec(String algorithm, UslModel model) {
    Map<String, String> params = Map.of();
    if (algorithm.equals("band")) {
      double rttAtBestMs = model.bestWholeN() / model.peak() * 1e3;
      params = Map.of("metric", "mean-response-time",
          "low", String.format(java.util.Locale.ROOT, "%.3f", 0.8 * rttAtBestMs),
          "high", String.format(java.util.Locale.ROOT, "%.3f", rttAtBestMs));
    }
    return new LimitSpec(algorithm, 1, 1000, 8, params);
  }

  /** Builds the algorithm as the Controller would, on the simulation's clock. */
  public static LimitAlgorithm algorithm(LimitSpec spec, SimClock clock, long seed) {
    return LimitAlgorithms.create(spec, clock, new SplittableRandom(seed));
  }

  /** One steady run: what the algorithm settles on for one back-end. */
  /**
   * One steady run: what the algorithm settles on for one back-end, and its start-up
   * overshoot: the most requests in service at the back-end before the measured span (the
   * start-up search), as a multiple of the model's best N.
   */
  public record Steady(String algorithm, int bestN, double meanLimit, double fractionOfPeak, double overshoot) {}

  public static Steady steady(String algorithm, int bestN) {
    return steady(algorithm, bestN, 42);
  }

  public static Steady steady(String algorithm, int bestN, long seed) {
    return steady(algorithm, bestN, seed, Simulation.Noise.NONE);
  }

  public static Steady steady(String algorithm, int bestN, long seed, Simulation.Noise noise) {
    UslModel model = backend(bestN);
    Settings settings = Settings.of(model, clients(bestN), STEADY_RUN).withSeed(seed).withNoise(noise);
    Result r = run(settings, spec(algorithm, model));
    return new Steady(algorithm, bestN,
        r.meanLimit(STEADY_MEASURED_FROM, STEADY_RUN),
        r.goodput(STEADY_MEASURED_FROM, STEADY_RUN) / model.peak(),
        r.maxInFlight(0, STEADY_MEASURED_FROM) / model.bestN());
  }

  /** Goodput / peak of a fixed limit at the best N over the steady run's measured span. */
  public static double steadyAtBestN(int bestN, long seed, Simulation.Noise noise) {
    UslModel model = backend(bestN);
    Settings settings = Settings.of(model, clients(bestN), STEADY_RUN).withSeed(seed).withNoise(noise);
    Result r = run(settings, new LimitSpec("fixed", 1, 1000, model.bestWholeN(), Map.of()));
    return r.goodput(STEADY_MEASURED_FROM, STEADY_RUN) / model.peak();
  }

  /**
   * The back-end's capacity changes: best N 22, then 7 (same S0 and contention, more
   * coherency cost), then 22 again, SHIFT_PHASE each.
   */
  public record Shift(
      String algorithm, long firstReconvergeNanos, long secondReconvergeNanos,
      double fractionPhase1, double fractionPhase2, double fractionPhase3, Result result) {}

  public static UslModel[] shiftModels() {
    UslModel wide = backend(22);
    double b7 = (1 - CONTENTION) / (7.0 * 7.0);
    UslModel narrow = new UslModel(wide.s0Nanos(), CONTENTION, b7);
    return new UslModel[] {wide, narrow, wide};
  }

  public static Shift shift(String algorithm) {
    return shift(algorithm, 42);
  }

  public static Shift shift(String algorithm, long seed) {
    return shift(algorithm, seed, Simulation.Noise.NONE);
  }

  public static Shift shift(String algorithm, long seed, Simulation.Noise noise) {
    UslModel[] m = shiftModels();
    TreeMap<Long, UslModel> changes = new TreeMap<>();
    changes.put(SHIFT_PHASE, m[1]);
    changes.put(2 * SHIFT_PHASE, m[2]);
    Settings settings = Settings.of(m[0], clients(22), 3 * SHIFT_PHASE).withChanges(changes).withSeed(seed)
        .withNoise(noise);
    Result r = run(settings, spec(algorithm, m[0]));
    long first = r.reconvergeNanos(SHIFT_PHASE, 2 * SHIFT_PHASE, 0.90 * m[1].peak());
    long second = r.reconvergeNanos(2 * SHIFT_PHASE, 3 * SHIFT_PHASE, 0.90 * m[2].peak());
    return new Shift(algorithm, first, second,
        r.goodput(SHIFT_PHASE / 2, SHIFT_PHASE) / m[0].peak(),
        r.goodput(SHIFT_PHASE + 3 * SECOND, 2 * SHIFT_PHASE) / m[1].peak(),
        r.goodput(2 * SHIFT_PHASE + 3 * SECOND, 3 * SHIFT_PHASE) / m[2].peak(),
        r);
  }

  /** A back-end that never thrashes: 20 ms whatever the load, more clients than max. */
  public static Result neverThrashes(String algorithm, int max) {
    Settings settings = Settings.of(UslModel.fixedLatency(20 * MS), max + max / 2, 20 * SECOND)
        .withBounds(1, max);
    return run(settings, new LimitSpec(algorithm, 1, max, 8, Map.of()));
  }

  /**
   * The demo's back-end (USL S0 2 ms, a 0.04, b 0.0024: best N 20, about 3740 req/s) with 512
   * clients, under {@link Simulation.Noise#realistic()} noise: nothing about it changes, so
   * every change auto sees is a false one.
   */
  public static UslModel demoBackend() {
    return new UslModel(2 * MS, 0.04, 0.0024);
  }

  /** One run of the noisy demo back-end: what auto got and how often it thought it changed. */
  public record Noisy(Result result, int changesSeen, double goodput, int maxLimitFirst10s) {}

  public static final long NOISY_RUN = 60 * SECOND;
  public static final long NOISY_MEASURED_FROM = 10 * SECOND;

  public static Noisy noisy(LimitSpec spec, long seed) {
    Settings settings = Settings.of(demoBackend(), 512, NOISY_RUN).withSeed(seed)
        .withNoise(Simulation.Noise.realistic());
    SimClock clock = new SimClock();
    LimitAlgorithm algorithm = algorithm(spec, clock, settings.seed() + 1);
    Result r = Simulation.run(settings, algorithm, clock);
    int changes = algorithm instanceof sluice.controller.algorithm.AutoLimit auto ? auto.changesSeen() : 0;
    int maxEarly = 0;
    for (int b = 0; b < 10 * SECOND / r.bucketNanos(); b++) {
      maxEarly = Math.max(maxEarly, r.limitPerBucket()[b]);
    }
    return new Noisy(r, changes, r.goodput(NOISY_MEASURED_FROM, NOISY_RUN), maxEarly);
  }

  /** The best goodput of a fixed limit on the noisy demo back-end (a sweep, as done live). */
  public static double noisyBestFixed(long seed) {
    double best = 0;
    for (int limit = 14; limit <= 30; limit += 2) {
      best = Math.max(best, noisy(new LimitSpec("fixed", 1, 1000, limit, Map.of()), seed).goodput());
    }
    return best;
  }

  /**
   * The demo back-end at start-up behind a node that is still warming up
   * ({@link Simulation.Warmup#jit()}: its capacity ramps from 30% to 100% over 15 s), with the
   * realistic noise: goodput rises with time whatever the limit, which a start-up search must
   * not take for the effect of its last raise.
   */
  public record Warming(Result result, double goodput, int maxLimitFirst20s, int changesSeen) {}

  public static final long WARMING_RUN = 30 * SECOND;
  public static final long WARMING_MEASURED_FROM = 10 * SECOND;

  public static Warming warming(LimitSpec spec, long seed) {
    Settings settings = Settings.of(demoBackend(), 512, WARMING_RUN).withSeed(seed)
        .withNoise(Simulation.Noise.realistic()).withWarmup(Simulation.Warmup.jit());
    SimClock clock = new SimClock();
    LimitAlgorithm algorithm = algorithm(spec, clock, settings.seed() + 1);
    Result r = Simulation.run(settings, algorithm, clock);
    int maxEarly = 0;
    for (int b = 0; b < 20 * SECOND / r.bucketNanos(); b++) {
      maxEarly = Math.max(maxEarly, r.limitPerBucket()[b]);
    }
    int changes = algorithm instanceof sluice.controller.algorithm.AutoLimit auto ? auto.changesSeen() : 0;
    return new Warming(r, r.goodput(WARMING_MEASURED_FROM, WARMING_RUN), maxEarly, changes);
  }

  /** The best goodput of a fixed limit on the warming demo back-end (limits 14-30). */
  public static double warmingBestFixed(long seed) {
    double best = 0;
    for (int limit = 14; limit <= 30; limit += 2) {
      best = Math.max(best, warming(new LimitSpec("fixed", 1, 1000, limit, Map.of()), seed).goodput());
    }
    return best;
  }

  public static Result run(Settings settings, LimitSpec spec) {
    SimClock clock = new SimClock();
    LimitAlgorithm algorithm = algorithm(spec, clock, settings.seed() + 1);
    return Simulation.run(settings, algorithm, clock);
  }
}
