package sluice.controller;

import sluice.controller.algorithm.WindowSample;
import sluice.protocol.LeaseProtocol.SampleBatch;

/**
 * Sums the batches of one window, from any number of nodes, into one {@link WindowSample}.
 * The window's length is measured by the caller: batches from several nodes overlap.
 */
final class WindowAccumulator {
  private int batches;
  private int completed;
  private int dropped;
  private long sumRttNanos;
  private long minRttNanos = Long.MAX_VALUE;
  private long maxRttNanos;
  private int maxInFlight;
  private int arrivals;
  private int queueLength;
  private double loadSum;
  private int loadCount;

  void add(SampleBatch b) {
    batches++;
    completed += b.completed();
    dropped += b.dropped();
    sumRttNanos += b.sumRttNanos();
    if (b.completed() + b.dropped() > 0) {
      minRttNanos = Math.min(minRttNanos, b.minRttNanos());
    }
    maxRttNanos = Math.max(maxRttNanos, b.maxRttNanos());
    maxInFlight += b.maxInFlight();
    arrivals += b.arrivals();
    queueLength += b.queueLength();
    loadSum += b.reportedLoadSum();
    loadCount += b.reportedLoadCount();
  }

  boolean isEmpty() {
    return batches == 0;
  }

  /** The window so far, and a fresh start. */
  WindowSample drain(long windowNanos, int limit) {
    int ended = completed + dropped;
    WindowSample sample = new WindowSample(
        windowNanos,
        completed,
        dropped,
        ended == 0 ? 0 : sumRttNanos / ended,
        ended == 0 ? 0 : minRttNanos,
        maxRttNanos,
        maxInFlight,
        arrivals,
        queueLength,
        loadCount == 0 ? Double.NaN : loadSum / loadCount,
        limit);
    batches = 0;
    completed = dropped = arrivals = queueLength = maxInFlight = loadCount = 0;
    sumRttNanos = maxRttNanos = 0;
    minRttNanos = Long.MAX_VALUE;
    loadSum = 0;
    return sample;
  }
}
