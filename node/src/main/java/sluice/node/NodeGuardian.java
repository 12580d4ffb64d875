package sluice.node;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import sluice.backend.BackendEntity;
import sluice.node.SluiceNode.PoolOnLoop;
import sluice.node.backend.BackendActor;
import sluice.node.loop.EventLoops;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.SettingsDiff;
import sluice.node.settings.SluiceSettings;
import sluice.node.tcp.TcpBackendActor;

/**
 * The node's guardian: joins the cluster, starts the Backend entities' sharding, and owns the
 * pools' actors: on every event loop one queue per pool and one back-end actor per back-end.
 * A reload comes in two steps: {@link Spawn} starts what is new and tells the actors that stay
 * their new settings, and answers with the new layout, so that the node can point its routes at
 * it; then {@link RetireRemoved} retires what the reload removed, once no route leads to it any
 * more. A removed back-end's actors leave their queues and stop when what they have in flight
 * is done; a removed pool's queue first serves what waits in it (and what clients that picked it
 * before the reload still bring, for a grace), then its back-end actors retire, then it stops.
 * Each removed back-end is logged once when its actors on every loop have stopped.
 *
 * <p>State: the settings and the layout of the actors as they run (loop-major, pools in the
 * order of the settings, back-ends in the order of their pool), the retiring actors and, per
 * removed pool, its queue's back-end actors.
 */
final class NodeGuardian extends AbstractBehavior<SluiceNode.GuardianCommand> {

  /** Start what a reload adds, reconfigure what stays; answers with the layout to run. */
  record Spawn(SluiceSettings next, SettingsDiff diff, Map<String, InetSocketAddress> addresses,
      CompletableFuture<Spawned> done) implements SluiceNode.GuardianCommand {}

  /** The new layout, and what the reload removed, to be retired once the routes no longer lead there. */
  record Spawned(List<PoolOnLoop> layout, List<Removed> removedBackends, List<RemovedPool> removedPools) {}

  record Removed(String backendId, ActorRef<BackendActor.Command> actor) {}

  /** A removed pool's actors on one loop, with its back-ends' ids in the order of its actors. */
  record RemovedPool(PoolOnLoop actors, List<String> backendIds) {}

  record RetireRemoved(Spawned spawned, Duration poolGrace) implements SluiceNode.GuardianCommand {}

  private record QueueClosed(QueueActor.Closed closed) implements SluiceNode.GuardianCommand {}

  private final SluiceNode.Start start;
  private final EventLoops loops;
  private final ConnectionGate gate;
  private final String nodeId;
  private final ClusterSharding sharding;
  private SluiceSettings settings;
  private List<PoolOnLoop> layout;
  private final List<ActorRef<?>> others = new ArrayList<>();
  /** Names in use by a pool's queue on a loop, and the next back-end actor number: names stay unique. */
  private final Map<String, Integer> queueGenerations = new HashMap<>();
  private final Map<String, Integer> backendNumbers = new HashMap<>();
  /** Retiring back-end actors, by actor, with their back-end's id; and how many are left per id. */
  private final Map<ActorRef<?>, String> retiring = new HashMap<>();
  private final Map<String, Integer> retiringLeft = new HashMap<>();
  /** Per removed pool's queue on a loop: its back-end actors not stopped yet. */
  private final Map<ActorRef<QueueActor.Command>, Set<ActorRef<?>>> closingQueues = new HashMap<>();
  private final Map<ActorRef<QueueActor.Command>, RemovedPool> closingPools = new HashMap<>();
  private final ActorRef<QueueActor.Closed> closedInbox;

