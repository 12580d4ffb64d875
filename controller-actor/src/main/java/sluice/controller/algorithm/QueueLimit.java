package sluice.controller.algorithm;

/**
 * Keeps a few requests waiting at the dispatcher: raises the limit while more than
 * {@code high} requests wait at a window's end, lowers it while fewer than {@code low}
 * wait. A raise must pay for itself: if the window after it did not bring at least
 * {@code min-gain} of the proportional throughput gain, the raise is undone and the
 * limit it reached becomes a ceiling for {@code hold-windows} windows, so the queue cannot
 * push the back-end past its knee.
 *
 * <p>State: limit; the raise being judged (limit and throughput before it), if any; the
 * ceiling and how many windows it has stood.
 */
public final class QueueLimit implements LimitAlgorithm {
  private final Bounds bounds;
  private final int low;
  private final int high;
  private final int step;
  private final double stepRatio;
  private final double minGain;
  private final int holdWindows;

  private int limit;
  private int raisedFrom;
  private double throughputBeforeRaise;
  private int ceiling = Integer.MAX_VALUE;
  private int windowsUnderCeiling;

  private QueueLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.low = Params.checkInt("low", b.low, 0, 1_000_000);
    if (b.high < low) {
      throw new IllegalArgumentException("high must be at least low (" + low + "), was " + b.high);
    }
    this.high = b.high;
    this.step = Params.checkInt("step", b.step, 1, 100_000);
    this.stepRatio = Params.checkDouble("step-ratio", b.stepRatio, 0, 1);
    this.minGain = Params.checkDouble("min-gain", b.minGain, 0, 1);
    this.holdWindows = Params.checkInt("hold-windows", b.holdWindows, 1, 1_000_000);
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
    double throughput = s.throughput();
    if (raisedFrom > 0) {
      int from = raisedFrom;
      raisedFrom = 0;
      double needed = minGain * (limit - from) / from;
      if (throughputBeforeRaise > 0 && (throughput - throughputBeforeRaise) / throughputBeforeRaise < needed) {
        ceiling = limit;
        windowsUnderCeiling = 0;
        limit = from;
        return;
      }
    }
    if (ceiling != Integer.MAX_VALUE && ++windowsUnderCeiling >= holdWindows) {
      ceiling = Integer.MAX_VALUE;
    }
    int delta = Math.max(step, (int) Math.round(limit * stepRatio));
    if (s.queueLength() > high && s.limitBound()) {
      int next = bounds.clamp((long) limit + delta);
      if (next < ceiling && next > limit) {
        raisedFrom = limit;
        throughputBeforeRaise = throughput;
        limit = next;
      }
    } else if (s.queueLength() < low) {
      limit = bounds.clamp((long) limit - delta);
    }
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private int low = 1;
    private int high = 10;
    private int step = 1;
    private double stepRatio = 0.1;
    private double minGain = 0.3;
    private int holdWindows = 20;

    private Builder() {}


    /** Lower the limit while fewer than this many requests wait, [0, 1000000]; default 1. */
    public Builder low(int low) {
      this.low = low;
      return this;
    }

    /** Raise the limit while more than this many requests wait, at least low; default 10. */
    public Builder high(int high) {
      this.high = high;
      return this;
    }

    /** Smallest change of the limit, [1, 100000]; default 1. */
    public Builder step(int step) {
      this.step = step;
      return this;
    }

    /** Change as a fraction of the limit when larger than step, [0, 1]; default 0.1. */
    public Builder stepRatio(double stepRatio) {
      this.stepRatio = stepRatio;
      return this;
    }

    /**
     * Share of the proportional throughput gain a raise must bring to be kept, [0, 1];
     * default 0.3 (a 10% raise must bring 3% more throughput).
     */
    public Builder minGain(double minGain) {
      this.minGain = minGain;
      return this;
    }

    /** Windows a ceiling stands before the limit may probe past it again; default 20. */
    public Builder holdWindows(int holdWindows) {
      this.holdWindows = holdWindows;
      return this;
    }

    public QueueLimit build() {
      return new QueueLimit(this);
    }
  }
}
