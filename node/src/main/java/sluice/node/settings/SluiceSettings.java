package sluice.node.settings;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Everything a node reads from the {@code sluice} subtree of its configuration, read once
 * at start-up and validated (see {@link SettingsReader}). Immutable.
 *
 * @param http            the client-facing HTTP listener
 * @param cluster         this node's cluster address and seeds
 * @param pools           pools by name, in the order of the configuration
 * @param routes          tried in order; the first that matches picks the pool
 * @param defaultPool     the pool for requests no route matches; empty means 404
 * @param reportInterval  how often a node reports demand and samples to each back-end's entity
 * @param controllerWindow how long a controller gathers samples before each decision
 * @param statusInterval  how often the status line is logged; zero turns it off
 * @param eventLoops      data-plane event loop threads (1 by default); each runs its own
 *                        copy of every pool's queue and back-end actors
 * @param admin           the operator's listener
 * @param drainTimeout    on a graceful stop, how long queued and in-flight requests may take
 *                        before what still waits gets 503
 * @param tcp             TCP (L4) listeners, each bound to a pool that serves TCP only; empty by
 *                        default
 * @param accessLog       the optional access log (off by default)
 * @param logFormat       text or json for the node's ordinary logs (applied by {@code Main})
 */
public record SluiceSettings(
    HttpSettings http,
    ClusterSettings cluster,
    Map<String, PoolSettings> pools,
    List<RouteSettings> routes,
    Optional<String> defaultPool,
    Duration reportInterval,
    Duration controllerWindow,
    Duration statusInterval,
    int eventLoops,
    AdminSettings admin,
    Duration drainTimeout,
    List<TcpSettings> tcp,
    AccessLogSettings accessLog,
    LogFormat logFormat) {

  /** Settings with the access log off and text logs. */
  public SluiceSettings(HttpSettings http, ClusterSettings cluster, Map<String, PoolSettings> pools,
      List<RouteSettings> routes, Optional<String> defaultPool, Duration reportInterval, Duration controllerWindow,
      Duration statusInterval, int eventLoops, AdminSettings admin, Duration drainTimeout, List<TcpSettings> tcp) {
    this(http, cluster, pools, routes, defaultPool, reportInterval, controllerWindow, statusInterval, eventLoops,
        admin, drainTimeout, tcp, AccessLogSettings.OFF, LogFormat.TEXT);
  }

  /** The same settings with this access log. */
  public SluiceSettings withAccessLog(AccessLogSettings log) {
    return new SluiceSettings(http, cluster, pools, routes, defaultPool, reportInterval, controllerWindow,
        statusInterval, eventLoops, admin, drainTimeout, tcp, log, logFormat);
  }

  /** Settings without TCP listeners. */
  public SluiceSettings(HttpSettings http, ClusterSettings cluster, Map<String, PoolSettings> pools,
      List<RouteSettings> routes, Optional<String> defaultPool, Duration reportInterval, Duration controllerWindow,
      Duration statusInterval, int eventLoops, AdminSettings admin, Duration drainTimeout) {
    this(http, cluster, pools, routes, defaultPool, reportInterval, controllerWindow, statusInterval, eventLoops,
        admin, drainTimeout, List.of());
  }

  /** The names of the pools that TCP listeners use (they serve TCP only). */
  public Set<String> tcpPools() {
    return tcp.stream().map(TcpSettings::pool).collect(Collectors.toCollection(LinkedHashSet::new));
  }

  /** All back-ends of all pools. */
  public List<BackendSettings> allBackends() {
    return pools.values().stream().flatMap(p -> p.backends().stream()).toList();
  }
}
