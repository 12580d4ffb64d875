package sluice.controller.algorithm;

import java.time.Duration;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;

/**
 * Latency-gradient limit after Envoy's adaptive concurrency filter.
 *
 * <p>Every {@code min-rtt-interval} (delayed by a random jitter of up to {@code jitter}
 * percent of it) the limit is pinned to {@code min-concurrency} until
 * {@code request-count} requests have completed; their mean response time becomes minRTT.
 * In between, each window moves the limit to {@code L*g + sqrt(L*g)} with the gradient
 * {@code g = minRTT * (1 + buffer) / sampleRTT} clamped to [0.5, 2], sampleRTT being the
 * window's mean response time. Five windows in a row at the lowest limit also start a
 * measurement (the back-end may have become faster). A window that was not limit-bound
 * does not raise the limit: it says nothing about more concurrency.
 *
 * <p>State: measuring or not; minRTT; when the next measurement starts; the limit to go
 * back to after measuring.
 */
public final class GradientLimit implements LimitAlgorithm {
  private static final int WINDOWS_AT_MIN_BEFORE_REMEASURE = 5;

  private final Bounds bounds;
  private final double buffer;
  private final double jitter;
  private final long intervalNanos;
  private final int requestCount;
  private final int minConcurrency;
  private final LongSupplier nanoClock;
  private final RandomGenerator random;

  private double limit;
  private boolean measuring = true;
  private double limitBeforeMeasuring;
  private long measuredCount;
  private double measuredRttSum;
  private double minRttNanos;
  private long nextMeasurementNanos;
  private int windowsAtMin;

  private GradientLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.buffer = Params.checkDouble("buffer", b.buffer, 0, 10);
    this.jitter = Params.checkDouble("jitter", b.jitterPercent, 0, 100) / 100;
    if (b.minRttInterval.compareTo(Duration.ofMillis(100)) < 0) {
      throw new IllegalArgumentException(
          "min-rtt-interval must be at least 100ms, was " + b.minRttInterval);
    }
    this.intervalNanos = b.minRttInterval.toNanos();
    this.requestCount = Params.checkInt("request-count", b.requestCount, 1, 1_000_000);
    this.minConcurrency = Params.checkInt("min-concurrency", b.minConcurrency, 1, 100_000);
    if (b.nanoClock == null || b.random == null) {
      throw new IllegalArgumentException("nanoClock and random must be given");
    }
    this.nanoClock = b.nanoClock;
    this.random = b.random;
    this.limit = b.initial;
    this.limitBeforeMeasuring = b.initial;
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return bounds.clamp(measuring ? Math.min(limit, minConcurrency) : limit);
  }

  /** The latest minRTT in nanoseconds, 0 before the first measurement ends. */
  public double minRttNanos() {
    return minRttNanos;
  }

  @Override
  public void onSample(WindowSample s) {
    if (measuring) {
      measure(s);
      return;
    }
    if (nanoClock.getAsLong() - nextMeasurementNanos >= 0) {
      startMeasuring();
      return;
    }
    if (s.completed() == 0 || s.meanRttNanos() <= 0) {
      return;
    }
    double gradient = minRttNanos * (1 + buffer) / s.meanRttNanos();
    gradient = Math.max(0.5, Math.min(2.0, gradient));
    double next = limit * gradient + Math.sqrt(limit * gradient);
    if (!s.limitBound()) {
      next = Math.min(next, limit);
    }
    limit = Math.max(bounds.min(), Math.min(bounds.max(), next));
    windowsAtMin = limit <= bounds.min() ? windowsAtMin + 1 : 0;
    if (windowsAtMin >= WINDOWS_AT_MIN_BEFORE_REMEASURE) {
      startMeasuring();
    }
  }

  private void startMeasuring() {
    measuring = true;
    limitBeforeMeasuring = limit;
    measuredCount = 0;
    measuredRttSum = 0;
    windowsAtMin = 0;
  }

  private void measure(WindowSample s) {
    if (s.completed() == 0) {
      return;
    }
    measuredCount += s.completed();
    measuredRttSum += (double) s.meanRttNanos() * s.completed();
    if (measuredCount >= requestCount) {
      minRttNanos = measuredRttSum / measuredCount;
      measuring = false;
      limit = limitBeforeMeasuring;
      long delay = intervalNanos + (long) (random.nextDouble() * jitter * intervalNanos);
      nextMeasurementNanos = nanoClock.getAsLong() + delay;
    }
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private double buffer = 0.25;
    private double jitterPercent = 15;
    private Duration minRttInterval = Duration.ofSeconds(60);
    private int requestCount = 50;
    private int minConcurrency = 3;
    private LongSupplier nanoClock;
    private RandomGenerator random;

    private Builder() {}


    /** Fraction added to minRTT before it is compared, in [0, 10]; default 0.25. */
    public Builder buffer(double buffer) {
      this.buffer = buffer;
      return this;
    }

    /** Random delay of each minRTT measurement, percent of the interval, [0, 100]; default 15. */
    public Builder jitterPercent(double jitterPercent) {
      this.jitterPercent = jitterPercent;
      return this;
    }

    /** Time between minRTT measurements, at least 100ms; default 60 s. */
    public Builder minRttInterval(Duration interval) {
      this.minRttInterval = interval;
      return this;
    }

    /** Requests that make one minRTT measurement, [1, 1000000]; default 50. */
    public Builder requestCount(int requestCount) {
      this.requestCount = requestCount;
      return this;
    }

    /** Limit while measuring minRTT, [1, 100000]; default 3. */
    public Builder minConcurrency(int minConcurrency) {
      this.minConcurrency = minConcurrency;
      return this;
    }

    public Builder nanoClock(LongSupplier nanoClock) {
      this.nanoClock = nanoClock;
      return this;
    }

    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    public GradientLimit build() {
      return new GradientLimit(this);
    }
  }
}
