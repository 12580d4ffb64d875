package sluice.controller.sim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.TreeMap;
import sluice.controller.WindowAccumulator;
import sluice.controller.algorithm.LimitAlgorithm;
import sluice.controller.algorithm.WindowSample;
import sluice.protocol.LeaseProtocol.SampleBatch;

/**
 * A deterministic discrete-event simulation of one dispatcher node in front of one
 * {@link UslModel} back-end, on a manual clock. Closed-loop clients (exponential think
 * time) send requests into a FIFO queue; the queue dispatches while fewer than the limit
 * are in flight. The node reports a {@link SampleBatch} every 100 ms (its phase shifted
 * against the controller's windows, as in a real cluster), the batches are summed by the
 * controller's own {@link WindowAccumulator}, and each window goes to the algorithm the way
 * the Controller actor does it; a new limit reaches the node after a propagation delay.
 *
 * <p>State: the clock; requests thinking, waiting, in service (processor sharing, tracked by
 * virtual work); the node's batch counters; the window being gathered; goodput per 100 ms.
 */
public final class Simulation {
  public static final long MS = 1_000_000L;
  public static final long SECOND = 1_000 * MS;
  private static final long BUCKET_NANOS = 100 * MS;

  private final Settings settings;
  private final SplittableRandom random;
  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private final PriorityQueue<Request> inService =
      new PriorityQueue<>((x, y) -> Double.compare(x.finishWork, y.finishWork));
  private final ArrayDeque<Request> waiting = new ArrayDeque<>();
  private final WindowAccumulator window = new WindowAccumulator();
  private final LimitAlgorithm algorithm;
  private final long[] goodputPerBucket;
  private final int[] limitPerBucket;
  /** The most requests in service at the back-end at any time in each bucket. */
  private final int[] inFlightPerBucket;
  private final TreeMap<Long, UslModel> modelChanges;

  private long now;
  private long seq;
  private UslModel model;
  private double virtualWork;
  private long virtualWorkAt;
  private int limit;
  private int toldLimit;
  private long windowStart;

  // the node's counters for the batch being gathered
  private int completed;
  private long sumRttNanos;
  private long minRttNanos = Long.MAX_VALUE;
  private long maxRttNanos;
  private int maxInFlight;
  private int arrivals;

