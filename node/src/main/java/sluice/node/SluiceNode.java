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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
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
import org.apache.pekko.actor.typed.receptionist.Receptionist;
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
import sluice.node.http.AccessLog;
import sluice.node.http.HttpListener;
import sluice.node.loop.EventLoops;
import sluice.node.metrics.LatencyBuckets;
import sluice.node.metrics.NodeMetrics;
import sluice.node.pcap.PcapIngress;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.ConfigEdits;
import sluice.node.settings.SettingsDiff;
import sluice.node.settings.SettingsException;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.settings.TcpSettings;
import sluice.node.tcp.TcpBackendActor;
import sluice.node.tcp.TcpListener;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.PoolEdits;

/**
 * A running dispatcher node: its data plane (Netty event loops and the HTTP listener), its
 * actor system (a cluster member, a cluster of one by default) with, on every event loop,
 * one queue actor per pool and one back-end actor per back-end, the Backend entities'
 * sharding region, and the status line.
 */
public final class SluiceNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SluiceNode.class);

  /** What the node's guardian takes: the request to stop the pools' actors before the system stops, and a reload's steps. */
  interface GuardianCommand extends org.apache.pekko.actor.NoSerializationVerificationNeeded {}

  record StopPools(CompletableFuture<Void> done) implements GuardianCommand {}

  /** One pool's actors on one event loop: L7 back-end actors, or for a TCP pool L4 ones. */
  record PoolOnLoop(String pool, ActorRef<QueueActor.Command> queue, List<ActorRef<BackendActor.Command>> backends,
      List<ActorRef<TcpBackendActor.Command>> tcpBackends) {
    PoolOnLoop(String pool, ActorRef<QueueActor.Command> queue, List<ActorRef<BackendActor.Command>> backends) {
      this(pool, queue, backends, List.of());
    }
  }

  /** What the guardian starts from. */
  record Start(SluiceSettings settings, EventLoops loops, Map<String, InetSocketAddress> addresses,
      ConnectionGate gate, Map<String, ConnectionGate> tcpGates) {}

  /**
   * What the node runs: its settings, the configuration they were read from (empty when it was
   * started from settings alone) and its pools' actors, loop-major, pools in the order of the
   * settings, back-ends in the order of their pool. Replaced whole by a reload.
   */
  record Running(SluiceSettings settings, Optional<Config> config, List<PoolOnLoop> actors) {
    List<String> poolNames() {
      return List.copyOf(settings.pools().keySet());
    }
  }

  private final EventLoops loops;
  private final ActorSystem<GuardianCommand> system;
  private final AtomicReference<Running> running;
  private final HttpListener listener;
  /** The access log, null when it is off. */
  private final AccessLog accessLog;
  private final List<TcpListener> tcpListeners;
  private final List<PcapIngress> pcapIngresses;
  private final String nodeId;
  private final ConnectionGate gate;
  /** Each TCP pool's own gate (its listeners and pcap ingresses count what they refused there). */
  private final Map<String, ConnectionGate> tcpGates;
  private final int loopCount;
  private final NodeMetrics metrics;
  /** Where a reload reads the configuration again (the file, under -D overrides); empty: nothing to reload. */
  private final Optional<Supplier<Config>> configSource;
  /** Reloads run here, one at a time, off Pekko's and the event loops' threads. */
  private final ExecutorService reloads = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "sluice-reload");
    t.setDaemon(true);
    // made on first use, maybe from the SIGHUP handler's thread, which has no context class loader:
    // the configuration library needs one to read reference.conf
    t.setContextClassLoader(SluiceNode.class.getClassLoader());
    return t;
  });
  /** The exchange guard in force: a reload never lowers it below what requests already waiting were given. */
  private Duration exchangeGuard;
  private volatile ServerBinding admin;
  private volatile boolean draining;

  private SluiceNode(EventLoops loops, ActorSystem<GuardianCommand> system, AtomicReference<Running> running,
      HttpListener listener, List<TcpListener> tcpListeners, List<PcapIngress> pcapIngresses, String nodeId,
      ConnectionGate gate, Map<String, ConnectionGate> tcpGates, Optional<Supplier<Config>> configSource,
      Duration exchangeGuard, AccessLog accessLog) {
    this.loops = loops;
    this.accessLog = accessLog;
    this.pcapIngresses = pcapIngresses;
    this.system = system;
    this.running = running;
    this.listener = listener;
    this.tcpListeners = tcpListeners;
    this.nodeId = nodeId;
    this.gate = gate;
    this.tcpGates = Map.copyOf(tcpGates);
    this.loopCount = loops.size();
    this.configSource = configSource;
    this.exchangeGuard = exchangeGuard;
    this.metrics = new NodeMetrics(metricsLayout(running.get().settings()), this::metricsSample);
  }

  /** The pools (HTTP and TCP) and back-ends /metrics shows. */
  private static List<NodeMetrics.Layout> metricsLayout(SluiceSettings settings) {
    List<NodeMetrics.Layout> layout = new ArrayList<>();
    for (PoolSettings pool : settings.pools().values()) {
      layout.add(new NodeMetrics.Layout(pool.name(), protocol(settings, pool.name()),
          pool.backends().stream().map(BackendSettings::id).toList()));
    }
    return layout;
  }

  private static NodeMetrics.Protocol protocol(SluiceSettings settings, String pool) {
    return settings.tcpPools().contains(pool) ? NodeMetrics.Protocol.TCP : NodeMetrics.Protocol.HTTP;
  }

  /**
   * Starts a node and waits until it listens. It cannot reload: it has no file to read again.
   *
   * @param settings   validated settings
   * @param userConfig the user's whole configuration (its pekko.* keys are honoured)
   */
  public static SluiceNode start(SluiceSettings settings, Config userConfig) {
    return start(settings, userConfig, Optional.empty());
  }

  /**
   * Starts a node that reloads from {@code configSource} (on SIGHUP, {@code POST /reload}): it
   * is read again and validated as at start-up, and what changed applies.
   *
   * @param userConfig   the configuration {@code settings} were read from
   * @param configSource reads the configuration again (the file, under the same overrides)
   */
  public static SluiceNode start(SluiceSettings settings, Config userConfig, Supplier<Config> configSource) {
    return start(settings, userConfig, Optional.of(configSource));
  }

  private static SluiceNode start(SluiceSettings settings, Config userConfig,
      Optional<Supplier<Config>> configSource) {
    Map<String, InetSocketAddress> addresses = resolve(settings.allBackends());
    for (TcpSettings tcp : settings.tcp()) {
      if (tcp.isPcap()) {
        PcapIngress.check(tcp, poolAddresses(settings, tcp.pool(), addresses)); // before anything starts
      }
    }
    AccessLog accessLog = AccessLog.start(settings.accessLog()); // null when off; a file that cannot be opened fails here
    EventLoops loops;
    try {
      loops = EventLoops.start(settings.eventLoops());
    } catch (RuntimeException e) {
      closeQuietly(accessLog);
      throw e;
    }
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
    AtomicReference<Running> running = new AtomicReference<>();
    ActorSystem<GuardianCommand> system;
    try {
      Start start = new Start(settings, loops, addresses, gate, tcpGates);
      AtomicReference<ActorSystem<?>> systemRef = new AtomicReference<>();
      system = ActorSystem.create(NodeGuardian.create(start, () -> {
        Running now = running.get();
        return now == null ? CompletableFuture.completedFuture(List.of())
            : status(systemRef.get(), now.poolNames(), now.actors(), Duration.ofSeconds(5));
      }, started), "sluice", config);
      systemRef.set(system);
    } catch (RuntimeException e) {
      loops.close();
      closeQuietly(accessLog);
      throw e;
    }
    List<TcpListener> tcpListeners = new ArrayList<>();
    List<PcapIngress> pcapIngresses = new ArrayList<>();
    try {
      List<PoolOnLoop> actors = started.get(30, TimeUnit.SECONDS);
      Optional<Config> runningConfig = configSource.isPresent() ? Optional.of(userConfig) : Optional.empty();
      running.set(new Running(settings, runningConfig, actors));
      List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop = queuesPerLoop(actors, loops.size());
      Duration guard = exchangeGuard(settings);
      HttpListener listener = HttpListener.bind(loops, settings.http(), settings.routes(), settings.defaultPool(),
          queuesPerLoop, gate, guard, retryAfter(settings), accessLog);
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
      SluiceNode node = new SluiceNode(loops, system, running, listener, List.copyOf(tcpListeners),
          List.copyOf(pcapIngresses), nodeId, gate, tcpGates, configSource, guard, accessLog);
      // off Pekko's threads (and never on an event loop, which the close waits for)
      system.getWhenTerminated().thenRunAsync(node::closeDataPlane, r -> new Thread(r, "sluice-stop").start());
      system.systemActorOf(PoolEditor.create(node.editorView()), "pool-editor", Props.empty());
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
      closeQuietly(accessLog);
      throw new IllegalStateException("sluice could not start: " + e.getMessage(), e);
    }
  }

  /** For each loop, every pool's queue on it, by pool name. */
  private static List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop(List<PoolOnLoop> actors, int loops) {
    List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop = new ArrayList<>();
    for (int i = 0; i < loops; i++) {
      queuesPerLoop.add(new LinkedHashMap<>());
    }
    int perLoop = actors.size() / loops;
    for (int i = 0; i < actors.size(); i++) {
      queuesPerLoop.get(i / perLoop).put(actors.get(i).pool(), actors.get(i).queue());
    }
    return queuesPerLoop;
  }

  private static List<InetSocketAddress> poolAddresses(SluiceSettings settings, String pool,
      Map<String, InetSocketAddress> addresses) {
    return settings.pools().get(pool).backends().stream().map(b -> addresses.get(b.id())).toList();
  }

  /** Back-end addresses are resolved once, at start (and for a back-end a reload adds), off the event loops. */
  private static Map<String, InetSocketAddress> resolve(List<BackendSettings> backends) {
    Map<String, InetSocketAddress> addresses = new LinkedHashMap<>();
    for (BackendSettings backend : backends) {
      InetSocketAddress address = new InetSocketAddress(backend.host(), backend.port());
      if (address.isUnresolved()) {
        throw new IllegalStateException("back-end " + backend.id() + ": cannot resolve host '" + backend.host() + "'");
      }
      addresses.put(backend.id(), address);
    }
    return addresses;
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
    return running.get().actors().stream().filter(p -> p.pool().equals(pool)).findFirst().orElseThrow().queue();
  }

  /** The status of every pool, in configuration order. */
  public CompletionStage<List<PoolStatus>> status() {
    Running now = running.get();
    return status(system, now.poolNames(), now.actors(), Duration.ofSeconds(5));
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

  /** What one back-end actor (L7 or L4) on one loop answered for /metrics, in /metrics' terms. */
  private record BackendOnLoop(NodeMetrics.BackendSample sample, LatencyBuckets.Snapshot queueWaits) {}

  /**
   * What /metrics shows: every queue (GetStatus) and back-end actor, L7 or L4 (GetMetrics),
   * asked once (its state is its own, read on its own thread), summed per pool over the event loops.
   */
  private CompletionStage<NodeMetrics.Sample> metricsSample() {
    Duration timeout = Duration.ofSeconds(5);
    Running now = running.get();
    List<PoolOnLoop> actors = now.actors();
    List<CompletableFuture<QueueActor.QueueStatus>> queues = new ArrayList<>();
    List<List<CompletableFuture<BackendOnLoop>>> backends = new ArrayList<>();
    for (PoolOnLoop p : actors) {
      queues.add(AskPattern.<QueueActor.Command, QueueActor.QueueStatus>ask(p.queue(), QueueActor.GetStatus::new,
          timeout, system.scheduler()).toCompletableFuture());
      List<CompletableFuture<BackendOnLoop>> each = new ArrayList<>();
      for (ActorRef<BackendActor.Command> b : p.backends()) {
        each.add(AskPattern.<BackendActor.Command, BackendActor.Metrics>ask(b, BackendActor.GetMetrics::new,
            timeout, system.scheduler()).toCompletableFuture().thenApply(SluiceNode::onLoop));
      }
      for (ActorRef<TcpBackendActor.Command> b : p.tcpBackends()) {
        each.add(AskPattern.<TcpBackendActor.Command, TcpBackendActor.Metrics>ask(b, TcpBackendActor.GetMetrics::new,
            timeout, system.scheduler()).toCompletableFuture().thenApply(SluiceNode::onLoop));
      }
      backends.add(each);
    }
    List<CompletableFuture<?>> all = new ArrayList<>(queues);
    backends.forEach(all::addAll);
    int perLoop = now.settings().pools().size();
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(done -> {
      List<NodeMetrics.PoolSample> pools = new ArrayList<>();
      for (int p = 0; p < perLoop; p++) {
        NodeMetrics.PoolSample sum = null;
        for (int loop = 0; loop < loopCount; loop++) {
          int i = loop * perLoop + p; // actors are loop-major, pools in configuration order
          String pool = actors.get(i).pool();
          NodeMetrics.PoolSample here = poolSample(pool, protocol(now.settings(), pool), loop,
              queues.get(i).join(), backends.get(i).stream().map(CompletableFuture::join).toList());
          sum = sum == null ? here : plus(sum, here);
        }
        pools.add(sum);
      }
      return new NodeMetrics.Sample(pools, listener.openConnections(),
          tcpListeners.stream().mapToLong(TcpListener::openConnections).sum());
    });
  }

  private static BackendOnLoop onLoop(BackendActor.Metrics m) {
    return onLoop(m.status(), 0, m.responseTimes(), LatencyBuckets.Snapshot.EMPTY, m.queueWaits());
  }

  /** As the L4 status reads: served are the connections completed, bad gateway those the back-end reset, and so on. */
  private static BackendOnLoop onLoop(TcpBackendActor.Metrics m) {
    return onLoop(m.status(), m.connectFailures(), m.connectionDurations(), m.firstBytes(), m.queueWaits());
  }

  private static BackendOnLoop onLoop(BackendActor.Status b, long connectFailures, LatencyBuckets.Snapshot ends,
      LatencyBuckets.Snapshot firstBytes, LatencyBuckets.Snapshot queueWaits) {
    return new BackendOnLoop(new NodeMetrics.BackendSample(b.id(), b.up(), b.limit(), b.granted(), b.inFlight(),
        b.served(), b.badGateway(), b.gatewayTimeout(), b.clientAborted(), connectFailures, ends, firstBytes),
        queueWaits);
  }

  private NodeMetrics.PoolSample poolSample(String pool, NodeMetrics.Protocol protocol, int loop,
      QueueActor.QueueStatus s, List<BackendOnLoop> backends) {
    List<NodeMetrics.BackendSample> samples = new ArrayList<>();
    LatencyBuckets.Snapshot queueWait = LatencyBuckets.Snapshot.EMPTY;
    for (BackendOnLoop b : backends) {
      queueWait = queueWait.plus(b.queueWaits());
      samples.add(b.sample());
    }
    // a TCP pool's queue gates (and its listeners count against) the pool's own gate
    ConnectionGate poolGate = protocol == NodeMetrics.Protocol.TCP ? tcpGates.get(pool) : gate;
    return new NodeMetrics.PoolSample(pool, protocol, s.waiting(), s.rejectedFull(), s.expired(), s.noBackendUp(),
        s.stoppedWaiting(), poolGate.refused(pool + "-" + loop), queueWait, samples);
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
          x.clientAborted() + y.clientAborted(), x.connectFailures() + y.connectFailures(),
          x.responseTimes().plus(y.responseTimes()), x.firstBytes().plus(y.firstBytes())));
    }
    return new NodeMetrics.PoolSample(a.pool(), a.protocol(), a.queueLength() + b.queueLength(),
        a.rejectedFull() + b.rejectedFull(),
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
        return backend(backendId).map(b -> b.limit().algorithm()).orElse("");
      }

      @Override
      public CompletionStage<AdminServer.ClusterView> cluster() {
        return node.cluster();
      }

      @Override
      public boolean knowsBackend(String backendId) {
        return backend(backendId).isPresent();
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

      @Override
      public CompletionStage<ReloadResult> reload(String by) {
        return node.reload(by + " on node " + nodeId);
      }

      @Override
      public CompletionStage<AdminServer.ClusterEdit> editPool(String pool, String backend, boolean add, String by) {
        return node.editEverywhere(pool, backend, add, by + " on node " + nodeId);
      }
    };
  }

  // ---- reload --------------------------------------------------------------------------

  /**
   * Reads the configuration again (the file, under the same -D overrides) and applies what
   * changed, as {@link SettingsDiff} describes; a configuration with any problem is refused with
   * the messages of start-up and the node runs on as before. One at a time; each change is
   * logged once at INFO, each key that cannot change without a restart at WARN.
   *
   * @param by what asked, for the log: {@code SIGHUP}, the admin call
   */
  public CompletionStage<ReloadResult> reload(String by) {
    return onReloadThread(by, () -> {
      if (configSource.isEmpty()) {
        return refused(by, List.of("this node was started without a configuration file: there is nothing to read"
            + " again"));
      }
      Config config;
      try {
        config = configSource.get().get();
      } catch (SettingsException e) {
        return refused(by, e.problems());
      }
      return apply(config, by);
    });
  }

  /**
   * Adds a back-end to a pool of the running configuration (as if the file listed it last in
   * the pool's {@code backends}) and applies it as a reload would; it lasts until the next
   * reload, which applies the file as written.
   */
  public CompletionStage<ReloadResult> addBackend(String pool, String address, String by) {
    return edit(pool, by, config -> ConfigEdits.addBackend(config, pool, address));
  }

  /** Removes a back-end from a pool of the running configuration; see {@link #addBackend}. */
  public CompletionStage<ReloadResult> removeBackend(String pool, String backendId, String by) {
    return edit(pool, by, config -> ConfigEdits.removeBackend(config, pool, backendId));
  }

  /**
   * Adds ({@code add}) or removes a back-end of a pool on every node of the cluster: each node's
   * {@link PoolEditor} (found through the receptionist) applies it to its own running
   * configuration and answers; a node that does not answer within 10 s, or an Up member whose
   * editor the receptionist does not know (yet), is named in the answer.
   */
  public CompletionStage<AdminServer.ClusterEdit> editEverywhere(String pool, String backend, boolean add, String by) {
    Duration timeout = Duration.ofSeconds(10);
    CompletableFuture<Set<ActorRef<PoolEdits.Command>>> found = new CompletableFuture<>();
    findEditors(System.nanoTime() + Duration.ofSeconds(3).toNanos(), found);
    return found.thenCompose(editors -> {
      List<CompletableFuture<AdminServer.NodeEdit>> answers = new ArrayList<>();
      for (ActorRef<PoolEdits.Command> editor : editors) {
        String node = nodeOf(editor);
        answers.add(AskPattern.<PoolEdits.Command, PoolEdits.PoolEdited>ask(editor,
                replyTo -> new PoolEdits.EditPool(pool, backend, add, by, replyTo), timeout, system.scheduler())
            .thenApply(e -> new AdminServer.NodeEdit(e.node(), e.applied(), e.changes(), e.problems()))
            .exceptionally(e -> new AdminServer.NodeEdit(node, false, List.of(),
                List.of("did not answer within " + timeout.toSeconds() + " s; the change may or may not have"
                    + " been applied there")))
            .toCompletableFuture());
      }
      List<String> unreached = unreached(editors);
      return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new))
          .thenApply(done -> new AdminServer.ClusterEdit(answers.stream().map(CompletableFuture::join)
              .sorted(java.util.Comparator.comparing(AdminServer.NodeEdit::node)).toList(), unreached));
    });
  }

  /**
   * Every node's editor as the receptionist lists them, asked again every 100 ms until the list
   * covers every Up member or the deadline (a node that just joined is listed within a gossip or two).
   */
  private void findEditors(long deadline, CompletableFuture<Set<ActorRef<PoolEdits.Command>>> found) {
    AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
            replyTo -> Receptionist.find(PoolEditor.KEY, replyTo), Duration.ofSeconds(3), system.scheduler())
        .whenComplete((listing, failure) -> {
          Set<ActorRef<PoolEdits.Command>> editors = failure == null
              ? listing.getServiceInstances(PoolEditor.KEY) : Set.of();
          if (unreached(editors).isEmpty() || System.nanoTime() >= deadline) {
            found.complete(editors);
          } else {
            system.scheduler().scheduleOnce(Duration.ofMillis(100), () -> findEditors(deadline, found),
                system.executionContext());
          }
        });
  }

  private String nodeOf(ActorRef<?> ref) {
    Address address = ref.path().address();
    return address.hasGlobalScope() ? address.hostPort() : nodeId;
  }

  /** The Up members that have no editor among {@code editors}. */
  private List<String> unreached(Set<ActorRef<PoolEdits.Command>> editors) {
    Set<String> reached = new java.util.HashSet<>();
    editors.forEach(e -> reached.add(nodeOf(e)));
    List<String> unreached = new ArrayList<>();
    for (Member m : Cluster.get(system).state().getMembers()) {
      if (m.status() == org.apache.pekko.cluster.MemberStatus.up() && !reached.contains(m.address().hostPort())) {
        unreached.add(m.address().hostPort());
      }
    }
    return unreached;
  }

  private PoolEditor.Node editorView() {
    SluiceNode node = this;
    return new PoolEditor.Node() {
      @Override
      public String nodeId() {
        return nodeId;
      }

      @Override
      public CompletionStage<ReloadResult> addBackend(String pool, String address, String by) {
        return node.addBackend(pool, address, by);
      }

      @Override
      public CompletionStage<ReloadResult> removeBackend(String pool, String backendId, String by) {
        return node.removeBackend(pool, backendId, by);
      }
    };
  }

  private CompletionStage<ReloadResult> edit(String pool, String by, UnaryOperator<Config> edit) {
    return onReloadThread(by, () -> {
      Running now = running.get();
      if (now.config().isEmpty()) {
        return refused(by, List.of("this node was started without a configuration file: its back-ends cannot be"
            + " changed while it runs"));
      }
      if (now.settings().tcpPools().contains(pool)) {
        return refused(by, List.of("sluice.pools." + pool + " serves a TCP listener: its back-ends cannot change"
            + " without a restart"));
      }
      Config edited;
      try {
        edited = edit.apply(now.config().get());
      } catch (SettingsException e) {
        return refused(by, e.problems());
      }
      return apply(edited, by);
    });
  }

  private CompletionStage<ReloadResult> onReloadThread(String by, Supplier<ReloadResult> work) {
    return CompletableFuture.supplyAsync(() -> {
      if (draining) {
        return refused(by, List.of("the node is stopping"));
      }
      try {
        return work.get();
      } catch (RuntimeException e) {
        log.error("reload ({}) failed: {}", by, e.toString(), e);
        return refused(by, List.of("the reload failed (a bug): " + e));
      }
    }, reloads);
  }

  private static ReloadResult refused(String by, List<String> problems) {
    // as start-up prints them: Invalid configuration (2 problems):\n  key: message ...
    log.warn("reload ({}) refused; the node runs on as before. {}", by, new SettingsException(problems).getMessage());
    return ReloadResult.refused(problems);
  }

  /** Applies {@code config}: on the reload thread only. */
  private ReloadResult apply(Config config, String by) {
    Running now = running.get();
    SluiceSettings next;
    try {
      next = SettingsReader.read(config);
    } catch (SettingsException e) {
      return refused(by, e.problems());
    }
    SettingsDiff diff = SettingsDiff.between(now.settings(), next);
    if (!diff.problems().isEmpty()) {
      return refused(by, diff.problems());
    }
    List<String> kept = new ArrayList<>(diff.kept());
    if (now.config().isPresent() && !pekkoPart(now.config().get()).equals(pekkoPart(config))) {
      kept.add("pekko.* settings cannot change without a restart; kept as they run");
    }
    SluiceSettings effective = diff.effective();
    List<BackendSettings> added = new ArrayList<>();
    diff.addedPools().forEach(p -> added.addAll(p.backends()));
    diff.changedPools().forEach(c -> added.addAll(c.added()));
    Map<String, InetSocketAddress> addresses;
    try {
      addresses = resolve(added);
    } catch (IllegalStateException e) {
      return refused(by, List.of(e.getMessage()));
    }
    kept.forEach(k -> log.warn("reload ({}): {}", by, k));
    if (diff.isEmpty()) {
      running.set(new Running(now.settings(), Optional.of(config), now.actors()));
      log.info("reload ({}): nothing to change", by);
      return new ReloadResult(true, List.of(), kept, List.of(), List.of());
    }
    // the entities first: a back-end actor's next demand then carries the spec its entity runs
    List<BackendSettings> specs = new ArrayList<>(diff.newSpecs());
    specs.addAll(added);
    List<String> warnings = tellSpecs(specs, by);
    NodeGuardian.Spawned spawned;
    try {
      CompletableFuture<NodeGuardian.Spawned> done = new CompletableFuture<>();
      system.tell(new NodeGuardian.Spawn(effective, diff, addresses, done));
      spawned = done.get(10, TimeUnit.SECONDS);
      Duration guard = exchangeGuard(effective);
      exchangeGuard = guard.compareTo(exchangeGuard) > 0 ? guard : exchangeGuard;
      listener.reconfigure(effective.http(), effective.routes(), effective.defaultPool(),
          queuesPerLoop(spawned.layout(), loopCount), exchangeGuard, retryAfter(effective)).get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("applying the reload: " + e, e);
    }
    running.set(new Running(effective, Optional.of(config), spawned.layout()));
    // no route leads to what was removed any more: it may go, once what it holds is done
    system.tell(new NodeGuardian.RetireRemoved(spawned, effective.http().bodyDeadline().plusSeconds(1)));
    diff.changes().forEach(c -> log.info("reload ({}): {}", by, c));
    return new ReloadResult(true, diff.changes(), kept, List.of(), warnings);
  }

  private static Optional<com.typesafe.config.ConfigValue> pekkoPart(Config config) {
    return config.hasPath("pekko") ? Optional.of(config.getValue("pekko")) : Optional.empty();
  }

  /**
   * Tells each back-end's entity its limit spec (a new one, or that of a back-end just added,
   * whose entity may run already with another); waits up to 3 s for each. What did not answer
   * is a warning: the spec may not apply until the next reload.
   */
  private List<String> tellSpecs(List<BackendSettings> backends, String by) {
    ClusterSharding sharding = ClusterSharding.get(system);
    String who = "reload (" + by + ") on node " + nodeId;
    Map<String, CompletableFuture<LeaseProtocol.Leases>> asked = new LinkedHashMap<>();
    for (BackendSettings b : backends) {
      asked.put(b.id(), sharding.entityRefFor(BackendEntity.TYPE_KEY, b.id())
          .<LeaseProtocol.Leases>ask(replyTo -> new LeaseProtocol.SetSpec(b.id(), b.limit(), who, replyTo),
              Duration.ofSeconds(3))
          .toCompletableFuture());
    }
    List<String> warnings = new ArrayList<>();
    asked.forEach((id, answer) -> {
      try {
        answer.get(5, TimeUnit.SECONDS);
      } catch (Exception e) {
        String warning = "back-end " + id + ": its entity did not answer the new limit spec within 3 s; it may"
            + " still run the old one (see /status, reload again)";
        log.warn("reload ({}): {}", by, warning);
        warnings.add(warning);
      }
    });
    return warnings;
  }

  private Optional<BackendSettings> backend(String backendId) {
    return running.get().settings().allBackends().stream().filter(b -> b.id().equals(backendId)).findFirst();
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
    for (String id : running.get().settings().allBackends().stream().map(BackendSettings::id).toList()) {
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
    closeQuietly(accessLog); // after the loops: the last exchanges' lines are written
    metrics.close();
    reloads.shutdown();
  }

  private static void closeQuietly(AccessLog accessLog) {
    if (accessLog != null) {
      accessLog.close();
    }
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
