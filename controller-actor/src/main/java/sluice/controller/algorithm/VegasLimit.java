package sluice.controller.algorithm;

import java.util.random.RandomGenerator;

/**
 * Delay-based limit after TCP Vegas and Netflix concurrency-limits' VegasLimit. The queue
 * the limit builds inside the back-end is estimated as
 * {@code limit * (1 - noLoadRtt / rtt)}; the limit grows quickly while that queue is
 * below log10(limit), slowly below {@code alpha * log10(limit)}, and shrinks above
 * {@code beta * log10(limit)}.
 *
 * <p>We only see windows, not single requests, so {@code rtt} is a window's mean response
 * time and {@code noLoadRtt} the lowest window mean seen since the last probe (the
 * per-request minimum is skewed by small requests). Every {@code probe-multiplier * limit}
 * completed requests (with jitter) the no-load estimate is forgotten and re-learnt, so that
 * a back-end that became slower is not mistaken for a queue forever.
 *
 * <p>State: limit; noLoadRttNanos (0 = unknown); completions until the next probe.
 */
public final class VegasLimit implements LimitAlgorithm {
  private final Bounds bounds;
  private final double alpha;
  private final double beta;
  private final double smoothing;
  private final int probeMultiplier;
  private final RandomGenerator random;
  private double limit;
  private long noLoadRttNanos;
  private long completionsToProbe;

  private VegasLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.alpha = Params.checkDouble("alpha", b.alpha, 0.5, 100);
    this.beta = Params.checkDouble("beta", b.beta, 0.5, 100);
    if (beta <= alpha) {
      throw new IllegalArgumentException("beta must be greater than alpha (" + alpha + "), was " + beta);
    }
    this.smoothing = Params.checkDouble("smoothing", b.smoothing, 0.01, 1.0);
    this.probeMultiplier = Params.checkInt("probe-multiplier", b.probeMultiplier, 1, 100_000);
    if (b.random == null) {
      throw new IllegalArgumentException("random must be given");
    }
    this.random = b.random;
    this.limit = b.initial;
    scheduleProbe();
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return bounds.clamp(limit);
  }

  @Override
  public void onSample(WindowSample s) {
    if (s.completed() == 0 && s.dropped() == 0) {
      return;
    }
    completionsToProbe -= s.completed();
    if (completionsToProbe <= 0) {
      noLoadRttNanos = 0;
      scheduleProbe();
    }
    long rtt = s.meanRttNanos();
    if (rtt > 0 && (noLoadRttNanos == 0 || rtt < noLoadRttNanos)) {
      noLoadRttNanos = rtt;
    }
    double log = Math.max(1, Math.log10(limit));
    double next;
    if (s.dropped() > 0) {
      next = limit - log;
    } else if (!s.limitBound() || rtt <= 0) {
      return;
    } else {
      double queue = Math.ceil(limit * (1 - (double) noLoadRttNanos / rtt));
      if (queue <= log) {
        next = limit + beta * log;
      } else if (queue < alpha * log) {
        next = limit + log;
      } else if (queue > beta * log) {
        next = limit - log;
      } else {
        return;
      }
    }
    next = Math.max(bounds.min(), Math.min(bounds.max(), next));
    limit = (1 - smoothing) * limit + smoothing * next;
  }

  private void scheduleProbe() {
    double jitter = 0.5 + 0.5 * random.nextDouble();
    completionsToProbe = (long) Math.ceil(probeMultiplier * Math.max(1, limit) * jitter);
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private double alpha = 3;
    private double beta = 6;
    private double smoothing = 1.0;
    private int probeMultiplier = 30;
    private RandomGenerator random;

    private Builder() {}


    /** Queue (in units of log10(limit)) below which the limit grows; default 3. */
    public Builder alpha(double alpha) {
      this.alpha = alpha;
      return this;
    }

    /** Queue (in units of log10(limit)) above which the limit shrinks; default 6. */
    public Builder beta(double beta) {
      this.beta = beta;
      return this;
    }

    /** Weight of the new limit against the old, in [0.01, 1]; default 1. */
    public Builder smoothing(double smoothing) {
      this.smoothing = smoothing;
      return this;
    }

    /** Re-learn the no-load RTT every this many times limit completions; default 30. */
    public Builder probeMultiplier(int probeMultiplier) {
      this.probeMultiplier = probeMultiplier;
      return this;
    }

    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    public VegasLimit build() {
      return new VegasLimit(this);
    }
  }
}