  private NodeGuardian(ActorContext<SluiceNode.GuardianCommand> context, SluiceNode.Start start,
      Supplier<CompletionStage<List<PoolStatus>>> statusSource, CompletableFuture<List<PoolOnLoop>> started) {
    super(context);
    this.start = start;
    this.loops = start.loops();
    this.gate = start.gate();
    this.settings = start.settings();
    Cluster cluster = Cluster.get(context.getSystem());
    if (settings.cluster().seedNodes().isEmpty()) {
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
    }
    BackendEntity.initSharding(context.getSystem(), settings.controllerWindow(), settings.cluster().leaseTime());
    this.nodeId = cluster.selfMember().address().hostPort();
    this.sharding = ClusterSharding.get(context.getSystem());
    this.closedInbox = context.messageAdapter(QueueActor.Closed.class, QueueClosed::new);
    List<PoolOnLoop> actors = new ArrayList<>();
    for (int loop = 0; loop < loops.size(); loop++) {
      for (PoolSettings pool : settings.pools().values()) {
        ConnectionGate tcpGate = start.tcpGates().get(pool.name());
        actors.add(tcpGate != null
            ? spawnTcpPool(pool, loop, tcpGate, start.addresses())
            : spawnPool(pool, loop, start.addresses()));
      }
    }
    this.layout = List.copyOf(actors);
    if (!settings.statusInterval().isZero()) {
      others.add(context.spawn(StatusReporter.create(statusSource, settings.statusInterval()), "status"));
    }
    started.complete(layout);
  }

  static Behavior<SluiceNode.GuardianCommand> create(SluiceNode.Start start,
      Supplier<CompletionStage<List<PoolStatus>>> statusSource, CompletableFuture<List<PoolOnLoop>> started) {
    return Behaviors.setup(context -> new NodeGuardian(context, start, statusSource, started));
  }

  @Override
  public Receive<SluiceNode.GuardianCommand> createReceive() {
    return newReceiveBuilder()
        .onMessage(Spawn.class, this::onSpawn)
        .onMessage(RetireRemoved.class, this::onRetireRemoved)
        .onMessage(QueueClosed.class, this::onQueueClosed)
        .onMessage(SluiceNode.StopPools.class, this::onStopPools)
        .onSignal(Terminated.class, this::onTerminated)
        .build();
  }

  // ---- a reload ------------------------------------------------------------------------

  private Behavior<SluiceNode.GuardianCommand> onSpawn(Spawn spawn) {
    try {
      spawn.done().complete(spawn(spawn));
    } catch (RuntimeException e) {
      spawn.done().completeExceptionally(e);
    }
    return this;
  }

  private Spawned spawn(Spawn spawn) {
    SluiceSettings next = spawn.next();
    SettingsDiff diff = spawn.diff();
    Map<String, SettingsDiff.PoolChange> changes = new HashMap<>();
    diff.changedPools().forEach(c -> changes.put(c.after().name(), c));
    Set<String> removedPoolNames = new HashSet<>();
    diff.removedPools().forEach(p -> removedPoolNames.add(p.name()));
    List<PoolOnLoop> nextLayout = new ArrayList<>();
    List<Removed> removedBackends = new ArrayList<>();
    List<RemovedPool> removedPools = new ArrayList<>();
    for (int loop = 0; loop < loops.size(); loop++) {
      Map<String, PoolOnLoop> here = new LinkedHashMap<>();
      for (PoolOnLoop p : layout.subList(loop * settings.pools().size(), (loop + 1) * settings.pools().size())) {
        here.put(p.pool(), p);
      }
      for (PoolSettings pool : next.pools().values()) {
        PoolOnLoop was = here.get(pool.name());
        SettingsDiff.PoolChange change = changes.get(pool.name());
        if (was == null) {
          nextLayout.add(spawnPool(pool, loop, spawn.addresses()));
        } else if (change == null || !was.tcpBackends().isEmpty()) {
          nextLayout.add(was); // unchanged, or a TCP pool (kept as it runs)
        } else {
          nextLayout.add(changePool(was, change, loop, spawn.addresses(), removedBackends));
        }
      }
      for (PoolOnLoop p : here.values()) {
        if (removedPoolNames.contains(p.pool())) {
          removedPools.add(new RemovedPool(p,
              settings.pools().get(p.pool()).backends().stream().map(BackendSettings::id).toList()));
        }
      }
    }
    settings = next;
    layout = List.copyOf(nextLayout);
    return new Spawned(layout, List.copyOf(removedBackends), List.copyOf(removedPools));
  }

