package sluice.controller;

import sluice.controller.algorithm.WindowSample;
import sluice.protocol.LeaseProtocol.SampleBatch;

/**
 * Sums the batches of one window, from any number of nodes, into one {@link WindowSample}:
 * counts add up (bytes too); in flight is each node's most, added over nodes; the queue is each
 * node's latest, added over nodes; the time to the first byte is the mean over every connection
 * that got one.
 * Rates need the time the counts cover: a controller window holds a varying number of
 * batches (they arrive on the nodes' schedule, not the controller's), so the window's
 * length is the time its batches cover, averaged over the nodes that sent them, and the
 * caller's clock is only the fallback for batches that carry no length.
 * Public so that the simulator in the test sources feeds algorithms exactly as the
 * {@link Controller} does.
 */
public final class WindowAccumulator {
  private int batches;
  private int completed;
  private int dropped;
  private long sumRttNanos;
  private long minRttNanos = Long.MAX_VALUE;
  private long maxRttNanos;
  private int arrivals;
  /** Per node: the most in flight in any of its batches, and its queue at its latest batch. */
  private final java.util.Map<String, Integer> maxInFlightByNode = new java.util.HashMap<>();
  private final java.util.Map<String, Integer> queueByNode = new java.util.HashMap<>();
  private double loadSum;
  private int loadCount;
  private long bytes;
  private int firstBytes;
  private long sumFirstByteNanos;
  private long coveredNanos;
  private final java.util.Set<String> nodes = new java.util.HashSet<>();

  public void add(SampleBatch b) {
    batches++;
    completed += b.completed();
    dropped += b.dropped();
    sumRttNanos += b.sumRttNanos();
    if (b.completed() + b.dropped() > 0) {
      minRttNanos = Math.min(minRttNanos, b.minRttNanos());
    }
    maxRttNanos = Math.max(maxRttNanos, b.maxRttNanos());
    maxInFlightByNode.merge(b.nodeId(), b.maxInFlight(), Math::max);
    arrivals += b.arrivals();
    queueByNode.put(b.nodeId(), b.queueLength());
    loadSum += b.reportedLoadSum();
    loadCount += b.reportedLoadCount();
    bytes += b.bytes();
    firstBytes += b.firstBytes();
    sumFirstByteNanos += b.sumFirstByteNanos();
    coveredNanos += Math.max(0, b.windowNanos());
    nodes.add(b.nodeId());
  }

  public boolean isEmpty() {
    return batches == 0;
  }

  /**
   * The window so far, and a fresh start.
   *
   * @param elapsedNanos time since the last drain, used when the batches carry no length
   * @param limit        the limit in force during the window
   */
  public WindowSample drain(long elapsedNanos, int limit) {
    int ended = completed + dropped;
    long windowNanos = coveredNanos > 0 ? coveredNanos / Math.max(1, nodes.size()) : elapsedNanos;
    WindowSample sample = new WindowSample(
        windowNanos,
        completed,
        dropped,
        ended == 0 ? 0 : sumRttNanos / ended,
        ended == 0 ? 0 : minRttNanos,
        maxRttNanos,
        maxInFlightByNode.values().stream().mapToInt(Integer::intValue).sum(),
        arrivals,
        queueByNode.values().stream().mapToInt(Integer::intValue).sum(),
        loadCount == 0 ? Double.NaN : loadSum / loadCount,
        limit,
        bytes,
        firstBytes == 0 ? 0 : sumFirstByteNanos / firstBytes);
    batches = 0;
    completed = dropped = arrivals = loadCount = 0;
    maxInFlightByNode.clear();
    queueByNode.clear();
    sumRttNanos = maxRttNanos = 0;
    minRttNanos = Long.MAX_VALUE;
    loadSum = 0;
    bytes = sumFirstByteNanos = 0;
    firstBytes = 0;
    coveredNanos = 0;
    nodes.clear();
    return sample;
  }
}
