package sluice.node.backend;

import org.HdrHistogram.Histogram;
import sluice.protocol.LeaseProtocol.SampleBatch;

/**
 * What this node measured of one back-end: the current sample window (sent to the
 * back-end's entity, for its controller, at each report) and the current status interval
 * (requests per second and p99 for the status line). Plain Java, owned by one back-end actor
 * (the L7 {@link BackendActor} or the L4 {@code sluice.node.tcp.TcpBackendActor}).
 */
public final class BackendSamples {
  private final String backendId;

  // the sample window
  private int completed;
  private int dropped;
  private long sumRttNanos;
  private long minRttNanos = Long.MAX_VALUE;
  private long maxRttNanos;
  private int maxInFlight;
  private int arrivals;
  private double reportedLoadSum;
  private int reportedLoadCount;
  private long bytes;
  private int firstBytes;
  private long sumFirstByteNanos;
  private long windowStartNanos;

  // the status interval
  private final Histogram intervalRtt = new Histogram(3_600_000_000_000L, 2);
  private long intervalCompleted;
  private double lastIntervalRate;
  private double lastIntervalP99Millis;

  public BackendSamples(String backendId, long nowNanos) {
    this.backendId = backendId;
    this.windowStartNanos = nowNanos;
  }

  /** A request went to the back-end; {@code inFlight} counts it. */
  public void dispatched(int inFlight) {
    arrivals++;
    if (inFlight > maxInFlight) {
      maxInFlight = inFlight;
    }
  }

  /** A response: below 500 it completed, else the back-end dropped it. */
  public void response(int status, long rttNanos) {
    if (status >= 500) {
      dropped(rttNanos);
    } else {
      completed++;
      rtt(rttNanos);
    }
  }

  /** Work that completed without a status: an L4 connection that both sides ended. */
  public void completed(long rttNanos) {
    completed++;
    rtt(rttNanos);
  }

  /** The back-end failed the request (reset, timeout, cut-off response). */
  public void dropped(long rttNanos) {
    dropped++;
    rtt(rttNanos);
  }

  /** L4: bytes a connection relayed (both ways) since its last count. */
  public void relayed(long relayedBytes) {
    bytes += relayedBytes;
  }

  /** L4: a connection's time from the connect to the back-end's first byte. */
  public void firstByte(long nanos) {
    firstBytes++;
    sumFirstByteNanos += Math.max(0, nanos);
  }

  /** A load value the back-end reported of itself in a response header. */
  public void reportedLoad(double load) {
    reportedLoadSum += load;
    reportedLoadCount++;
  }

  private void rtt(long rttNanos) {
    long rtt = Math.max(0, rttNanos);
    sumRttNanos += rtt;
    if (rtt < minRttNanos) {
      minRttNanos = rtt;
    }
    if (rtt > maxRttNanos) {
      maxRttNanos = rtt;
    }
    intervalRtt.recordValue(Math.min(rtt, intervalRtt.getHighestTrackableValue()));
    intervalCompleted++;
  }

  /** The sample window so far, and a fresh one. */
  public SampleBatch drain(String nodeId, int inFlight, int queueLength, long nowNanos) {
    SampleBatch batch = new SampleBatch(backendId, nodeId, nowNanos - windowStartNanos, completed, dropped,
        0, // ignored: a request whose client left is dropped from the queue, never sent
        sumRttNanos, completed + dropped == 0 ? 0 : minRttNanos, maxRttNanos, Math.max(maxInFlight, inFlight),
        arrivals, queueLength, reportedLoadSum, reportedLoadCount, bytes, firstBytes, sumFirstByteNanos);
    completed = dropped = arrivals = reportedLoadCount = firstBytes = 0;
    bytes = sumFirstByteNanos = 0;
    reportedLoadSum = 0;
    maxInFlight = inFlight;
    sumRttNanos = maxRttNanos = 0;
    minRttNanos = Long.MAX_VALUE;
    windowStartNanos = nowNanos;
    return batch;
  }

  /** Closes a status interval: requests/s and p99 over it. */
  public void rollInterval(double seconds) {
    lastIntervalRate = seconds <= 0 ? 0 : intervalCompleted / seconds;
    lastIntervalP99Millis = intervalCompleted == 0 ? 0 : intervalRtt.getValueAtPercentile(99) / 1e6;
    intervalRtt.reset();
    intervalCompleted = 0;
  }

  public double lastIntervalRate() {
    return lastIntervalRate;
  }

  public double lastIntervalP99Millis() {
    return lastIntervalP99Millis;
  }
}
