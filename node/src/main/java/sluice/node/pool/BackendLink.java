package sluice.node.pool;

import java.util.ArrayDeque;
import java.util.LinkedHashSet;
import java.util.Set;
import org.HdrHistogram.Histogram;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import sluice.node.settings.BackendSettings;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.LeaseProtocol.SampleBatch;
import sluice.protocol.LimitSpec;

/**
 * This node's side of one back-end: its persistent connections and the slots this node
 * holds of the back-end's limit. Owned by one {@link PoolQueue}; not thread-safe.
 *
 * <p>Invariants: connections (in every state but CLOSED) never outnumber {@link #granted},
 * except while the grant has just dropped and busy connections finish their request; a
 * connection carries at most one request. {@code up} is false after a connection attempt
 * failed, until a retry connects.
 */
final class BackendLink {
  final String id;
  final String host;
  final int port;
  final LimitSpec spec;
  final EntityRef<LeaseProtocol.Command> entity;
  /** Every connection not CLOSED, in the order they were opened. */
  final Set<BackendConnection> connections = new LinkedHashSet<>();
  private final ArrayDeque<BackendConnection> idle = new ArrayDeque<>();
  private int busy;
  private int connecting;

  /** Slots this node may hold (from the entity's lease). */
  int granted;
  /** The back-end's cluster-wide limit, as last told. */
  int limit;
  String limitReason = "";
  boolean up = true;
  long downSinceNanos;
  int failedConnects;
  boolean retryScheduled;
  /** A demand was sent outside the regular report and its lease has not come back yet. */
  boolean demandPending;
  /** Sequence number of the last lease applied. */
  long leaseSeq;

  // measurements of the current sample window (sent to the entity at each report)
  private int completed;
  private int dropped;
  private long sumRttNanos;
  private long minRttNanos = Long.MAX_VALUE;
  private long maxRttNanos;
  private int maxInFlight;
  private int arrivals;
  private double reportedLoadSum;
  private int reportedLoadCount;
  private long windowStartNanos;

  // cumulative, and the last status interval
  long served;
  long failed;
  private final Histogram intervalRtt = new Histogram(3_600_000_000_000L, 2);
  private long intervalCompleted;
  double lastIntervalRate;
  double lastIntervalP99Millis;

  BackendLink(BackendSettings settings, EntityRef<LeaseProtocol.Command> entity, long nowNanos) {
    this.id = settings.id();
    this.host = settings.host();
    this.port = settings.port();
    this.spec = settings.limit();
    this.entity = entity;
    this.windowStartNanos = nowNanos;
  }

  /** The most recently used idle connection (keeps the fewest connections warm), or null. */
  BackendConnection idleConnection() {
    return idle.peekLast();
  }

  /** Requests on connections (WAITING or STREAMING). */
  int inFlight() {
    return busy;
  }

  int connecting() {
    return connecting;
  }

  /** A new connection, CONNECTING. */
  void add(BackendConnection c) {
    connections.add(c);
    connecting++;
  }

  /** Moves {@code c} to {@code next}, keeping the counts and the idle list right; CLOSED removes it. */
  void transition(BackendConnection c, BackendConnection.State next) {
    BackendConnection.State was = c.state;
    if (was == next) {
      return;
    }
    switch (was) {
      case CONNECTING -> connecting--;
      case IDLE -> idle.remove(c);
      case WAITING, STREAMING -> busy--;
      case CLOSED -> throw new IllegalStateException(c + " is closed; it cannot become " + next);
    }
    switch (next) {
      case IDLE -> idle.addLast(c);
      case WAITING, STREAMING -> busy++;
      case CLOSED -> connections.remove(c);
      case CONNECTING -> throw new IllegalStateException(c + " cannot connect again");
    }
    c.state = next;
  }

  /** Room for one more connection within the grant. */
  boolean mayOpen() {
    return up && connections.size() < granted;
  }

  void recordDispatch() {
    arrivals++;
    maxInFlight = Math.max(maxInFlight, inFlight());
  }

  void recordCompleted(long rttNanos) {
    completed++;
    served++;
    recordRtt(rttNanos);
  }

  void recordDropped(long rttNanos) {
    dropped++;
    failed++;
    recordRtt(rttNanos);
  }

  /** A load value the back-end reported of itself in a response header. */
  void recordReportedLoad(double load) {
    reportedLoadSum += load;
    reportedLoadCount++;
  }

  private void recordRtt(long rttNanos) {
    long rtt = Math.max(0, rttNanos);
    sumRttNanos += rtt;
    minRttNanos = Math.min(minRttNanos, rtt);
    maxRttNanos = Math.max(maxRttNanos, rtt);
    intervalRtt.recordValue(Math.min(rtt, intervalRtt.getHighestTrackableValue()));
    intervalCompleted++;
  }

  /** The sample window so far, and a fresh one. */
  SampleBatch drainSamples(String nodeId, int queueLength, long nowNanos) {
    SampleBatch batch = new SampleBatch(id, nodeId, nowNanos - windowStartNanos, completed, dropped,
        0, // ignored: a request whose client left is dropped from the queue, never sent
        sumRttNanos, completed + dropped == 0 ? 0 : minRttNanos, maxRttNanos,
        Math.max(maxInFlight, inFlight()), arrivals, queueLength, reportedLoadSum, reportedLoadCount);
    completed = dropped = arrivals = reportedLoadCount = 0;
    reportedLoadSum = 0;
    maxInFlight = inFlight();
    sumRttNanos = maxRttNanos = 0;
    minRttNanos = Long.MAX_VALUE;
    windowStartNanos = nowNanos;
    return batch;
  }

  /** Closes a status interval: requests/s and p99 over it. */
  void rollInterval(double seconds) {
    lastIntervalRate = seconds <= 0 ? 0 : intervalCompleted / seconds;
    lastIntervalP99Millis = intervalCompleted == 0 ? 0 : intervalRtt.getValueAtPercentile(99) / 1e6;
    intervalRtt.reset();
    intervalCompleted = 0;
  }
}
