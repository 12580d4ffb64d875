package sluice.protocol;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * Messages between a node's pool (which holds the node's connections to a back-end) and
 * the back-end's sharded entity (which owns the back-end's limit for the whole cluster).
 *
 * <p>A node holds a lease on some of a back-end's slots: it may keep at most
 * {@code granted} requests in flight (one per connection). The node reports how many slots
 * it {@code holds} (connections open or busy) and how many it {@code wants}; the entity
 * answers with a {@link Lease}. The entity never lets the slots granted to and held by all
 * nodes add up to more than the limit: when it takes slots back, it counts them as used
 * until the node reports that it let them go.
 */
public final class LeaseProtocol {
  private LeaseProtocol() {}

  /** Sent to the back-end entity. */
  public sealed interface Command extends KryoMessage permits Demand, SampleBatch, GetStatus, LimitDecision {}

  /**
   * A node's periodic report for one back-end: also a lease renewal. {@code replyTo}
   * identifies the node's pool; the entity watches it and frees its slots when it dies.
   * {@code seenSeq} is the sequence number of the last lease the node had applied when it
   * counted {@code held}: a report older than a lowered grant cannot prove slots free.
   */
  public record Demand(
      String backendId, LimitSpec spec, int wanted, int held, long seenSeq, ActorRef<Lease> replyTo)
      implements Command {}

  /**
   * The entity's answer: the back-end's cluster-wide limit and this node's share of it.
   * {@code seq} rises with every lease the entity sends to this node.
   */
  public record Lease(String backendId, int limit, int granted, long seq, String reason)
      implements KryoMessage {}

  /**
   * Measurements of one back-end taken by one node over {@code windowNanos}. Times are in
   * nanoseconds. Every request admitted to the back-end ends as exactly one of completed,
   * dropped (5xx from the back-end, reset, timeout) or ignored (client went away).
   *
   * @param arrivals         requests that arrived for the back-end's pool in the window
   * @param queueLength      requests waiting in the node's pool queue at the window's end
   * @param maxInFlight      most requests in flight on the back-end from this node
   * @param reportedLoadSum  sum of the back-end's self-reported load values (0 if none)
   * @param reportedLoadCount how many responses carried a self-reported load
   */
  public record SampleBatch(
      String backendId,
      String nodeId,
      long windowNanos,
      int completed,
      int dropped,
      int ignored,
      long sumRttNanos,
      long minRttNanos,
      long maxRttNanos,
      int maxInFlight,
      int arrivals,
      int queueLength,
      double reportedLoadSum,
      int reportedLoadCount)
      implements Command {}

  /** Asks the entity for its state (admin API and tests). */
  public record GetStatus(String backendId, ActorRef<Status> replyTo) implements Command {}

  /** The entity's state: its limit, the slots granted to nodes and the last decision. */
  public record Status(String backendId, int limit, int granted, int nodes, String lastReason)
      implements KryoMessage {}
}
