package sluice.backend;

import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * Decides which of a back-end's limit changes are worth an INFO line: the first limit and a
 * large move (by {@value #LARGE_FACTOR}x or more either way) at once; small moves as one
 * summary at most every {@code summaryEvery} ("limit 24 -> 31 over 5.0 s, 12 decisions, last:
 * ..."), returned at the first decision or {@link #tick} once that time has passed. Plain Java
 * with an injected clock; the entity logs what it returns at INFO (and every decision at DEBUG).
 *
 * <p>State: the limit the last INFO line ended at ({@code shownLimit}, 0 before the first),
 * and the small decisions since then: how many, when the first came, the latest limit and
 * reason. A line always ends the run of decisions it summarises.
 */
final class LimitChangeLog {
  static final double LARGE_FACTOR = 2.0;

  /**
   * What one INFO line says: the limit went {@code from -> to} (from 0: the first limit) in
   * {@code decisions} decisions over {@code seconds}, between {@code lowest} and
   * {@code highest} on the way, the last one for {@code lastReason}.
   */
  record Summary(int from, int to, int lowest, int highest, double seconds, int decisions, String lastReason) {
    boolean first() {
      return from == 0;
    }
  }

  private final long summaryNanos;
  private final LongSupplier nanoClock;
  private int shownLimit;
  private int decisions;
  private long firstDecisionNanos;
  private int latestLimit;
  private int lowest;
  private int highest;
  private String latestReason = "";

  LimitChangeLog(Duration summaryEvery, LongSupplier nanoClock) {
    this.summaryNanos = summaryEvery.toNanos();
    this.nanoClock = nanoClock;
  }

  /**
   * A decision moved the limit to {@code limit} (from the latest one).
   *
   * @return the INFO line to write now, if any
   */
  Optional<Summary> decided(int limit, String reason) {
    long now = nanoClock.getAsLong();
    if (decisions == 0) {
      firstDecisionNanos = now;
      lowest = limit;
      highest = limit;
    }
    decisions++;
    lowest = Math.min(lowest, limit);
    highest = Math.max(highest, limit);
    latestLimit = limit;
    latestReason = reason;
    if (shownLimit == 0 || isLarge(shownLimit, limit)) {
      return Optional.of(summary(now)); // the first limit, or a large move
    }
    return due(now);
  }

  /** Time passes: the summary of small decisions, once it is due. */
  Optional<Summary> tick() {
    return decisions == 0 ? Optional.empty() : due(nanoClock.getAsLong());
  }

  private Optional<Summary> due(long now) {
    return now - firstDecisionNanos >= summaryNanos ? Optional.of(summary(now)) : Optional.empty();
  }

  private Summary summary(long now) {
    Summary s = new Summary(shownLimit, latestLimit, lowest, highest, (now - firstDecisionNanos) / 1e9, decisions,
        latestReason);
    shownLimit = latestLimit;
    decisions = 0;
    return s;
  }

  static boolean isLarge(int from, int to) {
    return to >= from * LARGE_FACTOR || to * LARGE_FACTOR <= from;
  }
}
