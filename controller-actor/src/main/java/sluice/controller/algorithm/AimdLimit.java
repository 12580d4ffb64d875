package sluice.controller.algorithm;

import java.time.Duration;

/**
 * Additive increase, multiplicative decrease, after Netflix concurrency-limits' AIMDLimit:
 * a window with a dropped request or a response slower than the timeout multiplies the
 * limit by the backoff ratio; a window in which the limit held requests back adds
 * {@code increase}. It finds no knee by itself: against a back-end that slows down
 * without failing it climbs to max.
 */
public final class AimdLimit implements LimitAlgorithm {
  private final Bounds bounds;
  private final double backoffRatio;
  private final int increase;
  private final long timeoutNanos;
  private int limit;

  private AimdLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.backoffRatio = Params.checkDouble("backoff-ratio", b.backoffRatio, 0.5, 0.99);
    this.increase = Params.checkInt("increase", b.increase, 1, 1000);
    if (b.timeout.isNegative() || b.timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + b.timeout);
    }
    this.timeoutNanos = b.timeout.toNanos();
    this.limit = b.initial;
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return limit;
  }

  @Override
  public void onSample(WindowSample s) {
    if (s.dropped() > 0 || s.maxRttNanos() > timeoutNanos) {
      limit = bounds.clamp(Math.min(limit - 1, (long) Math.floor(limit * backoffRatio)));
    } else if (s.limitBound()) {
      limit = bounds.clamp((long) limit + increase);
    }
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private double backoffRatio = 0.9;
    private int increase = 1;
    private Duration timeout = Duration.ofSeconds(5);

    private Builder() {}


    /** Factor applied on a drop or timeout, in [0.5, 0.99]; default 0.9. */
    public Builder backoffRatio(double ratio) {
      this.backoffRatio = ratio;
      return this;
    }

    /** Added per window that was limit-bound, in [1, 1000]; default 1. */
    public Builder increase(int increase) {
      this.increase = increase;
      return this;
    }

    /** A response slower than this counts as a drop; default 5 s. */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    public AimdLimit build() {
      return new AimdLimit(this);
    }
  }
}