  /** A pool in both: new back-ends get their actors, those that stay their settings, the queue its own. */
  private PoolOnLoop changePool(PoolOnLoop was, SettingsDiff.PoolChange change, int loop,
      Map<String, InetSocketAddress> addresses, List<Removed> removed) {
    PoolSettings before = change.before();
    PoolSettings after = change.after();
    Map<String, ActorRef<BackendActor.Command>> byId = new HashMap<>();
    for (int i = 0; i < before.backends().size(); i++) {
      byId.put(before.backends().get(i).id(), was.backends().get(i));
    }
    CharSequence loadHeader = loadHeader(after);
    List<ActorRef<BackendActor.Command>> backends = new ArrayList<>();
    for (BackendSettings b : after.backends()) {
      ActorRef<BackendActor.Command> actor = byId.remove(b.id());
      if (actor == null) {
        actor = spawnBackend(after, b, loop, was.queue(), addresses);
      } else if (change.connectionsChanged() || !before.backends().contains(b)) {
        actor.tell(new BackendActor.Reconfigure(b, after.connections(), loadHeader));
      }
      backends.add(actor);
    }
    byId.forEach((id, actor) -> removed.add(new Removed(id, actor)));
    if (change.queueChanged()) {
      was.queue().tell(new QueueActor.Reconfigure(after.queue(), after.balance(), after.backends().size()));
    }
    return new PoolOnLoop(was.pool(), was.queue(), List.copyOf(backends));
  }

  private Behavior<SluiceNode.GuardianCommand> onRetireRemoved(RetireRemoved retire) {
    for (Removed r : retire.spawned().removedBackends()) {
      retire(r.backendId(), r.actor());
    }
    for (RemovedPool p : retire.spawned().removedPools()) {
      closingPools.put(p.actors().queue(), p);
      p.actors().queue().tell(new QueueActor.Close(retire.poolGrace(), closedInbox));
    }
    return this;
  }

  private void retire(String backendId, ActorRef<BackendActor.Command> actor) {
    retiring.put(actor, backendId);
    retiringLeft.merge(backendId, 1, Integer::sum);
    getContext().watch(actor);
    actor.tell(BackendActor.Retire.INSTANCE);
  }

  /** A removed pool's queue has been empty for the grace: its back-ends retire, then it stops. */
  private Behavior<SluiceNode.GuardianCommand> onQueueClosed(QueueClosed closed) {
    ActorRef<QueueActor.Command> queue = closed.closed().queue();
    RemovedPool pool = closingPools.remove(queue);
    if (pool == null) {
      return this;
    }
    getContext().getLog().debug("pool {}: its queue has been empty for the grace; its back-ends retire",
        closed.closed().pool());
    List<ActorRef<BackendActor.Command>> backends = pool.actors().backends();
    Set<ActorRef<?>> left = new HashSet<>(backends);
    closingQueues.put(queue, left);
    for (int i = 0; i < backends.size(); i++) {
      retire(pool.backendIds().get(i), backends.get(i));
    }
    if (left.isEmpty()) {
      closingQueues.remove(queue);
      getContext().stop(queue);
    }
    return this;
  }

  private Behavior<SluiceNode.GuardianCommand> onTerminated(Terminated terminated) {
    ActorRef<?> ref = terminated.getRef();
    String id = retiring.remove(ref);
    if (id != null) {
      int left = retiringLeft.merge(id, -1, Integer::sum);
      if (left == 0) {
        retiringLeft.remove(id);
        getContext().getLog().info("backend {}: removed: its last request has ended and its connections are closed",
            id);
      }
    }
    for (Map.Entry<ActorRef<QueueActor.Command>, Set<ActorRef<?>>> e : List.copyOf(closingQueues.entrySet())) {
      if (e.getValue().remove(ref) && e.getValue().isEmpty()) {
        closingQueues.remove(e.getKey());
        getContext().stop(e.getKey());
      }
    }
    return this;
  }

  // ---- stopping ------------------------------------------------------------------------

  /** Stops every queue and back-end actor (each answers what it holds) and waits for them. */
  private Behavior<SluiceNode.GuardianCommand> onStopPools(SluiceNode.StopPools stop) {
    others.forEach(getContext()::stop); // the status line asks the pools: it goes first
    Set<ActorRef<?>> all = new HashSet<>();
    for (ActorRef<Void> child : getContext().getChildren()) {
      if (!others.contains(child)) {
        all.add(child);
      }
    }
    for (ActorRef<?> ref : all) {
      getContext().watch(ref);
      getContext().stop(ref);
    }
    if (all.isEmpty()) {
      stop.done().complete(null);
    }
    return Behaviors.receive(SluiceNode.GuardianCommand.class)
        .onSignal(Terminated.class, terminated -> {
          if (all.remove(terminated.getRef()) && all.isEmpty()) {
            stop.done().complete(null);
          }
          return Behaviors.same();
        })
        .build();
  }

