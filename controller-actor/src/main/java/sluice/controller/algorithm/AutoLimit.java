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
  private boolean runBound = true;

  private boolean havePrevious;
  private int previousLimit;
  private double previousGoodput;
  private boolean previousBound;

  private AutoLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.kneeGain = Params.checkDouble("knee-gain", b.kneeGain, 0, 0.9);
    this.probe = Params.checkDouble("probe", b.probe, 0.01, 0.5);
    this.minSamples = Params.checkInt("min-samples", b.minSamples, 1, 1_000_000);
    this.minMove = Math.log1p(probe) / 4;
    this.maxMove = Math.log(2);
    this.gainPerError = 0.5;
    this.centre = b.initial;
    this.move = minMove * 4;
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
      // a window measured under another limit (the first, or one cut short): skip it
      return;
    }
    runCompleted += s.completed();
    runNanos += s.windowNanos();
    runBound &= s.limitBound();
    if (runCompleted < minSamples || runNanos <= 0) {
      return;
    }
    double goodput = runCompleted * 1e9 / runNanos;
    int limitNow = probeLimit;
    boolean boundNow = runBound;
    runCompleted = 0;
    runNanos = 0;
    runBound = true;
    if (havePrevious && previousLimit != limitNow) {
      step(limitNow, goodput, boundNow);
    }
    havePrevious = true;
    previousLimit = limitNow;
    previousGoodput = goodput;
    previousBound = boundNow;
    probingUp = !probingUp;
    probeLimit = probeLimitFor(probingUp);
  }

  private void step(int limitNow, double goodput, boolean boundNow) {
    boolean nowIsUpper = limitNow > previousLimit;
    int upper = nowIsUpper ? limitNow : previousLimit;
    int lower = nowIsUpper ? previousLimit : limitNow;
    double upperGoodput = nowIsUpper ? goodput : previousGoodput;
    double lowerGoodput = nowIsUpper ? previousGoodput : goodput;
    boolean upperBound = nowIsUpper ? boundNow : previousBound;
    boolean lowerBound = nowIsUpper ? previousBound : boundNow;
    if (upperGoodput <= 0 || lowerGoodput <= 0) {
      if (upperGoodput < lowerGoodput) {
        moveCentre(-1, 1);
      }
      return;
    }
    double elasticity = Math.log(upperGoodput / lowerGoodput) / Math.log((double) upper / lower);
    double error = elasticity - kneeGain;
    if (System.getProperty("sluice.debug") != null) System.out.printf("c=%.2f up=%d(%.0f,%b) low=%d(%.0f,%b) E=%.3f move=%.3f%n", centre, upper, upperGoodput, upperBound, lower, lowerGoodput, lowerBound, elasticity, move);
    if (error > 0 && !(upperBound && lowerBound)) {
      return;
    }
    moveCentre(error > 0 ? 1 : -1, Math.abs(error));
  }

  private void moveCentre(int sign, double error) {
    if (sign == lastSign) {
      move = Math.min(maxMove, move * 1.5);
    } else {
      move = Math.max(minMove, move * 0.5);
    }
    lastSign = sign;
    double size = Math.min(maxMove, Math.max(move, gainPerError * error));
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
    private double probe = 0.1;
    private int minSamples = 200;

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

    /** Completed requests a probe gathers before it counts, [1, 1000000]; default 200. */
    public Builder minSamples(int minSamples) {
      this.minSamples = minSamples;
      return this;
    }

    public AutoLimit build() {
      return new AutoLimit(this);
    }
  }
}