  /**
   * @param model0        the back-end at the start
   * @param changes       later back-ends, by the time they take over (may be empty)
   * @param clients       closed-loop clients
   * @param thinkNanos    mean think time of a client between a response and its next request
   * @param windowNanos   the controller's window
   * @param min           the spec's min (the Controller clamps to it)
   * @param max           the spec's max
   * @param durationNanos how long to run
   * @param seed          the run's random seed
   */
  public record Settings(
      UslModel model0,
      TreeMap<Long, UslModel> changes,
      int clients,
      long thinkNanos,
      long windowNanos,
      int min,
      int max,
      long durationNanos,
      long seed,
      Noise noise,
      Warmup warmup) {

    public static Settings of(UslModel model, int clients, long durationNanos) {
      return new Settings(model, new TreeMap<>(), clients, 10 * MS, 250 * MS, 1, 1000, durationNanos, 42,
          Noise.NONE, Warmup.NONE);
    }

    public Settings withNoise(Noise noise) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed, noise, warmup);
    }

    public Settings withChanges(TreeMap<Long, UslModel> changes) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed,
          noise, warmup);
    }

    public Settings withWindow(long windowNanos) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed,
          noise, warmup);
    }

    public Settings withBounds(int min, int max) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed,
          noise, warmup);
    }

    public Settings withWarmup(Warmup warmup) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed,
          noise, warmup);
    }

    public Settings withSeed(long seed) {
      return new Settings(model0, changes, clients, thinkNanos, windowNanos, min, max, durationNanos, seed,
          noise, warmup);
    }
  }

  /**
   * What a real deployment adds to the model, from its own random stream (so a run without
   * noise is the same as before noise existed): the back-end's service rate times a
   * log-normal factor (mean 1) drawn anew every slice (CPU contention on a shared host);
   * pauses of the whole back-end and, separately, of the node (GC, descheduling; Poisson
   * arrivals, uniform length): a paused node neither dispatches nor sends its batch until
   * the pause ends; and late firing of the node's batch timer (uniform, up to a bound), so
   * batches land unevenly in the controller's windows. A batch reports the time it really
   * covers, as the node does.
   *
   * @param sliceNanos        how long one service-rate factor holds; 0 for none
   * @param rateSigma         standard deviation of the factor's logarithm
   * @param backendPausesPerSecond mean rate of back-end pauses
   * @param nodePausesPerSecond    mean rate of node pauses
   * @param pauseMinNanos     shortest pause
   * @param pauseMaxNanos     longest pause
   * @param batchJitterNanos  most a batch timer fires late
   */
  public record Noise(
      long sliceNanos,
      double rateSigma,
      double backendPausesPerSecond,
      double nodePausesPerSecond,
      long pauseMinNanos,
      long pauseMaxNanos,
      long batchJitterNanos) {

    public static final Noise NONE = new Noise(0, 0, 0, 0, 0, 0, 0);

    /**
     * Roughly what the demo shows with the proxy and the back-end on two shared, busy cores:
     * service rate +-20% per 50 ms slice, two back-end and two node pauses of 10-50 ms a
     * second, batch timers up to 30 ms late.
     */
    public static Noise realistic() {
      return new Noise(50 * MS, 0.2, 2, 2, 10 * MS, 50 * MS, 30 * MS);
    }

    boolean none() {
      return equals(NONE);
    }
  }

  /**
   * The node (a JVM) warming up: its capacity grows over the first seconds (JIT compilation),
   * whatever the limit, so goodput rises with time alone. Modelled as a factor on every
   * request's progress that ramps linearly from {@code from} to 1 over {@code nanos}, updated
   * every {@code stepNanos}. Deterministic: it draws no random numbers.
   */
  public record Warmup(double from, long nanos, long stepNanos) {
    public static final Warmup NONE = new Warmup(1, 0, 0);

    /** What start-up looks like live: 30% of the proxy's capacity at first, all of it after 15 s. */
    public static Warmup jit() {
      return new Warmup(0.3, 15 * SECOND, 10 * MS);
    }

    double factorAt(long t) {
      return t >= nanos ? 1 : from + (1 - from) * t / (double) nanos;
    }
  }

  /** Time a node's batches lag the controller's window boundaries. */
  static final long BATCH_PHASE_NANOS = 37 * MS;
  /** Time a new limit takes to reach the node. */
  static final long PROPAGATION_NANOS = 5 * MS;

  private enum Kind {
    ARRIVAL, BATCH, WINDOW, APPLY_LIMIT, MODEL_CHANGE,
    WARM_STEP, RATE_SLICE, BACKEND_PAUSE, BACKEND_RESUME, NODE_PAUSE, NODE_RESUME
  }

  private record Event(long at, long seq, Kind kind, int value) implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int c = Long.compare(at, o.at);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  private static final class Request {
    long dispatchedAt;
    double finishWork;
  }

  private final SimClock clock;
  private final Noise noise;
  /** Draws the noise only: the rest of the run sees the same random numbers with or without. */
  private final SplittableRandom noiseRandom;
  private double rateFactor = 1;
  private double warmFactor = 1;
  private int backendPauses;
  private int nodePauses;
  /** The nominal time of the next batch (its timer fires at or after it). */
  private long nextBatchNominal;
  private long lastBatchAt;
  /** A batch timer fired while the node was paused: the batch goes when the pause ends. */
  private boolean batchDeferred;

  private Simulation(Settings settings, LimitAlgorithm algorithm, SimClock clock) {
    this.settings = settings;
    this.clock = clock;
    this.algorithm = algorithm;
    this.random = new SplittableRandom(settings.seed());
    this.noise = settings.noise();
    this.noiseRandom = new SplittableRandom(settings.seed() * 0x9E3779B97F4A7C15L + 7);
    this.model = settings.model0();
    this.modelChanges = settings.changes();
    int buckets = (int) (settings.durationNanos() / BUCKET_NANOS) + 1;
    this.goodputPerBucket = new long[buckets];
    this.limitPerBucket = new int[buckets];
    this.inFlightPerBucket = new int[buckets];
  }

  /** Runs the simulation to its end. */
  public static Result run(Settings settings, LimitAlgorithm algorithm, SimClock clock) {
    return new Simulation(settings, algorithm, clock).run();
  }

  private Result run() {
    limit = toldLimit = clamp(algorithm.limit());
    for (int i = 0; i < settings.clients(); i++) {
      schedule(think(), Kind.ARRIVAL, 0);
    }
    schedule(BATCH_PHASE_NANOS, Kind.BATCH, 0);
    schedule(settings.windowNanos(), Kind.WINDOW, 0);
    modelChanges.forEach((at, m) -> schedule(at, Kind.MODEL_CHANGE, 0));
    if (!noise.none()) {
      nextBatchNominal = BATCH_PHASE_NANOS;
      if (noise.sliceNanos() > 0) {
        schedule(0, Kind.RATE_SLICE, 0);
      }
      if (noise.backendPausesPerSecond() > 0) {
        schedule(nextPause(noise.backendPausesPerSecond()), Kind.BACKEND_PAUSE, 0);
      }
      if (noise.nodePausesPerSecond() > 0) {
        schedule(nextPause(noise.nodePausesPerSecond()), Kind.NODE_PAUSE, 0);
      }
    }
    Warmup warmup = settings.warmup();
    if (warmup.nanos() > 0) {
      warmFactor = warmup.factorAt(0);
      schedule(warmup.stepNanos(), Kind.WARM_STEP, 0);
    }
    long end = settings.durationNanos();
    while (true) {
      long nextCompletion = nextCompletionAt();
      Event next = events.peek();
      long at = Math.min(nextCompletion, next == null ? Long.MAX_VALUE : next.at());
      if (at > end) {
        break;
      }
      advanceTo(at);
      if (nextCompletion == at && (next == null || nextCompletion <= next.at())) {
        complete();
      } else {
        handle(events.poll());
      }
    }
    return new Result(goodputPerBucket, limitPerBucket, inFlightPerBucket, BUCKET_NANOS);
  }

  private void handle(Event e) {
    switch (e.kind()) {
      case ARRIVAL -> {
        arrivals++;
        waiting.addLast(new Request());
        dispatch();
      }
      case BATCH -> {
        if (noise.none()) {
          sendBatch(100 * MS);
          schedule(now + 100 * MS, Kind.BATCH, 0);
        } else if (nodePauses > 0) {
          batchDeferred = true;
        } else {
          sendNoisyBatch();
        }
      }
      case WARM_STEP -> {
        warmFactor = settings.warmup().factorAt(now);
        if (now < settings.warmup().nanos()) {
          schedule(now + settings.warmup().stepNanos(), Kind.WARM_STEP, 0);
        }
      }
      case RATE_SLICE -> {
        double z = gaussian();
        rateFactor = Math.exp(noise.rateSigma() * z - noise.rateSigma() * noise.rateSigma() / 2);
        schedule(now + noise.sliceNanos(), Kind.RATE_SLICE, 0);
      }
      case BACKEND_PAUSE -> {
        backendPauses++;
        schedule(now + pauseLength(), Kind.BACKEND_RESUME, 0);
        schedule(now + nextPause(noise.backendPausesPerSecond()), Kind.BACKEND_PAUSE, 0);
      }
      case BACKEND_RESUME -> backendPauses--;
      case NODE_PAUSE -> {
        nodePauses++;
        schedule(now + pauseLength(), Kind.NODE_RESUME, 0);
        schedule(now + nextPause(noise.nodePausesPerSecond()), Kind.NODE_PAUSE, 0);
      }
      case NODE_RESUME -> {
        nodePauses--;
        if (nodePauses == 0) {
          if (batchDeferred) {
            batchDeferred = false;
            sendNoisyBatch();
          }
          dispatch();
        }
      }
      case WINDOW -> {
        onWindow();
        schedule(now + settings.windowNanos(), Kind.WINDOW, 0);
      }
      case APPLY_LIMIT -> {
        limit = e.value();
        dispatch();
      }
      case MODEL_CHANGE -> model = modelChanges.get(now);
    }
  }

  private void sendBatch(long coveredNanos) {
    window.add(new SampleBatch("sim", "node-1", coveredNanos, completed, 0, 0, sumRttNanos,
        completed == 0 ? 0 : minRttNanos, maxRttNanos, maxInFlight, arrivals, waiting.size(), 0, 0));
    completed = arrivals = 0;
    sumRttNanos = maxRttNanos = 0;
    minRttNanos = Long.MAX_VALUE;
    maxInFlight = inService.size();
  }

  /** A batch covering the time since the last one; the next timer fires late by up to the jitter. */
  private void sendNoisyBatch() {
    sendBatch(now - lastBatchAt);
    lastBatchAt = now;
    nextBatchNominal = Math.max(nextBatchNominal + 100 * MS, now + MS);
    long late = noise.batchJitterNanos() == 0 ? 0 : noiseRandom.nextLong(noise.batchJitterNanos() + 1);
    schedule(nextBatchNominal + late, Kind.BATCH, 0);
  }

  private long nextPause(double perSecond) {
    return (long) (-SECOND / perSecond * Math.log(1 - noiseRandom.nextDouble()));
  }

  private long pauseLength() {
    return noise.pauseMinNanos() + noiseRandom.nextLong(noise.pauseMaxNanos() - noise.pauseMinNanos() + 1);
  }

  private double gaussian() {
    // Box-Muller on the noise stream
    double u = 1 - noiseRandom.nextDouble();
    double v = noiseRandom.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Work per nanosecond each request in service receives now. */
  private double serviceRate() {
    if (backendPauses > 0) {
      return 0;
    }
    return model.perRequestRate(inService.size()) * rateFactor * warmFactor;
  }

  /** What the Controller actor does on its window tick. */
  private void onWindow() {
    if (window.isEmpty()) {
      windowStart = now;
      return;
    }
    WindowSample sample = window.drain(now - windowStart, toldLimit);
    windowStart = now;
    algorithm.onSample(sample);
    int next = clamp(algorithm.limit());
    if (next != toldLimit) {
      toldLimit = next;
      schedule(now + PROPAGATION_NANOS, Kind.APPLY_LIMIT, next);
    }
  }

  private void dispatch() {
    if (nodePauses > 0) {
      return;
    }
    while (inService.size() < limit && !waiting.isEmpty()) {
      Request r = waiting.pollFirst();
      r.dispatchedAt = now;
      r.finishWork = virtualWork + exponential(1.0);
      inService.add(r);
      maxInFlight = Math.max(maxInFlight, inService.size());
      int bucket = (int) (now / BUCKET_NANOS);
      if (bucket < inFlightPerBucket.length) {
        inFlightPerBucket[bucket] = Math.max(inFlightPerBucket[bucket], inService.size());
      }
    }
  }

  private void complete() {
    Request r = inService.poll();
    long rtt = now - r.dispatchedAt;
    completed++;
    sumRttNanos += rtt;
    minRttNanos = Math.min(minRttNanos, rtt);
    maxRttNanos = Math.max(maxRttNanos, rtt);
    int bucket = (int) (now / BUCKET_NANOS);
    goodputPerBucket[bucket]++;
    schedule(now + think(), Kind.ARRIVAL, 0);
    dispatch();
  }

  private long nextCompletionAt() {
    Request first = inService.peek();
    if (first == null) {
      return Long.MAX_VALUE;
    }
    double rate = serviceRate();
    if (rate <= 0) {
      return Long.MAX_VALUE;
    }
    double remaining = Math.max(0, first.finishWork - virtualWork);
    return virtualWorkAt + Math.max(0, (long) Math.ceil(remaining / rate));
  }

  private void advanceTo(long at) {
    virtualWork += (at - virtualWorkAt) * serviceRate();
    virtualWorkAt = at;
    int fromBucket = (int) (now / BUCKET_NANOS);
    int toBucket = (int) (at / BUCKET_NANOS);
    for (int b = fromBucket; b < toBucket && b < limitPerBucket.length; b++) {
      limitPerBucket[b] = limit;
    }
    now = at;
    clock.nowNanos = at;
    if (toBucket < limitPerBucket.length) {
      limitPerBucket[toBucket] = limit;
    }
  }

  private void schedule(long at, Kind kind, int value) {
    events.add(new Event(at, seq++, kind, value));
  }

  private long think() {
    return (long) exponential(settings.thinkNanos());
  }

  private double exponential(double mean) {
    return -mean * Math.log(1 - random.nextDouble());
  }

  private int clamp(int l) {
    return Math.max(1, Math.max(settings.min(), Math.min(settings.max(), l)));
  }

  /** What a run measured, per 100 ms bucket. */
  public record Result(long[] goodputPerBucket, int[] limitPerBucket, int[] inFlightPerBucket, long bucketNanos) {

    /** Completed requests per second between two times. */
    public double goodput(long fromNanos, long toNanos) {
      int from = (int) (fromNanos / bucketNanos);
      int to = (int) Math.min(goodputPerBucket.length, toNanos / bucketNanos);
      long sum = 0;
      for (int b = from; b < to; b++) {
        sum += goodputPerBucket[b];
      }
      return to <= from ? 0 : sum * 1e9 / ((to - from) * bucketNanos);
    }

    /** The mean limit between two times. */
    public double meanLimit(long fromNanos, long toNanos) {
      int from = (int) (fromNanos / bucketNanos);
      int to = (int) Math.min(limitPerBucket.length, toNanos / bucketNanos);
      double sum = 0;
      for (int b = from; b < to; b++) {
        sum += limitPerBucket[b];
      }
      return to <= from ? 0 : sum / (to - from);
    }

    /** The highest limit in force at any time. */
    public int maxLimit() {
      int m = 0;
      for (int l : limitPerBucket) {
        m = Math.max(m, l);
      }
      return m;
    }

    /** The most requests in service at the back-end at any time between two times. */
    public int maxInFlight(long fromNanos, long toNanos) {
      int from = (int) (fromNanos / bucketNanos);
      int to = (int) Math.min(inFlightPerBucket.length, toNanos / bucketNanos);
      int m = 0;
      for (int b = from; b < to; b++) {
        m = Math.max(m, inFlightPerBucket[b]);
      }
      return m;
    }

    /**
     * Time from {@code changeNanos} until goodput over every 1-second span that starts
     * after it and ends by {@code endNanos} is at least {@code target} requests per second;
     * -1 if that never happens.
     */
    public long reconvergeNanos(long changeNanos, long endNanos, double target) {
      long span = 1_000_000_000L;
      List<Long> starts = new ArrayList<>();
      for (long t = changeNanos; t + span <= endNanos; t += bucketNanos) {
        starts.add(t);
      }
      long answer = -1;
      for (int i = starts.size() - 1; i >= 0; i--) {
        long t = starts.get(i);
        if (goodput(t, t + span) >= target) {
          answer = t - changeNanos;
        } else {
          break;
        }
      }
      return answer;
    }
  }
}
