package sluice.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.stream.javadsl.Tcp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.backend.BackendEntity;
import sluice.node.ingress.Ingress;
import sluice.node.pool.ConnectionGate;
import sluice.node.pool.PoolQueue;
import sluice.node.pool.PoolStatus;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.SluiceSettings;

/**
 * A running dispatcher node: its actor system (a cluster member, a cluster of one by
 * default), one pool queue per pool, the Backend entities' sharding region, the HTTP
 * listener and the status line.
 */
public final class SluiceNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SluiceNode.class);
  /**
   * How long a lease stays valid after the demand it answers; many report intervals, so
   * that a lost report or two does not cost a node its slots. Not a setting (yet).
   */
  private static final Duration LEASE_TIME = Duration.ofSeconds(2);

  private final ActorSystem<Void> system;
  private final Map<String, ActorRef<PoolQueue.Command>> pools;
  private final Tcp.ServerBinding binding;

  private SluiceNode(ActorSystem<Void> system, Map<String, ActorRef<PoolQueue.Command>> pools,
      Tcp.ServerBinding binding) {
    this.system = system;
    this.pools = pools;
    this.binding = binding;
  }

  /**
   * Starts a node and waits until it listens.
   *
   * @param settings   validated settings
   * @param userConfig the user's whole configuration (its pekko.* keys are honoured)
   */
  public static SluiceNode start(SluiceSettings settings, Config userConfig) {
    Config config = derivedConfig(settings)
        .withFallback(userConfig)
        .withFallback(ConfigFactory.parseResources("sluice-pekko.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
    String nodeId = settings.cluster().host() + ":" + settings.cluster().port();
    ConnectionGate gate = new ConnectionGate();
    CompletableFuture<Map<String, ActorRef<PoolQueue.Command>>> poolRefs = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(guardian(settings, nodeId, gate, poolRefs), "sluice", config);
    try {
      Map<String, ActorRef<PoolQueue.Command>> pools = poolRefs.get(30, TimeUnit.SECONDS);
      HttpSettings http = settings.http();
      Tcp.ServerBinding binding = Ingress.bind(system, http, settings.routes(), pools, settings.defaultPool(), gate)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      log.info("sluice listening on {} with pools {}", binding.localAddress(), settings.pools().keySet());
      return new SluiceNode(system, pools, binding);
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("sluice could not start: " + e.getMessage(), e);
    }
  }

  private static Behavior<Void> guardian(SluiceSettings settings, String nodeId, ConnectionGate gate,
      CompletableFuture<Map<String, ActorRef<PoolQueue.Command>>> poolRefs) {
    return Behaviors.setup(context -> {
      Cluster cluster = Cluster.get(context.getSystem());
      if (settings.cluster().seedNodes().isEmpty()) {
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      BackendEntity.initSharding(context.getSystem(), settings.controllerWindow(), LEASE_TIME);
      Map<String, ActorRef<PoolQueue.Command>> pools = new LinkedHashMap<>();
      for (PoolSettings pool : settings.pools().values()) {
        pools.put(pool.name(), context.spawn(
            PoolQueue.create(pool, nodeId, gate, settings.reportInterval(), settings.statusInterval()),
            "pool-" + pool.name()));
      }
      if (!settings.statusInterval().isZero()) {
        context.spawn(StatusReporter.create(List.copyOf(pools.values()), settings.statusInterval()), "status");
      }
      poolRefs.complete(pools);
      return Behaviors.empty();
    });
  }

  /** Pekko keys that follow from the sluice subtree; they override the user's pekko keys. */
  static Config derivedConfig(SluiceSettings settings) {
    var cluster = settings.cluster();
    HttpSettings http = settings.http();
    List<String> seeds = new ArrayList<>();
    for (String seed : cluster.seedNodes()) {
      seeds.add("\"pekko://sluice@" + seed + "\"");
    }
    String text = String.join("\n",
        "pekko.remote.artery.canonical.hostname = \"" + cluster.host() + "\"",
        "pekko.remote.artery.canonical.port = " + cluster.port(),
        "pekko.cluster.seed-nodes = [" + String.join(",", seeds) + "]",
        "pekko.http.server.idle-timeout = " + http.idleTimeout().toMillis() + "ms",
        "pekko.http.server.parsing.max-uri-length = " + http.maxUriLength(),
        "pekko.http.server.parsing.max-header-name-length = " + http.maxHeaderNameLength(),
        "pekko.http.server.parsing.max-header-value-length = " + http.maxHeaderValueLength(),
        "pekko.http.server.parsing.max-header-count = " + http.maxHeaderCount(),
        "pekko.http.server.parsing.max-content-length = " + http.maxBodySize());
    return ConfigFactory.parseString(text);
  }

  /** The port the HTTP listener is bound to. */
  public int httpPort() {
    return binding.localAddress().getPort();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  /** The status of every pool, in configuration order. */
  public CompletionStage<List<PoolStatus>> status() {
    return status(system, List.copyOf(pools.values()), Duration.ofSeconds(5));
  }

  static CompletionStage<List<PoolStatus>> status(ActorSystem<?> system, List<ActorRef<PoolQueue.Command>> pools,
      Duration timeout) {
    List<CompletableFuture<PoolStatus>> each = pools.stream()
        .map(pool -> AskPattern.<PoolQueue.Command, PoolStatus>ask(pool, PoolQueue.GetStatus::new, timeout,
            system.scheduler()).toCompletableFuture())
        .toList();
    return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
        .thenApply(done -> each.stream().map(CompletableFuture::join).collect(Collectors.toList()));
  }

  /** Stops listening, lets Pekko HTTP's client side close, and terminates the actor system. */
  @Override
  public void close() {
    try {
      binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("unbinding the listener failed: {}", e.toString());
    }
    try {
      Http.get(system.classicSystem()).shutdownAllConnectionPools().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("closing the client connection pools failed: {}", e.toString());
    }
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("the actor system did not stop in time: {}", e.toString());
    }
  }
}
