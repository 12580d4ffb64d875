package sluice.backend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import sluice.backend.LeaseBook.Grant;
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
 * lends its slots to the nodes' pools as leases. The budget is a {@link LeaseBook}; this
 * actor carries messages to and from it, starts the controller that sets L, and tells the
 * book when a pool dies (watched), when leases expire (a tick every quarter lease time) and
 * when learning may end.
 *
 * <p>Each incarnation (start, restart, move) picks a new epoch and learns first: it grants
 * nothing until every Up member of the cluster has a pool that sent it a demand (so the book
 * knows what each node still holds under older leases), or until a lease time has passed
 * (by then every older lease has lapsed on its node). Ending early trusts that no lease of
 * the previous incarnation is still on its way: one that reached a node after the node's
 * first demand here could raise the node's old grant unseen until its next demand.
 *
 * <p>The operator may pin the limit ({@link LeaseProtocol.SetPin}: the controller stops moving
 * it and the book lends at most the pinned value) and drain the back-end
 * ({@link LeaseProtocol.SetDrain}: the book's limit is 0, so every node's grant drops to 0 and no
 * node starts new work on it; what is in flight finishes and counts until the nodes report it
 * done, as with any lowered limit). The book's limit is always: 0 while drained, else the pinned
 * value while pinned, else the controller's last decision. While drained the controller gets no
 * samples (they would describe a back-end that is given no work) and holds its limit. Both live
 * in this incarnation only: a new one (after a move or restart) starts unpinned and undrained.
 *
 * <p>A reload of a node's configuration that changes the back-end's limit spec sends
 * {@link LeaseProtocol.SetSpec}: the entity stops its controller and starts one with the new spec,
 * from the current limit (within the new bounds), so that the new algorithm takes over where the
 * old one was. Each controller reports through its own relay, named by a generation, so that a
 * decision of a controller already replaced is dropped, not applied after its successor's. A
 * demand that carries another spec than the one running (a node not yet reloaded) changes
 * nothing; it is logged once per spec.
 *
 * <p>State: the spec (from the first demand or the last SetSpec), the controller and its
 * generation, the book, the controller's last limit, the pin and the drain, and while learning
 * the members that have reported. A pool is watched while it is in the book.
 *
 * <p>Its behaviour is typed {@code Object}, narrowed to {@link LeaseProtocol.Command} for
 * others: its timer tick cannot join the protocol's sealed interface from this module.
 */
public final class BackendEntity extends AbstractBehavior<Object> {

  public static final EntityTypeKey<LeaseProtocol.Command> TYPE_KEY =
      EntityTypeKey.create(LeaseProtocol.Command.class, "sluice-backend");

  private static final Duration SHORTEST_TICK = Duration.ofMillis(10);

  /** Small limit changes are logged (INFO) as one line at most this often; each decision is at DEBUG. */
  static final Duration LIMIT_SUMMARY_EVERY = Duration.ofSeconds(5);

