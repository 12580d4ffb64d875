package sluice.controller.algorithm;

/**
 * Finds the concurrency at which a back-end completes the most requests per second, knowing
 * nothing about it beforehand, and follows it when the back-end changes. The default
 * algorithm.
 *
 * <p>How: a continuous two-sided probe (stochastic hill climbing on measured goodput). The
 * limit alternates between a point just above and a point just below a centre. Once both
 * probes have gathered enough completed requests, their goodputs give the local elasticity
 * {@code E = d ln(goodput) / d ln(limit)}: about 1 while the back-end still scales, 0 at the
 * knee, negative past it. The centre moves up while E exceeds {@code knee-gain} and down
 * while it is below; the move grows while the direction holds (exponential search, fast
 * start and fast recovery) and shrinks when it flips (fine settling, noise averaging).
 * Goodput counts completed requests only: errors are not throughput.
 *
 * <p>A probe that was not limit-bound (nothing waited, the back-end never reached the
 * limit) says nothing about higher limits: such a pair never raises the centre. A
 * back-end that never thrashes keeps E near 1 and its limit rises to max.
 *
 * <p>State: centre (a real number in [min, max]); the move size in log units; which probe is
 * running and what the previous probe measured; what the running probe has gathered.
 */
public final class AutoLimit implements LimitAlgorithm {
  private final Bounds bounds;
  private final double kneeGain;
  private final double probe;
  private final int minSamples;
  private final double minMove;
  private final double maxMove;
  private final double gainPerError;

  private double centre;
  private double move;
  private int lastSign;
  private boolean probingUp = true;
  private int probeLimit;

  private int runCompleted;
  private long runNanos;
  private double runRttNanos;
  private boolean runBound = true;

  private Run upper;
  /** Completed requests a run gathers: longer while the probes find nothing significant. */
  private int runSamples;

  private AutoLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.kneeGain = Params.checkDouble("knee-gain", b.kneeGain, 0, 0.9);
    this.probe = Params.checkDouble("probe", b.probe, 0.01, 0.5);
    this.minSamples = Params.checkInt("min-samples", b.minSamples, 1, 1_000_000);
    this.minMove = Math.log1p(probe) / 4;
    this.maxMove = Math.log(2);
    this.gainPerError = 0.6;
    this.centre = b.initial;
    this.move = minMove * 4;
    this.runSamples = minSamples;
    this.probeLimit = probeLimitFor(true);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return probeLimit;
  }

  /** The point the probes straddle. */
  public double centre() {
    return centre;
  }

  @Override
  public void onSample(WindowSample s) {
    if (s.limit() != probeLimit) {
      // measured under another limit (the first window, or a decision not yet in force)
      return;
    }
    runCompleted += s.completed();
    runNanos += s.windowNanos();
    runRttNanos += (double) s.meanRttNanos() * (s.completed() + s.dropped());
    runBound &= s.limitBound();
    if (runCompleted < runSamples || runNanos <= 0) {
      return;
    }
    Run run = new Run(probeLimit, runCompleted, runCompleted * 1e9 / runNanos,
        runRttNanos / runNanos, runBound);
    runCompleted = 0;
    runNanos = 0;
    runRttNanos = 0;
    runBound = true;
    if (probingUp) {
      upper = run;
      probingUp = false;
    } else {
      step(upper, run);
      probingUp = true;
    }
    probeLimit = probeLimitFor(probingUp);
  }

  /**
   * One probe's measurement at one limit: goodput, and the mean concurrency the back-end
   * really saw (Little's law), and whether the limit held requests back.
   */
  private record Run(int limit, int completed, double goodput, double concurrency, boolean bound) {}

  private void step(Run up, Run low) {
    if (up == null || up.limit() <= low.limit()) {
      return;
    }
    if (up.goodput() <= 0 || low.goodput() <= 0) {
      if (up.goodput() < low.goodput()) {
        moveCentre(-1, 1, true);
      }
      return;
    }
    // The concurrency the back-end really saw, not the limits: a run's first window also
    // holds some of the other probe's requests, which would otherwise flatten the slope.
    double nominal = Math.log((double) up.limit() / low.limit());
    double spread = Math.log(up.concurrency() / low.concurrency());
    if (!(spread >= nominal / 2)) {
      spread = nominal;
    }
    double elasticity = Math.log(up.goodput() / low.goodput()) / spread;
    double sigma = Math.sqrt(1.0 / up.completed() + 1.0 / low.completed()) / spread;
    double error = elasticity - kneeGain;
    if (error > 0 && !(up.bound() && low.bound())) {
      return;
    }
    moveCentre(error > 0 ? 1 : -1, Math.abs(error), Math.abs(error) > sigma);
  }

  /**
   * Moves the centre by a factor. A move that is not beyond the noise only drifts by the
   * smallest step; a significant one grows while its direction holds and is at least
   * proportional to how far the elasticity is from the target.
   */
  private void moveCentre(int sign, double error, boolean significant) {
    double size;
    if (!significant) {
      size = minMove;
      runSamples = Math.min(4 * minSamples, runSamples * 2);
    } else {
      runSamples = minSamples;
      move = sign == lastSign ? Math.min(maxMove, move * 1.5) : Math.max(minMove, move * 0.5);
      lastSign = sign;
      size = Math.min(maxMove, Math.max(move, gainPerError * Math.min(1.5, error)));
    }
    centre = Math.max(bounds.min(), Math.min(bounds.max(), centre * Math.exp(sign * size)));
  }

  private int probeLimitFor(boolean up) {
    int c = (int) Math.round(centre);
    int limit = up
        ? Math.max(c + 1, (int) Math.round(centre * (1 + probe)))
        : Math.min(c - 1, (int) Math.round(centre / (1 + probe)));
    return bounds.clamp(limit);
  }

  public static final class Builder {
    private int min = 1;
    private int max = 1000;
    private int initial = 8;
    private double kneeGain = 0.1;
    private double probe = 0.2;
    private int minSamples = 100;

    private Builder() {}

    public Builder bounds(int min, int max, int initial) {
      this.min = min;
      this.max = max;
      this.initial = initial;
      return this;
    }

    /**
     * Raise while 1% more limit brings at least this many percent more goodput, [0, 0.9];
     * default 0.1. 0 climbs to the very top of the curve, higher values stop earlier with
     * shorter response times.
     */
    public Builder kneeGain(double kneeGain) {
      this.kneeGain = kneeGain;
      return this;
    }

    /** Distance of each probe from the centre, as a fraction, [0.01, 0.5]; default 0.1. */
    public Builder probe(double probe) {
      this.probe = probe;
      return this;
    }

    /** Completed requests a probe gathers before it counts, [1, 1000000]; default 100. */
    public Builder minSamples(int minSamples) {
      this.minSamples = minSamples;
      return this;
    }

    public AutoLimit build() {
      return new AutoLimit(this);
    }
  }
}
