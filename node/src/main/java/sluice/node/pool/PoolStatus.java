package sluice.node.pool;

import java.util.List;

/**
 * A pool's state on this node. Counters are cumulative since start; every accepted request
 * is in exactly one of: served, rejectedFull, expired, badGateway, gatewayTimeout, abandoned, or still
 * in progress (queued or on a connection).
 *
 * @param served          requests answered with the back-end's response
 * @param rejectedFull    503: the queue was at its max
 * @param expired         503: waited longer than the queue timeout
 * @param badGateway      502: the back-end failed (connection lost, response cut off)
 * @param gatewayTimeout  504: no response head within the response timeout
 * @param abandoned       the client closed its connection while the request waited
 */
public record PoolStatus(
    String pool,
    int queueLength,
    int inProgress,
    long accepted,
    long served,
    long rejectedFull,
    long expired,
    long badGateway,
    long gatewayTimeout,
    long abandoned,
    List<BackendStatus> backends) implements org.apache.pekko.actor.NoSerializationVerificationNeeded {

  /** Requests that ended, in any way. */
  public long ended() {
    return served + rejectedFull + expired + badGateway + gatewayTimeout + abandoned;
  }

  /**
   * One back-end as this node sees it.
   *
   * @param ratePerSecond requests completed per second over the last status interval
   * @param p99Millis     99th percentile response time (to the response head) over it
   */
  public record BackendStatus(
      String id,
      boolean up,
      int limit,
      int granted,
      int inFlight,
      int connections,
      long served,
      long failed,
      double ratePerSecond,
      double p99Millis,
      String limitReason) {}
}
