package sluice.protocol;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Messages between a node's pool (which holds the node's connections to a back-end) and
 * the back-end's sharded entity (which owns the back-end's limit for the whole cluster).
 *
 * <p>A node holds a lease on some of a back-end's slots: it may keep at most
 * {@code granted} requests in flight (one per connection) until the lease expires. The
 * node reports how many slots it {@code holds} (connections open or busy) and how many it
 * {@code wants}; the entity answers with a {@link Lease}. The entity never lets the slots
 * granted to and held by all nodes add up to more than the limit: when it takes slots back,
 * it counts them as used until the node reports that it let them go or its lease expires.
 *
 * <p>Each incarnation of the entity (after a start, a restart, a move) has its own
 * {@code epoch}, never 0; seqs count within an epoch. A new incarnation first learns what
 * the nodes hold and grants nothing until they have reported or a lease time has passed.
 *
 * <p>Expiry needs no shared clock: a node stamps each demand with its own
 * {@link System#nanoTime()}, the entity echoes the stamp of the latest demand it has from
 * that node, and the node's lease runs until its own clock reaches
 * {@code demandSentAtNanos + validNanos}. The node sent before the entity received, so the
 * node's lease always ends no later than the entity counts it.
 */
public final class LeaseProtocol {
  private LeaseProtocol() {}

  /** Sent to the back-end entity. */
  public sealed interface Command extends KryoMessage permits Demand, Release, SampleBatch, GetStatus, GetLeases,
      LimitDecision, SetPin, SetDrain, SetSpec {}

  /**
   * A node's periodic report for one back-end: also a lease renewal. {@code replyTo}
   * identifies the node's pool; the entity watches it and frees its slots when it dies.
   *
   * @param wanted      slots the node could use now (in flight plus waiting)
   * @param warm        slots it would keep for pre-opened connections while nobody needs them
   *                    (lent only out of slots no node wants)
   * @param held        slots the node holds now (connections open or busy)
   * @param grantedNow  slots the node may still use under its current lease (0 if none or lapsed)
   * @param epoch       epoch of the lease the node applies (0 if none)
   * @param seenSeq     seq of that lease (0 if none): a report counted before the node saw its
   *                    grant lowered cannot prove slots free
   * @param sentAtNanos the node's own {@link System#nanoTime()} when it sent this; the entity
   *                    only echoes it
   */
  public record Demand(
      String backendId,
      LimitSpec spec,
      int wanted,
      int warm,
      int held,
      int grantedNow,
      long epoch,
      long seenSeq,
      long sentAtNanos,
      ActorRef<Lease> replyTo)
      implements Command {

    /** A demand with no slots to keep warm. */
    public Demand(String backendId, LimitSpec spec, int wanted, int held, int grantedNow, long epoch, long seenSeq,
        long sentAtNanos, ActorRef<Lease> replyTo) {
      this(backendId, spec, wanted, 0, held, grantedNow, epoch, seenSeq, sentAtNanos, replyTo);
    }
  }

  /** A node's pool is stopping and holds nothing of the back-end any more: its slots are free now. */
  public record Release(String backendId, ActorRef<Lease> replyTo) implements Command {}

  /**
   * The entity's answer: the back-end's cluster-wide limit and this node's share of it,
   * valid until the node's clock reaches {@code demandSentAtNanos + validNanos}.
   *
   * @param epoch             the entity incarnation that issued it
   * @param seq               rises with every lease the incarnation sends to this node
   * @param demandSentAtNanos the {@code sentAtNanos} of the latest demand the entity has from
   *                          this node (also in leases it sends on its own)
   */
  public record Lease(
      String backendId,
      long epoch,
      long seq,
      int limit,
      int granted,
      long demandSentAtNanos,
      long validNanos,
      String reason)
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
   * @param bytes            L4: bytes relayed both ways on the back-end's connections in the
   *                         window, long-lived connections included (0 for HTTP back-ends)
   * @param firstBytes       L4: connections whose back-end sent its first byte in the window
   * @param sumFirstByteNanos L4: their times from the connect to that first byte, summed
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
      int reportedLoadCount,
      long bytes,
      int firstBytes,
      long sumFirstByteNanos)
      implements Command {

    /** A batch without the L4 figures (an HTTP back-end's). */
    public SampleBatch(String backendId, String nodeId, long windowNanos, int completed, int dropped, int ignored,
        long sumRttNanos, long minRttNanos, long maxRttNanos, int maxInFlight, int arrivals, int queueLength,
        double reportedLoadSum, int reportedLoadCount) {
      this(backendId, nodeId, windowNanos, completed, dropped, ignored, sumRttNanos, minRttNanos, maxRttNanos,
          maxInFlight, arrivals, queueLength, reportedLoadSum, reportedLoadCount, 0, 0, 0);
    }
  }

  /** Asks the entity for its state (admin API and tests). */
  public record GetStatus(String backendId, ActorRef<Status> replyTo) implements Command {}

  /**
   * The entity's state: its incarnation, its limit, the slots granted to nodes, whether it is
   * still learning what the nodes hold, and the last decision.
   */
  public record Status(
      String backendId, long epoch, int limit, int granted, int nodes, boolean learning, String lastReason)
      implements KryoMessage {}

  /** Asks the entity who holds what of the back-end (the operator's /status). */
  public record GetLeases(String backendId, ActorRef<Leases> replyTo) implements Command {}

  /**
   * The entity's book as an operator sees it: the limit, the algorithm that sets it and its
   * last decision, and per cluster member the slots of its pools (one per event loop).
   *
   * @param algorithm             the limit spec's algorithm ("" before the first demand)
   * @param lastDecisionAgoMillis how long ago the last decision came, on the entity's clock (-1: none yet)
   * @param nodes                 members in the order the book first heard of them
   * @param pinned                the limit the operator pinned, 0 if not pinned
   * @param drained               whether the operator drained the back-end (then {@code limit} is 0)
   */
  public record Leases(String backendId, long epoch, int limit, boolean learning, String algorithm,
      String lastReason, long lastDecisionAgoMillis, List<NodeLease> nodes, int pinned, boolean drained)
      implements KryoMessage {

    public Leases {
      nodes = List.copyOf(nodes);
    }

    /** Neither pinned nor drained. */
    public Leases(String backendId, long epoch, int limit, boolean learning, String algorithm, String lastReason,
        long lastDecisionAgoMillis, List<NodeLease> nodes) {
      this(backendId, epoch, limit, learning, algorithm, lastReason, lastDecisionAgoMillis, nodes, 0, false);
    }
  }

  /**
   * The operator pins the back-end's limit at {@code limit} (the controller stops moving it), or
   * with {@code limit} 0 unpins it (the controller resumes from the pinned value). The entity
   * answers with its book, as for {@link GetLeases}.
   *
   * @param by who asked, for the entity's log (the admin call, its client, the node it came to)
   */
  public record SetPin(String backendId, int limit, String by, ActorRef<Leases> replyTo) implements Command {}

  /**
   * The operator drains the back-end ({@code drained} true: the entity lends it to no node, so
   * no node starts new work on it while what is in flight finishes) or returns it (false).
   * The entity answers with its book, as for {@link GetLeases}.
   *
   * @param by who asked, for the entity's log
   */
  public record SetDrain(String backendId, boolean drained, String by, ActorRef<Leases> replyTo)
      implements Command {}

  /**
   * A node's configuration was reloaded with a new limit spec for the back-end: the entity runs
   * {@code spec} from now on (a new controller, starting from the current limit within the new
   * bounds) instead of the spec it took from the first demand. The entity answers with its book,
   * as for {@link GetLeases}. Demands that still carry another spec (nodes not yet reloaded) do
   * not change it back.
   *
   * @param by what asked, for the entity's log (the reload, the node it ran on)
   */
  public record SetSpec(String backendId, LimitSpec spec, String by, ActorRef<Leases> replyTo) implements Command {}

  /**
   * One member's share: {@code granted} slots (the sum of its pools' grants) and
   * {@code counted} (what the book counts as used: per pool the larger of its grant and what
   * it reported held) over {@code pools} pools.
   *
   * @param member the member's address, e.g. {@code sluice@10.0.0.5:2552}
   */
  public record NodeLease(String member, int pools, int granted, int counted) {}
}
