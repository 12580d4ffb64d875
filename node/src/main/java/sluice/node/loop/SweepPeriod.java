package sluice.node.loop;

import java.time.Duration;

/**
 * How often a periodic sweep (of timeouts, idle connections) runs: a fraction of the
 * shortest timeout it checks, within bounds, so that a deadline is met to within that
 * fraction without a timer per request.
 */
public final class SweepPeriod {
  private SweepPeriod() {}

  /** {@code timeout / divisor}, but at least {@code min} and at most {@code max}. */
  public static Duration of(Duration timeout, int divisor, Duration min, Duration max) {
    Duration d = timeout.dividedBy(divisor);
    return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
  }
}
