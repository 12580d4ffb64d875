package sluice.controller.algorithm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Finds the concurrency at which a back-end completes the most requests per second, knowing
 * nothing about it beforehand, and follows it when the back-end changes. The default
 * algorithm.
 *
 * <p>How: a compass search on measured goodput. The limit dwells at a centre and now and
 * then probes one point above or below it, at a step in log units. A probe is judged against
 * the centre runs just before and after it (which cancels slow drift): its elasticity
 * {@code E = d ln(goodput) / d ln(concurrency)} is about 1 while the back-end still scales,
 * 0 at the knee, negative past it. A probe above succeeds when E is beyond the noise above
 * {@code knee-gain}, a probe below when E is beyond the noise under it; the centre then moves
 * to the probe and the next probe goes on in the same direction, twice as far if the last
 * move went that way too (exponential search: a fast start and a fast recovery). When both
 * sides fail the step halves, down to {@code probe}. At that smallest step the probes'
 * elasticities are pooled over many visits (older ones weigh less), so small differences
 * still become significant when they last. Goodput counts completed requests only: errors
 * are not throughput.
 *
 * <p>A change of the back-end (its goodput at an unchanged centre limit moves by far more
 * than noise, against either of the last two centre runs, and one more centre run confirms
 * it) starts a survey: limits a doubling apart, first towards where the change points (down
 * when goodput fell, up when it rose), one run each, until the best has a worse neighbour on
 * both sides, then one run half a doubling either side of the top of a quadratic through them
 * (ln goodput over ln concurrency: only a single peak is assumed, no model). The top of the
 * quadratic through all of them becomes the centre, and the compass search goes on from there
 * at its smallest step. A survey run that was not limit-bound hands over to the compass search
 * at its largest step. A probe that was not limit-bound (nothing waited, the back-end never
 * reached the limit) says nothing about higher limits: it never raises the centre, so a
 * back-end that never thrashes gets max, and one that is not loaded keeps its limit.
 *
 * <p>Noise: a real host's goodput varies far more than Poisson (CPU contention, pauses, timer
 * jitter). Each pair of centre runs after the same probe at one centre measures that excess;
 * every significance test (a probe's elasticity, a change) counts it, so noise neither looks
 * like gain on the start-up climb nor like a change of the back-end. Where one visit's
 * elasticity would be too noisy to tell the knee apart, the smallest probe distance grows (up to
 * half as much again).
 *
 * <p>State: the centre limit and the step; whether the run being gathered is a centre run, a
 * probe or a survey run, and what it has gathered; the last two centre runs at the current
 * centre and the probe waiting for the centre run after it; which sides failed at the current
 * step; the pooled evidence of each side at the smallest step; while a change waits for its
 * confirmation, the runs it was seen against; during a survey, its runs; the host's noise.
 * All of it changes only in {@link #onSample}.
 */
public final class AutoLimit implements LimitAlgorithm {
  /** How many standard deviations a probe's evidence must clear to move the centre. */
  private static final double MOVE_Z = 1.5;
  /** How many standard deviations a centre run must differ from the last one to be a change. */
  private static final double CHANGE_Z = 3;
  /** And by at least this much goodput (log units): noise on a busy back-end is not a change. */
  private static final double CHANGE_LOG = Math.log(1.25);
  /** The same while searching at a larger step, where a wrong move is soon undone. */
  private static final double SEARCH_Z = 0.5;
  /** The same for the pooled slope across the centre. */
  private static final double ACROSS_Z = 1.5;
  /** Weight old evidence keeps each time the same side is probed again. */
  private static final double EVIDENCE_DECAY = 0.8;
  /** A survey window whose concurrency is this far (log units) from its limit is left out. */
  private static final double BLURRED_LOG = Math.log(1.15);
  /**
   * Before any centre runs were compared, the variance of ln goodput beyond Poisson assumed for
   * a run of 250 ms (10% standard deviation): a start-up climb must not mistake the noise of a
   * real host for gain.
   */
  private static final double PRIOR_EXCESS_VARIANCE_NANOS = 0.1 * 0.1 * 250e6;
  /** How many comparisons of centre runs that assumption is worth. */
  private static final double PRIOR_WEIGHT = 2;
  /** Weight an older comparison of centre runs keeps each time a new one comes in. */
  private static final double NOISE_DECAY = 0.97;
  /** The most standard deviation of one visit's elasticity the smallest probe distance allows. */
  private static final double REST_SIGMA = 0.5;
  /**
   * But never further than half as much again: a probe costs goodput, and it blurs the centre
   * run after it, which looks like more noise.
   */
  private static final double MAX_REST_STEP = Math.log(1.5);
  /** A run ends after this long even with few completions, so a failing back-end is seen. */
  private static final long MAX_RUN_NANOS = 2_000_000_000L;

  private final Bounds bounds;
  private final double kneeGain;
  private final int minSamples;
  private final double minStep;
  private final double maxStep;

  private int centre;
  private double step;
  private int lastMoveSign;
  private boolean probingUp = true;
  private boolean failedUp;
  private boolean failedDown;
  private final Evidence upEvidence = new Evidence();
  private final Evidence downEvidence = new Evidence();
  /** Pooled evidence of the two sides' probes against each other: the slope across the centre. */
  private final Evidence acrossEvidence = new Evidence();
  /** The last probe run on each side of the current centre at the current step, or null. */
  private Run lastUp;
  private Run lastDown;

  /** The limit the current run is gathered at; a probe when it differs from the centre. */
  private int runLimit;
  private boolean runIsProbe;
  private int runCompleted;
  private long runNanos;
  private double runRttNanos;
  private boolean runBound = true;
  /** Whether the run left out its first window as blurred. */
  private boolean runSkipped;

  /** The last centre run at the current centre, null when there is none yet. */
  private Run lastCentre;
  /** The centre run before that one at the current centre, or null. */
  private Run olderCentre;
  /** A finished probe waiting for the centre run after it. */
  private Run probeRun;
  /** The survey after a change of the back-end, null when none is going on. */
  private Survey survey;
  /** While a suspected change waits for its confirming run: the centre run it is against. */
  private Run changeReference;
  /** Meanwhile, the probe before the suspect run and the centre run before that probe, or null. */
  private Run suspectedProbe;
  private Run centreBeforeProbe;
  /** While a suspected change waits for its confirming run: the run that showed it. */
  private Run suspectRun;
  /** The last probe on each side and the centre run after it, for {@link #observeNoise}. */
  private final Run[] centreAfterUp = new Run[2];
  private final Run[] centreAfterDown = new Run[2];
  /**
   * The observed variance of ln goodput of a run beyond Poisson, times the run's length (noise
   * of the host averages out over time): decayed sums over pairs of centre runs that followed
   * the same probe at the same centre, and over false alarms of a change, with a prior.
   */
  private double excessSum = PRIOR_EXCESS_VARIANCE_NANOS * PRIOR_WEIGHT;
  private double excessWeight = PRIOR_WEIGHT;
  /** Changes of the back-end confirmed so far (each started a survey). */
  private int changesSeen;

  private AutoLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    this.kneeGain = Params.checkDouble("knee-gain", b.kneeGain, 0, 0.9);
    double probe = Params.checkDouble("probe", b.probe, 0.01, 0.5);
    this.minSamples = Params.checkInt("min-samples", b.minSamples, 1, 1_000_000);
    this.minStep = Math.log1p(probe);
    this.maxStep = Math.max(minStep, Math.log(2));
    this.centre = b.initial;
    this.step = maxStep;
    this.runLimit = centre;
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return runLimit;
  }

  /** How many changes of the back-end were confirmed so far, each starting a survey. */
  public int changesSeen() {
    return changesSeen;
  }

  /** The limit the probes go out from. */
  public double centre() {
    return centre;
  }

  @Override
  public void onSample(WindowSample s) {
    if (s.limit() != runLimit) {
      // measured under another limit (the first window, or a decision not yet in force)
      return;
    }
    if (survey != null && runNanos == 0 && !runSkipped && blurred(s)) {
      // the back-end still saw the limit before (draining it, or the window began under it)
      runSkipped = true;
      return;
    }
    runCompleted += s.completed();
    runNanos += s.windowNanos();
    runRttNanos += (double) s.meanRttNanos() * (s.completed() + s.dropped());
    runBound &= s.limitBound();
    if (runNanos <= 0 || runCompleted < runSamples() && runNanos < MAX_RUN_NANOS) {
      return;
    }
    Run run = new Run(runLimit, runCompleted, runNanos, runRttNanos, runBound);
    runCompleted = 0;
    runNanos = 0;
    runRttNanos = 0;
    runBound = true;
    runSkipped = false;
    if (survey != null) {
      onSurveyRun(run);
    } else if (runIsProbe) {
      probeRun = run;
      nextRun(false);
    } else {
      onCentreRun(run);
    }
  }

  /** Whether a window's concurrency (Little's law) is far from its limit though the limit held. */
  private static boolean blurred(WindowSample s) {
    if (s.windowNanos() <= 0 || s.completed() + s.dropped() == 0 || !s.limitBound()) {
      return false;
    }
    double concurrency = (double) s.meanRttNanos() * (s.completed() + s.dropped()) / s.windowNanos();
    return Math.abs(Math.log(concurrency / s.limit())) > BLURRED_LOG;
  }

  /** Runs at rest gather twice as much: there the differences are small. */
  private int runSamples() {
    return step <= minStep && survey == null ? 2 * minSamples : minSamples;
  }

  /**
   * One run at one limit: completions, its length, the summed response time of what ended
   * in it (over the length: the mean concurrency the back-end saw, by Little's law), and
   * whether the limit held requests back.
   */
  private record Run(int limit, int completed, long nanos, double rttNanos, boolean bound) {
    double goodput() {
      return (completed + 0.5) / nanos;
    }

    double concurrency() {
      return rttNanos / nanos;
    }
  }

  private void onCentreRun(Run after) {
    Run before = lastCentre;
    Run older = olderCentre;
    Run probe = probeRun;
    probeRun = null;
    olderCentre = before;
    lastCentre = after;
    // against the run before the last as well: a change inside a run blurs that run
    Run reference = before != null && changed(before, after) ? before
        : older != null && changed(older, after) ? older : null;
    if (reference != null) {
      suspectChange(reference, after);
      suspectRun = after;
      suspectedProbe = probe;
      centreBeforeProbe = before;
      return;
    }
    if (probe != null) {
      // against the last centre run after a probe at the same place: the same blur, 1 s apart
      boolean up = probe.limit() > after.limit();
      Run[] last = up ? centreAfterUp : centreAfterDown;
      if (last[0] != null && last[0].limit() == probe.limit() && last[1].limit() == after.limit()) {
        observeNoise(last[1], after);
      }
      last[0] = probe;
      last[1] = after;
      judge(probe, before, after);
    }
    nextRun(true);
  }

  /**
   * Goodput at the centre moved far beyond noise. One more centre run confirms the change (a
   * run can be an outlier) and is the survey's first point; the run that showed the change is
   * left out of it, as it holds some of the back-end before the change.
   */
  private void suspectChange(Run reference, Run after) {
    changeReference = reference;
    survey = new Survey(centre, after.goodput() < reference.goodput() ? -1 : 1);
    runLimit = survey.limit();
    runIsProbe = false;
  }

  private void onSurveyRun(Run run) {
    if (changeReference != null) {
      Run reference = changeReference;
      Run suspect = suspectRun;
      changeReference = suspectRun = null;
      boolean fell = run.goodput() < reference.goodput();
      if (!changed(reference, run) || fell != survey.sign < 0) {
        // an outlier: the compass search goes on as if it had not been, and knows the noise better
        observeNoise(reference, suspect);
        observeNoise(suspect, run);
        survey = null;
        lastCentre = run;
        olderCentre = null;
        if (suspectedProbe != null) {
          judge(suspectedProbe, centreBeforeProbe, run);
        }
        suspectedProbe = centreBeforeProbe = null;
        nextRun(true);
        return;
      }
      lastCentre = olderCentre = suspectedProbe = centreBeforeProbe = null;
      forgetEvidence();
      changesSeen++;
    }
    if (!run.bound()) {
      // demand, not capacity, may have changed: the compass search knows what to do then
      int sign = survey.sign;
      survey = null;
      restart(sign);
      nextRun(true);
      return;
    }
    if (survey.add(run)) {
      runLimit = survey.limit();
      return;
    }
    centre = survey.peak();
    survey = null;
    step = minStep;
    lastMoveSign = 0;
    forgetEvidence();
    nextRun(false);
  }

  /** Whether the back-end changed between two centre runs at the same limit. */
  private boolean changed(Run before, Run after) {
    double diff = Math.abs(Math.log(after.goodput() / before.goodput()));
    double sigma = Math.sqrt(variance(before) + variance(after));
    return diff > CHANGE_LOG && diff > CHANGE_Z * sigma;
  }

  /**
   * The variance of ln goodput of a run: Poisson, and the host's noise seen so far (more than
   * Poisson on a real host: CPU contention, pauses, timer jitter; less the longer the run).
   */
  private double variance(Run r) {
    return 1.0 / (r.completed() + 0.5) + Math.max(0, excessSum / excessWeight) / r.nanos();
  }

  /**
   * Two centre runs at one centre with no change between them, each after the same probe (so
   * the probe's blur cancels): how far apart they are beyond Poisson is the host's noise
   * (unbiased per pair, so it may come out negative).
   */
  private void observeNoise(Run a, Run b) {
    double diff = Math.log(b.goodput() / a.goodput());
    double excess = diff * diff - 1.0 / (a.completed() + 0.5) - 1.0 / (b.completed() + 0.5);
    excessSum = excessSum * NOISE_DECAY + excess / (1.0 / a.nanos() + 1.0 / b.nanos());
    excessWeight = excessWeight * NOISE_DECAY + 1;
  }

  private void restart(int sign) {
    step = maxStep;
    lastMoveSign = 0;
    probingUp = sign > 0;
    forgetEvidence();
  }

  private void forgetEvidence() {
    failedUp = failedDown = false;
    upEvidence.clear();
    downEvidence.clear();
    acrossEvidence.clear();
    lastUp = lastDown = null;
  }

  /** Judges a probe against the centre runs around it (before may be null) and moves. */
  private void judge(Run probe, Run before, Run after) {
    int completed = after.completed() + (before == null ? 0 : before.completed());
    long nanos = after.nanos() + (before == null ? 0 : before.nanos());
    double rtt = after.rttNanos() + (before == null ? 0 : before.rttNanos());
    Run centreRun = new Run(after.limit(), completed, nanos, rtt, after.bound());
    boolean up = probe.limit() > centreRun.limit();
    // The concurrency the back-end really saw, not the limits: a run's first window also
    // holds some of the run before it, which would otherwise flatten the slope.
    double nominal = Math.log((double) probe.limit() / centreRun.limit());
    double spread = Math.log(probe.concurrency() / centreRun.concurrency());
    if (!(spread / nominal >= 0.5)) {
      spread = nominal;
    }
    double elasticity = Math.log(probe.goodput() / centreRun.goodput()) / spread;
    double sigma = Math.sqrt(variance(probe) + variance(centreRun)) / Math.abs(spread);
    boolean usable = !up || probe.bound() && after.bound() || elasticity < kneeGain;
    double error = elasticity - kneeGain;
    if (usable && step <= minStep) {
      Evidence e = up ? upEvidence : downEvidence;
      e.add(error, sigma);
      error = e.mean();
      sigma = e.sigma();
    }
    double towards = up ? error : -error;
    Run other = up ? lastDown : lastUp;
    if (up) {
      lastUp = probe;
    } else {
      lastDown = probe;
    }
    if (usable && towards > (step <= minStep ? MOVE_Z : SEARCH_Z) * sigma) {
      moveTo(probe);
      return;
    }
    if (step <= minStep && other != null && acrossSignificant(up ? probe : other, up ? other : probe)) {
      return;
    }
    fail(up);
  }

  /**
   * The two sides' last probes against each other (twice the spread of one side against the
   * centre, so half the noise): moves to the side the pooled slope points to, if significant.
   */
  private boolean acrossSignificant(Run upper, Run lower) {
    double nominal = Math.log((double) upper.limit() / lower.limit());
    double spread = Math.log(upper.concurrency() / lower.concurrency());
    if (!(spread / nominal >= 0.5)) {
      spread = nominal;
    }
    double elasticity = Math.log(upper.goodput() / lower.goodput()) / spread;
    double sigma = Math.sqrt(variance(upper) + variance(lower)) / Math.abs(spread);
    if (elasticity > kneeGain && !(upper.bound() && lower.bound())) {
      return false;
    }
    acrossEvidence.add(elasticity - kneeGain, sigma);
    double error = acrossEvidence.mean();
    if (Math.abs(error) <= ACROSS_Z * acrossEvidence.sigma()) {
      return false;
    }
    moveTo(error > 0 ? upper : lower);
    return true;
  }

  private void moveTo(Run probe) {
    int sign = probe.limit() > centre ? 1 : -1;
    if (sign == lastMoveSign) {
      step = Math.min(maxStep, step * 2);
    }
    lastMoveSign = sign;
    centre = probe.limit();
    lastCentre = probe;
    olderCentre = null;
    probingUp = sign > 0;
    forgetEvidence();
  }

  private void fail(boolean up) {
    if (up) {
      failedUp = true;
    } else {
      failedDown = true;
    }
    boolean otherPossible = up ? probeLimit(false) != centre : probeLimit(true) != centre;
    if ((failedUp || !canProbe(true)) && (failedDown || !canProbe(false))) {
      if (step > minStep) {
        step = Math.max(minStep, step / 2);
        forgetEvidence();
      }
      lastMoveSign = 0;
      failedUp = failedDown = false;
    }
    probingUp = otherPossible ? !up : up;
  }

  private boolean canProbe(boolean up) {
    return probeLimit(up) != centre;
  }

  /** Sets up the next run: a probe after a centre run (where one is possible), else the centre. */
  private void nextRun(boolean probeNext) {
    if (probeNext) {
      if (!canProbe(probingUp)) {
        probingUp = !probingUp;
      }
      int limit = probeLimit(probingUp);
      if (limit != centre) {
        runLimit = limit;
        runIsProbe = true;
        return;
      }
    }
    runLimit = centre;
    runIsProbe = false;
  }

  private int probeLimit(boolean up) {
    double distance = Math.max(step, restStep());
    return up
        ? bounds.clamp(Math.max(centre + 1L, Math.round(centre * Math.exp(distance))))
        : bounds.clamp(Math.min(centre - 1L, Math.round(centre * Math.exp(-distance))));
  }

  /**
   * The smallest distance of a probe: {@code probe}, or more where the host is so noisy that
   * one visit's elasticity would have a standard deviation above {@link #REST_SIGMA} (a probe
   * that close would take too many visits to tell the knee from the slope below it).
   */
  private double restStep() {
    if (lastCentre == null) {
      return minStep;
    }
    // a probe against the pooled centre runs on both sides of it: 1.5 runs' variance
    double spread = Math.sqrt(1.5 * variance(lastCentre)) / REST_SIGMA;
    return Math.max(minStep, Math.min(MAX_REST_STEP, spread));
  }

  /**
   * A survey after a change of the back-end. Coarse: limits on a grid of doublings around the
   * centre where the change was seen ({@code anchor * 2^k}), one run each, walking to the
   * better side until the best run has a measured neighbour (or a bound) on both sides. Fine:
   * one run half a doubling either side of the top of a quadratic through them (ln goodput
   * over ln concurrency). The top of the quadratic through all runs, kept between the best
   * coarse run's neighbours, is the survey's answer. No model of the back-end: only that
   * goodput has one peak.
   */
  private final class Survey {
    private final int anchor;
    private final int sign;
    private final TreeMap<Integer, Run> coarse = new TreeMap<>();
    private final List<Run> runs = new ArrayList<>();
    private final ArrayDeque<Integer> fine = new ArrayDeque<>();
    private boolean refining;
    /** The grid point being measured while coarse. */
    private int current;
    private int limit;

    /** Starts at the anchor itself: the run that confirms the change. */
    Survey(int anchor, int sign) {
      this.anchor = anchor;
      this.sign = sign;
      this.limit = anchor;
    }

    /** The limit to measure next. */
    int limit() {
      return limit;
    }

    private int limitAt(int k) {
      return bounds.clamp(anchor * Math.pow(2, k));
    }

    /** Records a run at {@link #limit()}; whether there is another to measure. */
    boolean add(Run run) {
      runs.add(run);
      if (!refining) {
        coarse.put(current, run);
        int best = best();
        for (int side : new int[] {sign, -sign}) {
          int k = best + side;
          if (!coarse.containsKey(k) && limitAt(k) != limitAt(best)) {
            current = k;
            limit = limitAt(k);
            return true;
          }
        }
        refining = true;
        double top = top();
        for (double half : new double[] {-0.5, 0.5}) {
          int l = bounds.clamp(top * Math.pow(2, half));
          if (runs.stream().noneMatch(r -> r.limit() == l) && !fine.contains(l)) {
            fine.add(l);
          }
        }
      }
      if (fine.isEmpty()) {
        return false;
      }
      limit = fine.poll();
      return true;
    }

    private int best() {
      int best = coarse.firstKey();
      for (var e : coarse.entrySet()) {
        if (e.getValue().goodput() > coarse.get(best).goodput()) {
          best = e.getKey();
        }
      }
      return best;
    }

    /** The new centre: the top of the quadratic through every run. */
    int peak() {
      return bounds.clamp(top());
    }

    /**
     * The top of the weighted quadratic through every run so far, between the best coarse
     * run's neighbours; the best coarse run's limit when the runs are not concave.
     */
    private double top() {
      int best = best();
      Run bestRun = coarse.get(best);
      if (runs.size() < 3) {
        return bestRun.limit();
      }
      // weighted least squares of y = c0 + c1 x + c2 x^2, x centred on the best run
      double x0 = x(bestRun);
      double[][] m = new double[3][4];
      for (Run r : runs) {
        double w = r.completed() + 0.5;
        double x = x(r) - x0;
        double y = Math.log(r.goodput());
        double[] p = {1, x, x * x};
        for (int i = 0; i < 3; i++) {
          for (int j = 0; j < 3; j++) {
            m[i][j] += w * p[i] * p[j];
          }
          m[i][3] += w * p[i] * y;
        }
      }
      double[] c = solve(m);
      if (c == null || !(c[2] < 0)) {
        return bestRun.limit();
      }
      double top = x0 - c[1] / (2 * c[2]);
      double low = Math.log(limitAt(best - 1));
      double high = Math.log(limitAt(best + 1));
      return Math.exp(Math.max(low, Math.min(high, top)));
    }

    /** ln of the concurrency the back-end saw in a run, the limit when that is not known. */
    private double x(Run r) {
      double c = r.concurrency();
      return c > 0 ? Math.log(c) : Math.log(r.limit());
    }
  }

  /** Solves a 3x3 linear system given as an augmented matrix; null when singular. */
  private static double[] solve(double[][] m) {
    int n = 3;
    for (int col = 0; col < n; col++) {
      int pivot = col;
      for (int r = col + 1; r < n; r++) {
        if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) {
          pivot = r;
        }
      }
      if (Math.abs(m[pivot][col]) < 1e-12) {
        return null;
      }
      double[] t = m[col];
      m[col] = m[pivot];
      m[pivot] = t;
      for (int r = 0; r < n; r++) {
        if (r != col) {
          double f = m[r][col] / m[col][col];
          for (int k = col; k <= n; k++) {
            m[r][k] -= f * m[col][k];
          }
        }
      }
    }
    return new double[] {m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]};
  }

  /** Pooled evidence of one side: a weighted mean of errors, older ones decayed. */
  private static final class Evidence {
    private double weightedSum;
    private double weight;

    void add(double error, double sigma) {
      double w = 1 / (sigma * sigma);
      weightedSum = weightedSum * EVIDENCE_DECAY + w * error;
      weight = weight * EVIDENCE_DECAY + w;
    }

    double mean() {
      return weightedSum / weight;
    }

    /** Standard deviation of the mean, counting the decayed weights as effective samples. */
    double sigma() {
      return 1 / Math.sqrt(weight);
    }

    void clear() {
      weightedSum = 0;
      weight = 0;
    }
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private double kneeGain = 0.05;
    private double probe = 0.2;
    private int minSamples = 100;

    private Builder() {}


    /**
     * Raise while 1% more limit brings at least this many percent more goodput, [0, 0.9];
     * default 0.05. 0 climbs to the very top of the curve, higher values stop earlier with
     * shorter response times.
     */
    public Builder kneeGain(double kneeGain) {
      this.kneeGain = kneeGain;
      return this;
    }

    /**
     * Smallest distance of a probe from the centre, as a fraction, [0.01, 0.5]; default 0.2.
     * A probe is always at least one away from the centre.
     */
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
