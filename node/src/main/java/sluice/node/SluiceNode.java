package sluice.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetShardRegionState;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.http.javadsl.ServerBinding;
import java.util.Optional;
import sluice.node.admin.AdminServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.backend.BackendEntity;
import sluice.node.backend.BackendActor;
import sluice.node.http.HttpListener;
import sluice.node.loop.EventLoops;
import sluice.node.metrics.LatencyBuckets;
import sluice.node.metrics.NodeMetrics;
import sluice.node.pcap.PcapIngress;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.settings.TcpSettings;
import sluice.node.tcp.TcpBackendActor;
import sluice.node.tcp.TcpListener;
import sluice.protocol.LeaseProtocol;

/**
 * A running dispatcher node: its data plane (Netty event loops and the HTTP listener), its
 * actor system (a cluster member, a cluster of one by default) with, on every event loop,
 * one queue actor per pool and one back-end actor per back-end, the Backend entities'
 * sharding region, and the status line.
 */
public final class SluiceNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SluiceNode.class);

  /** What the node's guardian takes: the request to stop the pools' actors before the system stops. */
  sealed interface GuardianCommand extends org.apache.pekko.actor.NoSerializationVerificationNeeded {}

  private record StopPools(CompletableFuture<Void> done) implements GuardianCommand {}

  /** One pool's actors on one event loop: L7 back-end actors, or for a TCP pool L4 ones. */
  record PoolOnLoop(String pool, ActorRef<QueueActor.Command> queue, List<ActorRef<BackendActor.Command>> backends,
      List<ActorRef<TcpBackendActor.Command>> tcpBackends) {
    PoolOnLoop(String pool, ActorRef<QueueActor.Command> queue, List<ActorRef<BackendActor.Command>> backends) {
      this(pool, queue, backends, List.of());
    }
  }

  private final EventLoops loops;
  private final ActorSystem<GuardianCommand> system;
  private final List<PoolOnLoop> actors;
  private final List<String> poolNames;
  private final HttpListener listener;
  private final List<TcpListener> tcpListeners;
  private final List<PcapIngress> pcapIngresses;
  private final String nodeId;
  private final ConnectionGate gate;
  private final int loopCount;
  private final NodeMetrics metrics;
  /** The limit algorithm of every back-end, by id, in configuration order. */
  private final Map<String, String> algorithms = new LinkedHashMap<>();
  private volatile ServerBinding admin;
  private volatile boolean draining;

  private SluiceNode(EventLoops loops, ActorSystem<GuardianCommand> system, List<PoolOnLoop> actors, List<String> poolNames,
      HttpListener listener, List<TcpListener> tcpListeners, List<PcapIngress> pcapIngresses, String nodeId,
      ConnectionGate gate, SluiceSettings settings) {
    this.loops = loops;
    this.pcapIngresses = pcapIngresses;
    this.system = system;
    this.actors = actors;
    this.poolNames = poolNames;
    this.listener = listener;
    this.tcpListeners = tcpListeners;
    this.nodeId = nodeId;
    this.gate = gate;
    this.loopCount = loops.size();
    List<NodeMetrics.Layout> layout = new ArrayList<>();
    Set<String> tcpPools = settings.tcp().stream().map(TcpSettings::pool).collect(Collectors.toSet());
    for (PoolSettings pool : settings.pools().values()) {
      // a TCP pool's back-end actors are not asked yet: its queue is in /metrics, its back-ends are not
      layout.add(new NodeMetrics.Layout(pool.name(), tcpPools.contains(pool.name()) ? List.of()
          : pool.backends().stream().map(BackendSettings::id).toList()));
    }
    this.metrics = new NodeMetrics(layout, this::metricsSample);
    for (BackendSettings backend : settings.allBackends()) {
      algorithms.put(backend.id(), backend.limit().algorithm());
    }
  }

  /**
   * Starts a node and waits until it listens.
   *
   * @param settings   validated settings
   * @param userConfig the user's whole configuration (its pekko.* keys are honoured)
   */
  public static SluiceNode start(SluiceSettings settings, Config userConfig) {
    Map<String, InetSocketAddress> addresses = resolve(settings);
    for (TcpSettings tcp : settings.tcp()) {
      if (tcp.isPcap()) {
        PcapIngress.check(tcp, poolAddresses(settings, tcp.pool(), addresses)); // before anything starts
      }
    }
    EventLoops loops = EventLoops.start(settings.eventLoops());
    Config config = derivedConfig(settings)
        .withFallback(ConfigFactory.parseString(loops.dispatcherConfig()))
        .withFallback(userConfig)
        .withFallback(ConfigFactory.parseResources("sluice-pekko.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
    ConnectionGate gate = new ConnectionGate();
    // a TCP pool's queue gates its own listeners only
    Map<String, ConnectionGate> tcpGates = new LinkedHashMap<>();
    settings.tcpPools().forEach(pool -> tcpGates.put(pool, new ConnectionGate()));
    CompletableFuture<List<PoolOnLoop>> started = new CompletableFuture<>();
    ActorSystem<GuardianCommand> system;
    try {
      system = ActorSystem.create(guardian(settings, loops, addresses, gate, tcpGates, started), "sluice", config);
    } catch (RuntimeException e) {
      loops.close();
      throw e;
    }
    List<TcpListener> tcpListeners = new ArrayList<>();
    List<PcapIngress> pcapIngresses = new ArrayList<>();
    try {
      List<PoolOnLoop> actors = started.get(30, TimeUnit.SECONDS);
      List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop = new ArrayList<>();
      for (int i = 0; i < loops.size(); i++) {
        queuesPerLoop.add(new LinkedHashMap<>());
      }
      int perLoop = settings.pools().size();
      for (int i = 0; i < actors.size(); i++) {
        queuesPerLoop.get(i / perLoop).put(actors.get(i).pool(), actors.get(i).queue());
      }
      HttpListener listener = HttpListener.bind(loops, settings.http(), settings.routes(), settings.defaultPool(),
          queuesPerLoop, gate, exchangeGuard(settings), retryAfter(settings));
      for (TcpSettings tcp : settings.tcp()) {
        List<ActorRef<QueueActor.Command>> queues = queuesPerLoop.stream().map(q -> q.get(tcp.pool())).toList();
        if (tcp.isPcap()) {
          pcapIngresses.add(PcapIngress.start(tcp, poolAddresses(settings, tcp.pool(), addresses), queues,
              tcpGates.get(tcp.pool())));
        } else {
          tcpListeners.add(TcpListener.bind(loops, tcp, queues, tcpGates.get(tcp.pool())));
        }
      }
      String nodeId = Cluster.get(system).selfMember().address().hostPort();
      SluiceNode node = new SluiceNode(loops, system, actors, List.copyOf(settings.pools().keySet()), listener,
          List.copyOf(tcpListeners), List.copyOf(pcapIngresses), nodeId, gate, settings);
      // off Pekko's threads (and never on an event loop, which the close waits for)
      system.getWhenTerminated().thenRunAsync(node::closeDataPlane, r -> new Thread(r, "sluice-stop").start());
      node.admin = AdminServer.bind(system, settings.admin(), node.adminView()).toCompletableFuture()
          .get(30, TimeUnit.SECONDS);
      node.registerShutdown(settings.drainTimeout());
      log.info("sluice listening on {} with pools {} ({} event loop{}, {}); operator's listener on {}",
          listener.localAddress(), settings.pools().keySet(), loops.size(), loops.size() == 1 ? "" : "s",
          loops.serverChannelType().getSimpleName().startsWith("Epoll") ? "epoll" : "nio", node.admin.localAddress());
      for (TcpListener tcp : tcpListeners) {
        log.info("sluice tcp listening on {} for pool {}", tcp.localAddress(), tcp.settings().pool());
      }
      return node;
    } catch (Exception e) {
      tcpListeners.forEach(TcpListener::close);
      pcapIngresses.forEach(PcapIngress::close);
      system.terminate();
      try {
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // stopping anyway
      }
      loops.close();
      throw new IllegalStateException("sluice could not start: " + e.getMessage(), e);
    }
  }

  private static List<InetSocketAddress> poolAddresses(SluiceSettings settings, String pool,
      Map<String, InetSocketAddress> addresses) {
    return settings.pools().get(pool).backends().stream().map(b -> addresses.get(b.id())).toList();
  }

  /** Back-end addresses are resolved once, at start, off the event loops. */
  private static Map<String, InetSocketAddress> resolve(SluiceSettings settings) {
    Map<String, InetSocketAddress> addresses = new LinkedHashMap<>();
    for (BackendSettings backend : settings.allBackends()) {
      InetSocketAddress address = new InetSocketAddress(backend.host(), backend.port());
      if (address.isUnresolved()) {
        throw new IllegalStateException("back-end " + backend.id() + ": cannot resolve host '" + backend.host() + "'");
      }
      addresses.put(backend.id(), address);
    }
    return addresses;
  }

  private static Behavior<GuardianCommand> guardian(SluiceSettings settings, EventLoops loops,
      Map<String, InetSocketAddress> addresses, ConnectionGate gate, Map<String, ConnectionGate> tcpGates,
      CompletableFuture<List<PoolOnLoop>> started) {
    return Behaviors.<GuardianCommand>setup(context -> {
      Cluster cluster = Cluster.get(context.getSystem());
      if (settings.cluster().seedNodes().isEmpty()) {
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      BackendEntity.initSharding(context.getSystem(), settings.controllerWindow(), settings.cluster().leaseTime());
      String nodeId = cluster.selfMember().address().hostPort();
      List<PoolOnLoop> actors = new ArrayList<>();
      for (int loop = 0; loop < loops.size(); loop++) {
        // each loop's back-end actors are their own lease holders and sample sources
        String holder = loops.size() == 1 ? nodeId : nodeId + "/" + loop;
        for (PoolSettings pool : settings.pools().values()) {
          ConnectionGate tcpGate = tcpGates.get(pool.name());
          actors.add(tcpGate != null
              ? spawnTcpPool(context, settings, pool, loop, loops, addresses, tcpGate, holder)
              : spawnPool(context, settings, pool, loop, loops, addresses, gate, holder));
        }
      }
      List<ActorRef<?>> others = new ArrayList<>();
      if (!settings.statusInterval().isZero()) {
        List<String> names = List.copyOf(settings.pools().keySet());
        others.add(context.spawn(
            StatusReporter.create(() -> status(context.getSystem(), names, actors, Duration.ofSeconds(5)),
                settings.statusInterval()), "status"));
      }
      started.complete(List.copyOf(actors));
      return Behaviors.receive(GuardianCommand.class)
          .onMessage(StopPools.class, stop -> {
            others.forEach(context::stop); // the status line asks the pools: it goes first
            return stopping(context, actors, stop.done());
          })
          .build();
    });
  }

  /** Stops every queue and back-end actor (each answers what it holds) and waits for them. */
  private static Behavior<GuardianCommand> stopping(ActorContext<GuardianCommand> context, List<PoolOnLoop> actors,
      CompletableFuture<Void> done) {
    List<ActorRef<?>> all = new ArrayList<>();
    for (PoolOnLoop p : actors) {
      all.add(p.queue());
      all.addAll(p.backends());
      all.addAll(p.tcpBackends());
    }
    int[] left = {all.size()};
    for (ActorRef<?> ref : all) {
      context.watch(ref);
      context.stop(ref);
    }
    if (left[0] == 0) {
      done.complete(null);
    }
    return Behaviors.receive(GuardianCommand.class)
        .onSignal(org.apache.pekko.actor.typed.Terminated.class, terminated -> {
          if (--left[0] == 0) {
            done.complete(null);
          }
          return Behaviors.same();
        })
        .build();
  }

  private static PoolOnLoop spawnPool(ActorContext<GuardianCommand> context, SluiceSettings settings, PoolSettings pool,
      int loop, EventLoops loops, Map<String, InetSocketAddress> addresses, ConnectionGate gate, String nodeId) {
    Props onLoop = Props.empty().withDispatcherFromConfig(loops.dispatcherId(loop));
    String suffix = pool.name() + "-" + loop;
    ActorRef<QueueActor.Command> queue = context.spawn(
        Behaviors.supervise(QueueActor.create(pool.name(), pool.backends().size(), pool.queue(), pool.balance(), gate, suffix,
            settings.reportInterval())).onFailure(SupervisorStrategy.restart()),
        "queue-" + suffix, onLoop);
    ClusterSharding sharding = ClusterSharding.get(context.getSystem());
    ConnectionSettings connections = pool.connections();
    CharSequence loadHeader = pool.loadHeader().filter(h -> !h.isEmpty()).orElse(null);
    List<ActorRef<BackendActor.Command>> backends = new ArrayList<>();
    int index = 0;
    for (BackendSettings backend : pool.backends()) {
      backends.add(context.spawn(
          Behaviors.supervise(BackendActor.create(backend, connections, loadHeader, nodeId, queue,
              sharding.entityRefFor(BackendEntity.TYPE_KEY, backend.id()), loops.loop(loop), loops.channelType(),
              addresses.get(backend.id()), settings.reportInterval(), settings.statusInterval()))
              .onFailure(SupervisorStrategy.restart()),
          "backend-" + suffix + "-" + index++, onLoop));
    }
    return new PoolOnLoop(pool.name(), queue, List.copyOf(backends));
  }

  /** A TCP pool on one loop: its queue (gating its own listeners) and an L4 actor per back-end. */
  private static PoolOnLoop spawnTcpPool(ActorContext<GuardianCommand> context, SluiceSettings settings,
      PoolSettings pool, int loop, EventLoops loops, Map<String, InetSocketAddress> addresses, ConnectionGate gate,
      String nodeId) {
    Props onLoop = Props.empty().withDispatcherFromConfig(loops.dispatcherId(loop));
    String suffix = pool.name() + "-" + loop;
    ActorRef<QueueActor.Command> queue = context.spawn(
        // clients wait while every back-end is down: the next one waiting is the back-end actor's probe
        Behaviors.supervise(QueueActor.createWaitingWhileAllDown(pool.name(), pool.queue(), pool.balance(), gate,
            suffix, settings.reportInterval())).onFailure(SupervisorStrategy.restart()),
        "queue-" + suffix, onLoop);
    ClusterSharding sharding = ClusterSharding.get(context.getSystem());
    List<ActorRef<TcpBackendActor.Command>> backends = new ArrayList<>();
    int index = 0;
    for (BackendSettings backend : pool.backends()) {
      backends.add(context.spawn(
          Behaviors.supervise(TcpBackendActor.create(backend, pool.connections(), nodeId, queue,
              sharding.entityRefFor(BackendEntity.TYPE_KEY, backend.id()), loops.loop(loop), loops.channelType(),
              addresses.get(backend.id()), settings.reportInterval(), settings.statusInterval()))
              .onFailure(SupervisorStrategy.restart()),
          "tcp-backend-" + suffix + "-" + index++, onLoop));
    }
    return new PoolOnLoop(pool.name(), queue, List.of(), List.copyOf(backends));
  }

  /**
   * The longest an exchange may wait for the start of its response: queue timeout, then up
   * to three attempts each with a connect and a response timeout, and room to spare. Past it
   * a client gets 503 (a guard against a bug leaving it hanging).
   */
  private static Duration exchangeGuard(SluiceSettings settings) {
    Duration longest = Duration.ZERO;
    for (PoolSettings pool : settings.pools().values()) {
      ConnectionSettings c = pool.connections();
      Duration d = pool.queue().timeout().plus(c.connectTimeout().plus(c.responseTimeout()).multipliedBy(3))
          .plusSeconds(10);
      longest = d.compareTo(longest) > 0 ? d : longest;
    }
    return longest;
  }

  private static Duration retryAfter(SluiceSettings settings) {
    return settings.pools().values().iterator().next().queue().retryAfter();
  }

  /** Pekko keys that follow from the sluice subtree; they override the user's pekko keys. */
  static Config derivedConfig(SluiceSettings settings) {
    var cluster = settings.cluster();
    List<String> seeds = new ArrayList<>();
    for (String seed : cluster.seedNodes()) {
      seeds.add("\"pekko://sluice@" + seed + "\"");
    }
    long drainMillis = settings.drainTimeout().toMillis();
    String text = String.join("\n",
        "pekko.remote.artery.canonical.hostname = \"" + cluster.host() + "\"",
        "pekko.remote.artery.canonical.port = " + cluster.port(),
        "pekko.cluster.seed-nodes = [" + String.join(",", seeds) + "]",
        "pekko.cluster.split-brain-resolver.active-strategy = " + cluster.splitBrainResolver(),
        "pekko.cluster.split-brain-resolver.stable-after = " + cluster.stableAfter().toMillis() + "ms",
        // the drain runs in service-requests-done; the pools stop in service-stop
        "pekko.coordinated-shutdown.phases.service-requests-done.timeout = " + (drainMillis + 5_000) + "ms",
        "pekko.coordinated-shutdown.phases.service-stop.timeout = 15s");
    return ConfigFactory.parseString(text);
  }

  /** The addresses the TCP listeners are bound to, in the order of {@code sluice.tcp}. */
  public List<InetSocketAddress> tcpAddresses() {
    return tcpListeners.stream().map(TcpListener::localAddress).toList();
  }

  /** The port the HTTP listener is bound to. */
  public int httpPort() {
    return listener.localAddress().getPort();
  }

  public ActorSystem<?> system() {
    return system;
  }

  /** A pool's queue on event loop 0 (for tests). */
  ActorRef<QueueActor.Command> queue(String pool) {
    return actors.stream().filter(p -> p.pool().equals(pool)).findFirst().orElseThrow().queue();
  }

  /** The status of every pool, in configuration order. */
  public CompletionStage<List<PoolStatus>> status() {
    return status(system, poolNames, actors, Duration.ofSeconds(5));
  }

  static CompletionStage<List<PoolStatus>> status(ActorSystem<?> system, List<String> poolNames,
      List<PoolOnLoop> actors, Duration timeout) {
    List<CompletableFuture<QueueActor.QueueStatus>> queues = new ArrayList<>();
    List<List<CompletableFuture<BackendActor.Status>>> backends = new ArrayList<>();
    for (PoolOnLoop p : actors) {
      queues.add(AskPattern.<QueueActor.Command, QueueActor.QueueStatus>ask(p.queue(), QueueActor.GetStatus::new,
          timeout, system.scheduler()).toCompletableFuture());
      List<CompletableFuture<BackendActor.Status>> each = new ArrayList<>();
      for (ActorRef<BackendActor.Command> b : p.backends()) {
        each.add(AskPattern.<BackendActor.Command, BackendActor.Status>ask(b, BackendActor.GetStatus::new,
            timeout, system.scheduler()).toCompletableFuture());
      }
      for (ActorRef<TcpBackendActor.Command> b : p.tcpBackends()) {
        each.add(AskPattern.<TcpBackendActor.Command, BackendActor.Status>ask(b, TcpBackendActor.GetStatus::new,
            timeout, system.scheduler()).toCompletableFuture());
      }
      backends.add(each);
    }
    List<CompletableFuture<?>> all = new ArrayList<>(queues);
    backends.forEach(all::addAll);
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(done -> {
      List<PoolStatus> pools = new ArrayList<>();
      for (String name : poolNames) {
        pools.add(poolStatus(name, actors, queues, backends));
      }
      return pools;
    });
  }

  /** One pool's status, summed over its event loops. */
  private static PoolStatus poolStatus(String name, List<PoolOnLoop> actors,
      List<CompletableFuture<QueueActor.QueueStatus>> queues,
      List<List<CompletableFuture<BackendActor.Status>>> backends) {
    int waiting = 0;
    long accepted = 0;
    long rejectedFull = 0;
    long expired = 0;
    long noBackendUp = 0;
    long abandoned = 0;
    long stopped = 0;
    List<BackendActor.Status> merged = null;
    for (int i = 0; i < actors.size(); i++) {
      if (!actors.get(i).pool().equals(name)) {
        continue;
      }
      QueueActor.QueueStatus q = queues.get(i).join();
      waiting += q.waiting();
      accepted += q.accepted();
      rejectedFull += q.rejectedFull();
      expired += q.expired();
      noBackendUp += q.noBackendUp();
      abandoned += q.abandoned();
      stopped += q.stoppedWaiting();
      List<BackendActor.Status> here = backends.get(i).stream().map(CompletableFuture::join).toList();
      merged = merged == null ? new ArrayList<>(here) : merge(merged, here);
    }
    long served = 0;
    long badGateway = 0;
    long gatewayTimeout = 0;
    long clientAborted = 0;
    int inFlight = 0;
    List<PoolStatus.BackendStatus> statuses = new ArrayList<>();
    for (BackendActor.Status b : merged) {
      served += b.served();
      badGateway += b.badGateway();
      gatewayTimeout += b.gatewayTimeout();
      clientAborted += b.clientAborted();
      inFlight += b.inFlight();
      statuses.add(new PoolStatus.BackendStatus(b.id(), b.up(), b.limit(), b.granted(), b.leaseValid(), b.inFlight(),
          b.connections(), b.served(), b.badGateway() + b.gatewayTimeout(), b.ratePerSecond(), b.p99Millis(),
          b.limitReason()));
    }
    return new PoolStatus(name, waiting, waiting + inFlight, accepted, served, rejectedFull, expired, noBackendUp, badGateway,
        gatewayTimeout, abandoned, clientAborted, stopped, statuses);
  }

  /** The same back-ends on two loops, as one. */
  private static List<BackendActor.Status> merge(List<BackendActor.Status> a, List<BackendActor.Status> b) {
    List<BackendActor.Status> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      BackendActor.Status x = a.get(i);
      BackendActor.Status y = b.get(i);
      out.add(new BackendActor.Status(x.id(), x.up() || y.up(), Math.max(x.limit(), y.limit()),
          x.granted() + y.granted(), x.inFlight() + y.inFlight(), x.connections() + y.connections(),
          x.served() + y.served(), x.badGateway() + y.badGateway(), x.gatewayTimeout() + y.gatewayTimeout(),
          x.clientAborted() + y.clientAborted(), x.ratePerSecond() + y.ratePerSecond(),
          Math.max(x.p99Millis(), y.p99Millis()), x.limitReason(), x.leaseValid() && y.leaseValid()));
    }
    return out;
  }

  /**
   * What /metrics shows: every queue (GetStatus) and back-end actor (GetMetrics) asked once
   * (its state is its own, read on its own thread), summed per pool over the event loops.
   */
  private CompletionStage<NodeMetrics.Sample> metricsSample() {
    Duration timeout = Duration.ofSeconds(5);
    List<CompletableFuture<QueueActor.QueueStatus>> queues = new ArrayList<>();
    List<List<CompletableFuture<BackendActor.Metrics>>> backends = new ArrayList<>();
    for (PoolOnLoop p : actors) {
      queues.add(AskPattern.<QueueActor.Command, QueueActor.QueueStatus>ask(p.queue(), QueueActor.GetStatus::new,
          timeout, system.scheduler()).toCompletableFuture());
      List<CompletableFuture<BackendActor.Metrics>> each = new ArrayList<>();
      for (ActorRef<BackendActor.Command> b : p.backends()) {
        each.add(AskPattern.<BackendActor.Command, BackendActor.Metrics>ask(b, BackendActor.GetMetrics::new,
            timeout, system.scheduler()).toCompletableFuture());
      }
      backends.add(each);
    }
    List<CompletableFuture<?>> all = new ArrayList<>(queues);
    backends.forEach(all::addAll);
    int perLoop = poolNames.size();
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(done -> {
      List<NodeMetrics.PoolSample> pools = new ArrayList<>();
      for (int p = 0; p < perLoop; p++) {
        NodeMetrics.PoolSample sum = null;
        for (int loop = 0; loop < loopCount; loop++) {
          int i = loop * perLoop + p; // actors are loop-major, pools in configuration order
          NodeMetrics.PoolSample here = poolSample(actors.get(i).pool(), loop, queues.get(i).join(),
              backends.get(i).stream().map(CompletableFuture::join).toList());
          sum = sum == null ? here : plus(sum, here);
        }
        pools.add(sum);
      }
      return new NodeMetrics.Sample(pools, listener.openConnections());
    });
  }

  private NodeMetrics.PoolSample poolSample(String pool, int loop, QueueActor.QueueStatus s,
      List<BackendActor.Metrics> backends) {
    List<NodeMetrics.BackendSample> samples = new ArrayList<>();
    LatencyBuckets.Snapshot queueWait = LatencyBuckets.Snapshot.EMPTY;
    for (BackendActor.Metrics m : backends) {
      queueWait = queueWait.plus(m.queueWaits());
      BackendActor.Status b = m.status();
      samples.add(new NodeMetrics.BackendSample(b.id(), b.up(), b.limit(), b.granted(), b.inFlight(), b.served(),
          b.badGateway(), b.gatewayTimeout(), b.clientAborted(), m.responseTimes()));
    }
    return new NodeMetrics.PoolSample(pool, s.waiting(), s.rejectedFull(), s.expired(), s.noBackendUp(),
        s.stoppedWaiting(),
        gate.refused(pool + "-" + loop), queueWait, samples);
  }

  /** One pool on two loops, as one: counts add up, the limit is the highest told, up if up anywhere. */
  private static NodeMetrics.PoolSample plus(NodeMetrics.PoolSample a, NodeMetrics.PoolSample b) {
    List<NodeMetrics.BackendSample> backends = new ArrayList<>();
    for (int i = 0; i < a.backends().size(); i++) {
      NodeMetrics.BackendSample x = a.backends().get(i);
      NodeMetrics.BackendSample y = b.backends().get(i);
      backends.add(new NodeMetrics.BackendSample(x.id(), x.up() || y.up(), Math.max(x.limit(), y.limit()),
          x.slots() + y.slots(), x.inFlight() + y.inFlight(), x.served() + y.served(),
          x.badGateway() + y.badGateway(), x.gatewayTimeout() + y.gatewayTimeout(),
          x.clientAborted() + y.clientAborted(), x.responseTimes().plus(y.responseTimes())));
    }
    return new NodeMetrics.PoolSample(a.pool(), a.queueLength() + b.queueLength(), a.rejectedFull() + b.rejectedFull(),
        a.expired() + b.expired(), a.noBackendUp() + b.noBackendUp(), a.stopped() + b.stopped(),
        a.refusedConnections() + b.refusedConnections(),
        a.queueWait().plus(b.queueWait()), backends);
  }

  /**
   * Hooks the node's graceful stop into Pekko's coordinated shutdown, which a SIGTERM, a
   * {@link #close()} or the cluster downing this node runs: stop accepting (service-unbind),
   * serve what is queued and in flight for up to {@code drainTimeout} while keep-alive client
   * connections close after their current response (service-requests-done), stop the pools'
   * actors, which answer what still waits with 503 and give their slots back (service-stop);
   * then Pekko hands this node's entities over and leaves the cluster.
   */
  private void registerShutdown(Duration drainTimeout) {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "sluice-stop-accepting", () -> {
      draining = true;
      log.info("stopping: no new client connections; draining for up to {} ms", drainTimeout.toMillis());
      listener.drain();
      tcpListeners.forEach(TcpListener::close); // relays go on while the node drains
      pcapIngresses.forEach(PcapIngress::stopAccepting); // so do admitted pcap flows
      if (admin != null) {
        admin.unbind(); // readiness answers no more once this node goes
      }
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "sluice-drain", () -> drained(drainTimeout));
    shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "sluice-stop-pools", () -> {
      CompletableFuture<Void> stopped = new CompletableFuture<>();
      system.tell(new StopPools(stopped));
      return stopped.thenApply(v -> Done.getInstance());
    });
    if (!pcapIngresses.isEmpty()) {
      // the pools' actors have ended their flows: the capture can stop (a SIGTERM's JVM exit would not wait for
      // closeDataPlane's thread)
      shutdown.addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "sluice-stop-pcap", () -> {
        pcapIngresses.forEach(PcapIngress::close);
        return CompletableFuture.completedFuture(Done.getInstance());
      });
    }
  }

  /** Completes once nothing waits or is in flight on this node, or at the deadline. */
  private CompletionStage<Done> drained(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    CompletableFuture<Done> done = new CompletableFuture<>();
    pollDrained(deadline, done);
    return done;
  }

  private void pollDrained(long deadline, CompletableFuture<Done> done) {
    status().whenComplete((pools, failure) -> {
      boolean idle = failure == null && pools.stream().allMatch(p -> p.queueLength() == 0 && p.inProgress() == 0);
      if (idle || System.nanoTime() >= deadline) {
        if (!idle) {
          log.warn("stopping: drain timeout; what still waits gets 503 with Retry-After: {}", pools);
        }
        done.complete(Done.getInstance());
      } else {
        system.scheduler().scheduleOnce(Duration.ofMillis(50), () -> pollDrained(deadline, done),
            system.executionContext());
      }
    });
  }

  /** What the operator's listener shows and asks. */
  private AdminServer.Node adminView() {
    SluiceNode node = this;
    return new AdminServer.Node() {
      @Override
      public CompletionStage<List<PoolStatus>> status() {
        return node.status();
      }

      @Override
      public CompletionStage<Optional<String>> notReady() {
        if (draining) {
          return CompletableFuture.completedFuture(Optional.of("stopping"));
        }
        if (!memberStatus().equals("Up")) {
          return CompletableFuture.completedFuture(Optional.of("cluster member status " + memberStatus()));
        }
        return node.status().thenApply(pools -> pools.stream().flatMap(p -> p.backends().stream())
            .filter(b -> !b.leaseValid())
            .map(b -> "no lease for back-end " + b.id())
            .findFirst());
      }

      @Override
      public String nodeId() {
        return nodeId;
      }

      @Override
      public CompletionStage<List<String>> entitiesHere() {
        return node.entitiesHere();
      }

      @Override
      public String memberStatus() {
        return Cluster.get(system).selfMember().status().toString();
      }

      @Override
      public boolean draining() {
        return draining;
      }

      @Override
      public CompletionStage<String> metrics() {
        return metrics.scrape();
      }

      @Override
      public String algorithm(String backendId) {
        return algorithms.getOrDefault(backendId, "");
      }

      @Override
      public CompletionStage<AdminServer.ClusterView> cluster() {
        return node.cluster();
      }

      @Override
      public boolean knowsBackend(String backendId) {
        return algorithms.containsKey(backendId);
      }

      @Override
      public CompletionStage<LeaseProtocol.Leases> pin(String backendId, int limit, String by) {
        return ClusterSharding.get(system).entityRefFor(BackendEntity.TYPE_KEY, backendId)
            .ask(replyTo -> new LeaseProtocol.SetPin(backendId, limit, by, replyTo), Duration.ofSeconds(3));
      }

      @Override
      public CompletionStage<LeaseProtocol.Leases> drain(String backendId, boolean drained, String by) {
        return ClusterSharding.get(system).entityRefFor(BackendEntity.TYPE_KEY, backendId)
            .ask(replyTo -> new LeaseProtocol.SetDrain(backendId, drained, by, replyTo), Duration.ofSeconds(3));
      }
    };
  }

  /** The ids of the back-ends whose entity (limit, leases, controller) runs on this node now. */
  public CompletionStage<List<String>> entitiesHere() {
    return AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
            ClusterSharding.get(system).shardState(),
            replyTo -> new GetShardRegionState(BackendEntity.TYPE_KEY, replyTo), Duration.ofSeconds(5),
            system.scheduler())
        .thenApply(state -> state.getShards().stream()
            .flatMap(shard -> shard.getEntityIds().stream())
            .sorted()
            .toList());
  }

  /**
   * The cluster's members (as this node's gossip has them) and every back-end's entity's
   * book, asked wherever the entity runs (a cross-node ask: GetLeases, Kryo).
   */
  CompletionStage<AdminServer.ClusterView> cluster() {
    Cluster cluster = Cluster.get(system);
    Address self = cluster.selfMember().address();
    List<AdminServer.Member> members = new ArrayList<>();
    for (Member m : cluster.state().getMembers()) {
      members.add(new AdminServer.Member(m.address().hostPort(), m.status().toString(), m.address().equals(self)));
    }
    ClusterSharding sharding = ClusterSharding.get(system);
    List<CompletableFuture<AdminServer.EntityView>> entities = new ArrayList<>();
    for (String id : algorithms.keySet()) {
      entities.add(sharding.entityRefFor(BackendEntity.TYPE_KEY, id)
          .<LeaseProtocol.Leases>ask(replyTo -> new LeaseProtocol.GetLeases(id, replyTo), Duration.ofSeconds(3))
          .thenApply(l -> new AdminServer.EntityView(id, Optional.of(l), ""))
          .exceptionally(e -> new AdminServer.EntityView(id, Optional.empty(), "no answer: " + e))
          .toCompletableFuture());
    }
    return CompletableFuture.allOf(entities.toArray(CompletableFuture[]::new))
        .thenApply(done -> new AdminServer.ClusterView(members,
            entities.stream().map(CompletableFuture::join).toList()));
  }

  /** The operator's listener's address. */
  public InetSocketAddress adminAddress() {
    return admin.localAddress();
  }

  /** The actor system stopped (a graceful stop, or the cluster downed this node): the data plane goes too. */
  private void closeDataPlane() {
    try {
      listener.close();
      tcpListeners.forEach(TcpListener::close);
      pcapIngresses.forEach(PcapIngress::close); // the pools' actors have ended their flows
    } catch (RuntimeException e) {
      log.warn("closing the listener failed: {}", e.toString());
    }
    loops.close();
    metrics.close();
  }

  /**
   * Stops the node gracefully (see {@link #registerShutdown}) and waits until it has: what
   * waits is served for up to the drain timeout, then answered with 503; nothing is left
   * without an answer.
   */
  @Override
  public void close() {
    try {
      CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture()
          .get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("the node did not stop in time: {}", e.toString());
      system.terminate();
    }
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("the actor system did not stop in time: {}", e.toString());
    }
    closeDataPlane();
  }
}
