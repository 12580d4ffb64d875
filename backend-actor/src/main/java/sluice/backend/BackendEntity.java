package sluice.backend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import sluice.controller.Controller;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.LeaseProtocol.Demand;
import sluice.protocol.LeaseProtocol.GetStatus;
import sluice.protocol.LeaseProtocol.Lease;
import sluice.protocol.LeaseProtocol.SampleBatch;
import sluice.protocol.LeaseProtocol.Status;
import sluice.protocol.LimitDecision;
import sluice.protocol.LimitSpec;

/**
 * One per back-end in the whole cluster (Cluster Sharding). Owns the back-end's limit L and
 * lends its slots to the nodes that talk to the back-end.
 *
 * <p>Invariant: the sum over nodes of max(granted, held) never exceeds L. A node's grant
 * rises only out of free slots; when L drops or slots move to another node, the node's
 * grant is lowered at once but the slots it still holds stay counted until it reports (in
 * its next {@link Demand}) that its connections went idle and closed.
 *
 * <p>State: the spec (from the first demand), L (from the controller), one {@link NodeLease}
 * per node pool, watched so that a node that dies gives its slots back.
 */
public final class BackendEntity extends AbstractBehavior<LeaseProtocol.Command> {

  public static final EntityTypeKey<LeaseProtocol.Command> TYPE_KEY =
      EntityTypeKey.create(LeaseProtocol.Command.class, "sluice-backend");

