package sluice.node;

import java.util.List;

/**
 * A pool's state on this node (summed over its event loops). Counters are cumulative since
 * start; every accepted request is in exactly one of: served, rejectedFull, expired,
 * noBackendUp, badGateway, gatewayTimeout, abandoned, clientAborted, stopped, or still in progress
 * (queued or on a back-end).
 *
 * @param served          requests answered with the back-end's response
 * @param rejectedFull    503: the queue was at its max
 * @param expired         503: waited longer than the queue timeout
 * @param noBackendUp     503: every back-end of the pool was known down (waiting then, or arriving)
 * @param badGateway      502: the back-end failed (connection lost, response cut off)
 * @param gatewayTimeout  504: no response within the response timeout
 * @param abandoned       the client closed its connection while the request waited: never sent
 * @param clientAborted   the client left, or sent a malformed body, while its request was on a back-end
 * @param stopped         503: still waiting when the queue stopped
 */
public record PoolStatus(
    String pool,
    int queueLength,
    int inProgress,
    long accepted,
    long served,
    long rejectedFull,
    long expired,
    long noBackendUp,
    long badGateway,
    long gatewayTimeout,
    long abandoned,
    long clientAborted,
    long stopped,
    List<BackendStatus> backends) {

  /** Requests that ended, in any way. */
  public long ended() {
    return served + rejectedFull + expired + noBackendUp + badGateway + gatewayTimeout + abandoned + clientAborted + stopped;
  }

  /**
   * One back-end as this node sees it.
   *
   * @param granted       slots this node holds of the back-end's limit
   * @param leaseValid    this node holds an unexpired lease (on every event loop)
   * @param inFlight      requests on its connections (or opening one) now
   * @param failed        502 and 504 answers for it
   * @param ratePerSecond responses per second over the last status interval
   * @param p99Millis     99th percentile response time (to the response head) over it
   */
  public record BackendStatus(
      String id,
      boolean up,
      int limit,
      int granted,
      boolean leaseValid,
      int inFlight,
      int connections,
      long served,
      long failed,
      double ratePerSecond,
      double p99Millis,
      String limitReason) {}
}
