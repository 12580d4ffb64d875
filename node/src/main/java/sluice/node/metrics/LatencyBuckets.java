package sluice.node.metrics;

import java.util.Arrays;

/**
 * A cumulative latency histogram with fixed bucket bounds, for {@code /metrics}: recorded on
 * the request path by the one actor that owns it (an array increment: no allocation, no lock,
 * no atomic), copied when the actor answers a scrape. Not thread-safe.
 *
 * <p>State: {@code counts[i]} is how many values fell in (bound[i-1], bound[i]] since start,
 * the last place counting those above every bound; {@code sumNanos} their sum.
 */
public final class LatencyBuckets {

  /** Upper bounds in seconds, as Prometheus shows them (le="..."); +Inf is implied. */
  public static final double[] BOUNDS_SECONDS = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  private static final long[] BOUNDS_NANOS = new long[BOUNDS_SECONDS.length];

  static {
    for (int i = 0; i < BOUNDS_SECONDS.length; i++) {
      BOUNDS_NANOS[i] = Math.round(BOUNDS_SECONDS[i] * 1e9);
    }
  }

  private final long[] counts = new long[BOUNDS_NANOS.length + 1];
  private long sumNanos;

  /** Counts one value; a negative one (a clock oddity) counts as 0. */
  public void record(long nanos) {
    long value = Math.max(0, nanos);
    int i = 0;
    while (i < BOUNDS_NANOS.length && value > BOUNDS_NANOS[i]) {
      i++;
    }
    counts[i]++;
    sumNanos += value;
  }

  /** A copy, to hand to another thread. */
  public Snapshot snapshot() {
    return new Snapshot(counts.clone(), sumNanos);
  }

  /**
   * Counts per bucket (not cumulative; one more than {@link #BOUNDS_SECONDS}, the last for
   * values above every bound) and the sum of the values.
   */
  public record Snapshot(long[] counts, long sumNanos) {

    public static final Snapshot EMPTY = new Snapshot(new long[BOUNDS_SECONDS.length + 1], 0);

    public long count() {
      return Arrays.stream(counts).sum();
    }

    public Snapshot plus(Snapshot other) {
      long[] sum = counts.clone();
      for (int i = 0; i < sum.length; i++) {
        sum[i] += other.counts[i];
      }
      return new Snapshot(sum, sumNanos + other.sumNanos);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Snapshot s && s.sumNanos == sumNanos && Arrays.equals(s.counts, counts);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(counts) + Long.hashCode(sumNanos);
    }

    @Override
    public String toString() {
      return "Snapshot" + Arrays.toString(counts) + " sum " + sumNanos + " ns";
    }
  }
}