  /** Registers the entity type on this node. */
  public static ActorRef<?> initSharding(ActorSystem<?> system, Duration controllerWindow, Duration leaseTime) {
    return ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx ->
        Behaviors.<LeaseProtocol.Command>supervise(create(ctx.getEntityId(), controllerWindow, leaseTime))
            .onFailure(SupervisorStrategy.restartWithBackoff(
                Duration.ofMillis(100), Duration.ofSeconds(5), 0.2))));
  }

  public static Behavior<LeaseProtocol.Command> create(String backendId, Duration controllerWindow, Duration leaseTime) {
    return Behaviors.setup(ctx -> new BackendEntity(ctx, backendId, controllerWindow, leaseTime));
  }

  /** What one node's pool holds of this back-end. */
  private static final class NodeLease {
    int granted;
    /** What the node may hold: its report, or more while a lowered grant is unconfirmed. */
    int held;
    int wanted;
    /** Sequence number of the last lease sent to the node. */
    long seq;
    /** Sequence number of the lease that last lowered the grant. */
    long loweredAtSeq;
    long demandSentAtNanos;
  }

  private final String backendId;
  private final Duration controllerWindow;
  private final long leaseNanos;
  private final long epoch = 1 + java.util.concurrent.ThreadLocalRandom.current().nextLong(Long.MAX_VALUE - 1);
  private final Map<ActorRef<Lease>, NodeLease> leases = new LinkedHashMap<>();
  private LimitSpec spec;
  private ActorRef<Controller.Command> controller;
  private int limit;
  private String lastReason = "no limit yet";

  private BackendEntity(ActorContext<LeaseProtocol.Command> context, String backendId, Duration controllerWindow,
      Duration leaseTime) {
    super(context);
    this.backendId = backendId;
    this.controllerWindow = controllerWindow;
    this.leaseNanos = leaseTime.toNanos();
  }

  @Override
  public Receive<LeaseProtocol.Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Demand.class, this::onDemand)
        .onMessage(SampleBatch.class, this::onSampleBatch)
        .onMessage(LimitDecision.class, this::onLimitDecision)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onSignal(Terminated.class, this::onNodeGone)
        .build();
  }

  private Behavior<LeaseProtocol.Command> onDemand(Demand demand) {
    if (spec == null) {
      startController(demand.spec());
    } else if (!spec.equals(demand.spec())) {
      getContext().getLog().warn("backend {}: a node asks with limit spec {} but the entity runs {}; keeping the first",
          backendId, demand.spec(), spec);
    }
    NodeLease lease = leases.get(demand.replyTo());
    if (lease == null) {
      lease = new NodeLease();
      leases.put(demand.replyTo(), lease);
      getContext().watch(demand.replyTo());
      getContext().getLog().info("backend {}: node pool {} joined ({} held)", backendId, demand.replyTo().path(), demand.held());
    }
    // a report counted before the node saw its grant lowered may be short: keep the worst case
    boolean current = demand.epoch() == epoch && demand.seenSeq() >= lease.loweredAtSeq;
    lease.held = current ? demand.held() : Math.max(lease.held, Math.max(demand.held(), demand.grantedNow()));
    lease.wanted = demand.wanted();
    lease.demandSentAtNanos = demand.sentAtNanos();
    List<ActorRef<Lease>> changed = rebalance();
    if (!changed.contains(demand.replyTo())) {
      changed.add(demand.replyTo());
    }
    tell(changed);
    return this;
  }

  private void startController(LimitSpec first) {
    spec = first;
    limit = 0; // no slots until the controller's first decision, which comes at once
    controller = getContext().spawn(
        Controller.create(backendId, spec, controllerWindow, getContext().getSelf().narrow()),
        "controller");
  }

  private Behavior<LeaseProtocol.Command> onSampleBatch(SampleBatch batch) {
    if (controller != null) {
      controller.tell(new Controller.Samples(batch));
    }
    return this;
  }

  private Behavior<LeaseProtocol.Command> onLimitDecision(LimitDecision decision) {
    if (decision.limit() != limit) {
      getContext().getLog().info("backend {}: limit {} -> {}: {}", backendId, limit, decision.limit(), decision.reason());
    }
    limit = decision.limit();
    lastReason = decision.reason();
    tell(rebalance());
    return this;
  }

  private Behavior<LeaseProtocol.Command> onGetStatus(GetStatus get) {
    int granted = leases.values().stream().mapToInt(l -> l.granted).sum();
    get.replyTo().tell(new Status(backendId, epoch, limit, granted, leases.size(), false, lastReason));
    return this;
  }

  private Behavior<LeaseProtocol.Command> onNodeGone(Terminated terminated) {
    NodeLease gone = leases.remove(terminated.getRef());
    if (gone != null) {
      getContext().getLog().info("backend {}: node pool {} gone, {} slots back", backendId,
          terminated.getRef().path(), Math.max(gone.granted, gone.held));
      tell(rebalance());
    }
    return this;
  }

  /**
   * Moves grants toward a fair share of L among the nodes that want slots: each node's
   * target is what it wants, capped by an equal split of L that leftover slots top up.
   * A node keeps slots above its target until another node needs them or L drops below
   * what is lent (so a node whose demand dips does not close and reopen connections).
   * Lowers grants at once; raises them only out of slots that are free now.
   *
   * @return the nodes whose grant changed
   */
  private List<ActorRef<Lease>> rebalance() {
    Map<ActorRef<Lease>, Integer> targets = fairTargets();
    int committed = 0;
    int shortfall = 0;
    for (var entry : leases.entrySet()) {
      NodeLease lease = entry.getValue();
      committed += Math.max(lease.granted, lease.held);
      shortfall += Math.max(0, targets.get(entry.getKey()) - Math.max(lease.granted, lease.held));
    }
    int free = limit - committed;
    int reclaim = Math.max(0, -free) + Math.max(0, shortfall - Math.max(0, free));
    List<ActorRef<Lease>> changed = new ArrayList<>();
    for (var entry : leases.entrySet()) {
      NodeLease lease = entry.getValue();
      int excess = lease.granted - targets.get(entry.getKey());
      if (reclaim > 0 && excess > 0) {
        int take = Math.min(excess, reclaim);
        reclaim -= take;
        // until the node confirms, it may still hold every slot of its old grant
        lease.held = Math.max(lease.held, lease.granted);
        lease.granted -= take;
        lease.loweredAtSeq = lease.seq + 1;
        changed.add(entry.getKey());
      }
    }
    for (var entry : leases.entrySet()) {
      NodeLease lease = entry.getValue();
      int target = targets.get(entry.getKey());
      if (target > lease.granted) {
        // slots already held above the grant are counted in committed: reuse them first
        int before = Math.max(lease.granted, lease.held);
        int after = Math.min(target, before + Math.max(0, free));
        if (after > lease.granted) {
          free -= Math.max(0, after - before);
          lease.granted = after;
          changed.add(entry.getKey());
        }
      }
    }
    return changed;
  }

  private Map<ActorRef<Lease>, Integer> fairTargets() {
    Map<ActorRef<Lease>, Integer> targets = new LinkedHashMap<>();
    int remaining = limit;
    List<ActorRef<Lease>> open = new ArrayList<>();
    for (var entry : leases.entrySet()) {
      targets.put(entry.getKey(), 0);
      if (entry.getValue().wanted > 0) {
        open.add(entry.getKey());
      }
    }
    // water-filling: give each open node an equal share, capped by what it wants
    while (remaining > 0 && !open.isEmpty()) {
      int share = Math.max(1, remaining / open.size());
      List<ActorRef<Lease>> stillOpen = new ArrayList<>();
      for (ActorRef<Lease> node : open) {
        if (remaining == 0) {
          break;
        }
        int want = leases.get(node).wanted - targets.get(node);
        int give = Math.min(Math.min(share, want), remaining);
        targets.merge(node, give, Integer::sum);
        remaining -= give;
        if (leases.get(node).wanted > targets.get(node)) {
          stillOpen.add(node);
        }
      }
      open = stillOpen;
    }
    return targets;
  }

  private void tell(List<ActorRef<Lease>> nodes) {
    for (ActorRef<Lease> node : nodes) {
      NodeLease lease = leases.get(node);
      if (lease != null) {
        lease.seq++;
        node.tell(new Lease(backendId, epoch, lease.seq, limit, lease.granted, lease.demandSentAtNanos, leaseNanos,
            lastReason));
      }
    }
  }
}