  // ---- spawning ------------------------------------------------------------------------

  private Props onLoop(int loop) {
    return Props.empty().withDispatcherFromConfig(loops.dispatcherId(loop));
  }

  private String holder(int loop) {
    // each loop's back-end actors are their own lease holders and sample sources
    return loops.size() == 1 ? nodeId : nodeId + "/" + loop;
  }

  private String queueName(String suffix) {
    int generation = queueGenerations.merge(suffix, 1, Integer::sum);
    return generation == 1 ? "queue-" + suffix : "queue-" + suffix + "-" + generation;
  }

  private static CharSequence loadHeader(PoolSettings pool) {
    return pool.loadHeader().filter(h -> !h.isEmpty()).orElse(null);
  }

  private PoolOnLoop spawnPool(PoolSettings pool, int loop, Map<String, InetSocketAddress> addresses) {
    String suffix = pool.name() + "-" + loop;
    ActorRef<QueueActor.Command> queue = getContext().spawn(
        Behaviors.supervise(QueueActor.create(pool.name(),
            new QueueActor.Current(pool.queue(), pool.balance(), pool.backends().size()), gate, suffix,
            settings.reportInterval())).onFailure(SupervisorStrategy.restart()),
        queueName(suffix), onLoop(loop));
    List<ActorRef<BackendActor.Command>> backends = new ArrayList<>();
    for (BackendSettings backend : pool.backends()) {
      backends.add(spawnBackend(pool, backend, loop, queue, addresses));
    }
    return new PoolOnLoop(pool.name(), queue, List.copyOf(backends));
  }

  private ActorRef<BackendActor.Command> spawnBackend(PoolSettings pool, BackendSettings backend, int loop,
      ActorRef<QueueActor.Command> queue, Map<String, InetSocketAddress> addresses) {
    String suffix = pool.name() + "-" + loop;
    int number = backendNumbers.merge(suffix, 1, Integer::sum) - 1;
    return getContext().spawn(
        Behaviors.supervise(BackendActor.create(backend, pool.connections(), loadHeader(pool), holder(loop), queue,
            sharding.entityRefFor(BackendEntity.TYPE_KEY, backend.id()), loops.loop(loop), loops.channelType(),
            addresses.get(backend.id()), settings.reportInterval(), settings.statusInterval()))
            .onFailure(SupervisorStrategy.restart()),
        "backend-" + suffix + "-" + number, onLoop(loop));
  }

  /** A TCP pool on one loop: its queue (gating its own listeners) and an L4 actor per back-end. */
  private PoolOnLoop spawnTcpPool(PoolSettings pool, int loop, ConnectionGate tcpGate,
      Map<String, InetSocketAddress> addresses) {
    String suffix = pool.name() + "-" + loop;
    ActorRef<QueueActor.Command> queue = getContext().spawn(
        // clients wait while every back-end is down: the next one waiting is the back-end actor's probe
        Behaviors.supervise(QueueActor.createWaitingWhileAllDown(pool.name(), pool.queue(), pool.balance(), tcpGate,
            suffix, settings.reportInterval())).onFailure(SupervisorStrategy.restart()),
        queueName(suffix), onLoop(loop));
    List<ActorRef<TcpBackendActor.Command>> backends = new ArrayList<>();
    int index = 0;
    for (BackendSettings backend : pool.backends()) {
      backends.add(getContext().spawn(
          Behaviors.supervise(TcpBackendActor.create(backend, pool.connections(), holder(loop), queue,
              sharding.entityRefFor(BackendEntity.TYPE_KEY, backend.id()), loops.loop(loop), loops.channelType(),
              addresses.get(backend.id()), settings.reportInterval(), settings.statusInterval()))
              .onFailure(SupervisorStrategy.restart()),
          "tcp-backend-" + suffix + "-" + index++, onLoop(loop)));
    }
    return new PoolOnLoop(pool.name(), queue, List.of(), List.copyOf(backends));
  }
}