  /** Registers the entity type on this node. */
  public static ActorRef<?> initSharding(ActorSystem<?> system, Duration controllerWindow, Duration leaseTime) {
    return ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx ->
        Behaviors.<LeaseProtocol.Command>supervise(create(ctx.getEntityId(), controllerWindow, leaseTime))
            .onFailure(SupervisorStrategy.restartWithBackoff(
                Duration.ofMillis(100), Duration.ofSeconds(5), 0.2))));
  }

  /**
   * @param controllerWindow how long the controller gathers samples before each decision
   * @param leaseTime        how long a lease is valid after the demand it answers was sent
   */
  public static Behavior<LeaseProtocol.Command> create(String backendId, Duration controllerWindow, Duration leaseTime) {
    return create(backendId, controllerWindow, leaseTime, Members::of, System::nanoTime);
  }

  /** With the members and the clock given (tests). */
  static Behavior<LeaseProtocol.Command> create(String backendId, Duration controllerWindow, Duration leaseTime,
      Function<ActorSystem<?>, Members> members, LongSupplier nanoClock) {
    return Behaviors.<Object>setup(ctx -> Behaviors.<Object>withTimers(timers -> new BackendEntity(ctx, timers,
        backendId, controllerWindow, leaseTime, members.apply(ctx.getSystem()), nanoClock))).narrow();
  }

  /** Expires leases and ends learning at its deadline. */
  private enum Tick implements NoSerializationVerificationNeeded { INSTANCE }

  /** A decision of the controller of {@code generation}, through that controller's relay. */
  private record FromController(int generation, LimitDecision decision) implements NoSerializationVerificationNeeded {}

  private final String backendId;
  private final Duration controllerWindow;
  private final Members members;
  private final LongSupplier nanoClock;
  private final LeaseBook<ActorRef<Lease>> book;
  /** Members with a pool that has sent a demand to this incarnation; kept only while learning. */
  private final Set<Address> reported = new HashSet<>();
  private LimitSpec spec;
  private ActorRef<Controller.Command> controller;
  /** Counts the controllers started; only the current one's decisions count. */
  private int generation;
  private ActorRef<LimitDecision> relay;
  /** Specs of demands that differ from the one running, already logged. */
  private final Set<LimitSpec> differingSpecs = new HashSet<>();
  private String lastReason = "no limit yet";
  private final LimitChangeLog limitLog;
  private boolean decided;
  private long lastDecisionNanos;
  /** The controller's last decision, which the book follows while neither pinned nor drained. */
  private int controlled;
  /** The operator's pinned limit, 0 if not pinned. */
  private int pinned;
  private boolean drained;

  private BackendEntity(ActorContext<Object> context, TimerScheduler<Object> timers, String backendId,
      Duration controllerWindow, Duration leaseTime, Members members, LongSupplier nanoClock) {
    super(context);
    this.backendId = backendId;
    this.controllerWindow = controllerWindow;
    this.members = members;
    this.nanoClock = nanoClock;
    this.book = new LeaseBook<>(newEpoch(), leaseTime, nanoClock);
    this.limitLog = new LimitChangeLog(LIMIT_SUMMARY_EVERY, nanoClock);
    Duration tick = leaseTime.dividedBy(4);
    timers.startTimerWithFixedDelay(Tick.INSTANCE, tick.compareTo(SHORTEST_TICK) < 0 ? SHORTEST_TICK : tick);
    context.getLog().debug("backend {}: epoch {} starts learning", backendId, book.epoch());
  }

  /** Unique per incarnation and never 0: 63 random bits mixed with the wall clock. */
  static long newEpoch() {
    long epoch = (ThreadLocalRandom.current().nextLong() ^ (System.currentTimeMillis() << 21)) & Long.MAX_VALUE;
    return epoch == 0 ? 1 : epoch;
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(Demand.class, this::onDemand)
        .onMessage(LeaseProtocol.Release.class, this::onRelease)
        .onMessage(SampleBatch.class, this::onSampleBatch)
        .onMessage(LimitDecision.class, this::onLimitDecision)
        .onMessage(FromController.class, this::onFromController)
        .onMessage(LeaseProtocol.SetSpec.class, this::onSetSpec)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(LeaseProtocol.GetLeases.class, this::onGetLeases)
        .onMessage(LeaseProtocol.SetPin.class, this::onSetPin)
        .onMessage(LeaseProtocol.SetDrain.class, this::onSetDrain)
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onSignal(Terminated.class, this::onNodeGone)
        .build();
  }

  private Behavior<Object> onDemand(Demand demand) {
    if (spec == null) {
      startController(demand.spec());
    } else if (!spec.equals(demand.spec()) && differingSpecs.add(demand.spec())) {
      getContext().getLog().warn("backend {}: a node asks with limit spec {} but the entity runs {}; keeping {} (reload"
          + " every node with the same configuration)", backendId, demand.spec().describe(), spec.describe(),
          spec.describe());
    }
    ActorRef<Lease> pool = demand.replyTo();
    if (!book.knows(pool)) {
      getContext().watch(pool);
      getContext().getLog().info("backend {}: node pool {} joined ({} held)", backendId, pool.path(), demand.held());
    }
    boolean wasLearning = book.learning();
    if (wasLearning) {
      reported.add(members.memberOf(pool));
    }
    send(book.demand(pool, demand.wanted(), demand.warm(), demand.held(), demand.grantedNow(), demand.epoch(),
        demand.seenSeq(), demand.sentAtNanos()));
    endLearningOnceAllReported(wasLearning);
    return this;
  }

  private void startController(LimitSpec next) {
    spec = next;
    int mine = ++generation;
    ActorRef<Object> self = getContext().getSelf();
    relay = getContext().spawn(Behaviors.<LimitDecision>receiveMessage(decision -> {
      self.tell(new FromController(mine, decision));
      return Behaviors.same();
    }), "decisions-" + mine);
    controller = getContext().spawn(Controller.create(backendId, spec, controllerWindow, relay),
        "controller-" + mine);
    if (pinned > 0) {
      controller.tell(Controller.Pin.INSTANCE); // pinned before any node asked, or before the new spec
    }
  }

  private Behavior<Object> onFromController(FromController from) {
    if (from.generation() != generation) {
      return this; // a replaced controller's last word
    }
    return onLimitDecision(from.decision());
  }

  /**
   * A reload changed the back-end's limit spec: a new controller with it, from the current limit
   * within the new bounds (fixed: its value). A pin or a drain holds as before.
   */
  private Behavior<Object> onSetSpec(LeaseProtocol.SetSpec set) {
    LimitSpec next = set.spec();
    if (next.equals(spec)) {
      getContext().getLog().info("backend {}: limit spec from {}: it already runs {}, nothing changes", backendId,
          set.by(), spec.describe());
      set.replyTo().tell(leases());
      return this;
    }
    LimitSpec was = spec;
    if (controller != null) {
      getContext().stop(controller);
      getContext().stop(relay);
    }
    int from = decided && controlled > 0 ? Math.max(next.min(), Math.min(next.max(), controlled)) : next.initial();
    differingSpecs.clear();
    startController(new LimitSpec(next.algorithm(), next.min(), next.max(), from, next.params()));
    spec = next; // as given: its own initial, so that demands with it match
    getContext().getLog().info("backend {}: limit spec {} -> {} by {}: algorithm {} starts from limit {}", backendId,
        was == null ? "none" : was.describe(), next.describe(), set.by(), next.algorithm(), from);
    set.replyTo().tell(leases());
    return this;
  }

  private Behavior<Object> onSampleBatch(SampleBatch batch) {
    if (controller != null && !drained) {
      controller.tell(new Controller.Samples(batch));
    }
    return this;
  }

  private Behavior<Object> onLimitDecision(LimitDecision decision) {
    controlled = decision.limit();
    if (pinned > 0 || drained) {
      // decided before the controller heard of the pin, or held while drained: kept for later
      getContext().getLog().debug("backend {}: controller's limit {} kept aside ({}): {}", backendId,
          decision.limit(), drained ? "drained" : "pinned at " + pinned, decision.reason());
      return this;
    }
    if (decision.limit() != book.limit()) {
      getContext().getLog().debug("backend {}: limit {} -> {}: {}", backendId, book.limit(), decision.limit(),
          decision.reason());
      limitLog.decided(decision.limit(), decision.reason()).ifPresent(this::logLimit);
    }
    lastReason = decision.reason();
    lastDecisionNanos = nanoClock.getAsLong();
    decided = true;
    send(book.setLimit(decision.limit()));
    return this;
  }

  /** Pins (limit above 0) or unpins (0); answers with the book either way. */
  private Behavior<Object> onSetPin(LeaseProtocol.SetPin set) {
    int before = book.limit();
    int wasPinned = pinned;
    if (set.limit() > 0) {
      pinned = set.limit();
      if (wasPinned == 0 && controller != null) {
        controller.tell(Controller.Pin.INSTANCE);
      }
      operatorDecided("pinned at " + pinned + " by the operator");
      send(book.setLimit(effectiveLimit()));
      getContext().getLog().info("backend {}: limit pinned at {} (was {}) by {}: limit {} -> {}", backendId, pinned,
          wasPinned == 0 ? "not pinned" : "pinned at " + wasPinned, set.by(), before, book.limit());
    } else if (wasPinned > 0) {
      pinned = 0;
      // the book keeps the pinned value until the controller, resumed from it, tells its limit
      controlled = wasPinned;
      operatorDecided("unpinned by the operator");
      if (controller != null) {
        controller.tell(new Controller.Unpin(wasPinned));
      }
      send(book.setLimit(effectiveLimit()));
      getContext().getLog().info("backend {}: limit unpinned (was pinned at {}) by {}: the controller resumes from it;"
          + " limit {} -> {}", backendId, wasPinned, set.by(), before, book.limit());
    } else {
      getContext().getLog().info("backend {}: unpin by {}: it was not pinned, nothing changes (limit {})", backendId,
          set.by(), before);
    }
    set.replyTo().tell(leases());
    return this;
  }

  private Behavior<Object> onSetDrain(LeaseProtocol.SetDrain set) {
    int before = book.limit();
    boolean was = drained;
    drained = set.drained();
    if (drained != was) {
      operatorDecided(drained ? "drained by the operator" : "undrained by the operator");
      send(book.setLimit(effectiveLimit()));
      getContext().getLog().info("backend {}: {} by {}: limit {} -> {}", backendId,
          drained ? "drained (no node starts new work on it; in-flight requests finish)" : "undrained", set.by(),
          before, book.limit());
    } else {
      getContext().getLog().info("backend {}: {} by {}: it already was, nothing changes (limit {})", backendId,
          drained ? "drain" : "undrain", set.by(), before);
    }
    set.replyTo().tell(leases());
    return this;
  }

  private void operatorDecided(String reason) {
    lastReason = reason;
    lastDecisionNanos = nanoClock.getAsLong();
    decided = true;
  }

  private int effectiveLimit() {
    return drained ? 0 : pinned > 0 ? pinned : controlled;
  }

  private Behavior<Object> onGetStatus(GetStatus get) {
    get.replyTo().tell(new Status(backendId, book.epoch(), book.limit(), book.granted(), book.nodes(),
        book.learning(), lastReason));
    return this;
  }

  /** At INFO, only what {@link LimitChangeLog} lets through: the first limit, large moves, a summary of small ones. */
  private void logLimit(LimitChangeLog.Summary s) {
    if (s.first()) {
      getContext().getLog().info("backend {}: limit {}: {}", backendId, s.to(), s.lastReason());
    } else {
      getContext().getLog().info("backend {}: limit {} -> {} over {} s ({} decision(s), between {} and {}), last: {}",
          backendId, s.from(), s.to(), String.format(Locale.ROOT, "%.1f", s.seconds()), s.decisions(), s.lowest(),
          s.highest(), s.lastReason());
    }
  }

  /** Who holds what, summed per cluster member over its pools (one per event loop). */
  private Behavior<Object> onGetLeases(LeaseProtocol.GetLeases get) {
    get.replyTo().tell(leases());
    return this;
  }

  private LeaseProtocol.Leases leases() {
    Map<String, int[]> perMember = new LinkedHashMap<>();
    for (ActorRef<Lease> pool : book.holders()) {
      int[] sums = perMember.computeIfAbsent(members.memberOf(pool).hostPort(), m -> new int[3]);
      sums[0]++;
      sums[1] += book.granted(pool);
      sums[2] += book.committed(pool);
    }
    List<LeaseProtocol.NodeLease> nodes = new ArrayList<>();
    perMember.forEach((member, sums) -> nodes.add(new LeaseProtocol.NodeLease(member, sums[0], sums[1], sums[2])));
    long ago = decided ? (nanoClock.getAsLong() - lastDecisionNanos) / 1_000_000 : -1;
    return new LeaseProtocol.Leases(backendId, book.epoch(), book.limit(), book.learning(),
        spec == null ? "" : spec.algorithm(), lastReason, ago, nodes, pinned, drained);
  }

  private Behavior<Object> onTick() {
    limitLog.tick().ifPresent(this::logLimit);
    boolean wasLearning = book.learning();
    LeaseBook.Expired<ActorRef<Lease>> expired = book.expire();
    for (Map.Entry<ActorRef<Lease>, Integer> gone : expired.dropped().entrySet()) {
      getContext().unwatch(gone.getKey());
      getContext().getLog().info("backend {}: node pool {} sent no demand for {} ms: its lease expired, {} slots back",
          backendId, gone.getKey().path(), book.leaseTime().toMillis(), gone.getValue());
    }
    send(expired.leases());
    endLearningOnceAllReported(wasLearning);
    return this;
  }

  /** A node's pool stops and holds nothing any more: its slots are free at once. */
  private Behavior<Object> onRelease(LeaseProtocol.Release release) {
    ActorRef<Lease> pool = release.replyTo();
    if (book.knows(pool)) {
      int slots = book.committed(pool);
      send(book.remove(pool));
      getContext().getLog().info("backend {}: node pool {} left, {} slots back", backendId, pool.path(), slots);
    }
    return this;
  }

  private Behavior<Object> onNodeGone(Terminated terminated) {
    ActorRef<Lease> pool = terminated.getRef().unsafeUpcast();
    if (book.knows(pool)) {
      int slots = book.committed(pool);
      send(book.remove(pool));
      getContext().getLog().info("backend {}: node pool {} gone, {} slots back", backendId, pool.path(), slots);
    }
    return this;
  }

  /** Ends learning when every Up member has reported; logs once when learning has ended, however it ended. */
  private void endLearningOnceAllReported(boolean wasLearning) {
    if (!wasLearning) {
      return;
    }
    String how;
    if (!book.learning()) {
      how = "a lease time passed";
    } else {
      Set<Address> up = members.up();
      if (up.isEmpty() || !reported.containsAll(up)) {
        return;
      }
      send(book.endLearning());
      how = "every Up member reported";
    }
    getContext().getLog().info("backend {}: epoch {} learned in {} ms ({}): {} node pools on {} members; granting now",
        backendId, book.epoch(), (nanoClock.getAsLong() - book.startedAtNanos()) / 1_000_000, how,
        book.nodes(), reported.size());
    reported.clear();
  }

  private void send(List<Grant<ActorRef<Lease>>> leases) {
    for (Grant<ActorRef<Lease>> lease : leases) {
      lease.node().tell(new Lease(backendId, lease.epoch(), lease.seq(), lease.limit(), lease.granted(),
          lease.demandSentAtNanos(), lease.validNanos(), lastReason));
    }
  }
}
