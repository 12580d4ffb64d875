package sluice.node.settings;

import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import sluice.protocol.LimitSpec;

/**
 * What a reload changes: the difference between the settings a node runs and those just read
 * from its configuration file, and the settings it runs next ({@link #effective()}). Plain
 * data, computed once per reload, off the request path.
 *
 * <p>What cannot change while the node runs keeps its running value, and each such key is
 * named in {@link #kept()} ({@code sluice.event-loops cannot change without a restart; kept 1
 * (the file has 2)}): the cluster, the operator's listener, {@code http.listen},
 * {@code event-loops}, {@code report-interval}, {@code controller-window},
 * {@code status-interval}, {@code drain-timeout}, the {@code tcp} listeners and the pools they
 * use. Everything else of the file applies. When keeping those makes the rest impossible (a
 * route to a pool that serves a TCP listener as the node runs), {@link #problems()} says so and
 * the reload must be refused.
 *
 * <p>Pools are the same pool by name, back-ends the same back-end by id; a back-end that moves
 * from one pool to another is removed from the one and added to the other.
 */
public final class SettingsDiff {

  /**
   * A pool that is in both, with what changed in it: {@code queueChanged} when its queue has
   * anything to be told (its settings, balance, or how many back-ends it has now),
   * {@code connectionsChanged} when its back-end actors have (connections, load header).
   */
  public record PoolChange(PoolSettings before, PoolSettings after, List<BackendSettings> added,
      List<BackendSettings> removed, boolean queueChanged, boolean connectionsChanged) {}

  private final SluiceSettings effective;
  private final List<String> kept = new ArrayList<>();
  private final List<String> changes = new ArrayList<>();
  private final List<String> problems = new ArrayList<>();
  private final List<PoolSettings> addedPools = new ArrayList<>();
  private final List<PoolSettings> removedPools = new ArrayList<>();
  private final List<PoolChange> changedPools = new ArrayList<>();
  /** Back-ends in both whose limit spec changed, with the new spec. */
  private final List<BackendSettings> newSpecs = new ArrayList<>();
  private boolean routingChanged;
  private boolean httpChanged;

  private SettingsDiff(SluiceSettings running, SluiceSettings next) {
    this.effective = effective(running, next);
    compare(running, effective);
  }

  /** What applying {@code next} to a node that runs {@code running} does. */
  public static SettingsDiff between(SluiceSettings running, SluiceSettings next) {
    return new SettingsDiff(running, next);
  }

  /** The settings the node runs after the reload: the file's, but for what cannot change. */
  public SluiceSettings effective() {
    return effective;
  }

  /** One line per key the file changes that cannot change without a restart. */
  public List<String> kept() {
    return List.copyOf(kept);
  }

  /** One line per change that applies, in the order of the configuration. */
  public List<String> changes() {
    return List.copyOf(changes);
  }

  /** Why the reload cannot apply at all (empty when it can), each as {@code key.path: message}. */
  public List<String> problems() {
    return List.copyOf(problems);
  }

  public List<PoolSettings> addedPools() {
    return List.copyOf(addedPools);
  }

  public List<PoolSettings> removedPools() {
    return List.copyOf(removedPools);
  }

  /** Pools in both, each with what changed (possibly nothing). */
  public List<PoolChange> changedPools() {
    return List.copyOf(changedPools);
  }

  /** Back-ends that stay (in their pool or another) whose limit spec changed: their entity is told. */
  public List<BackendSettings> newSpecs() {
    return List.copyOf(newSpecs);
  }

  /** Routes, default pool or the set of pools changed: the routers are replaced. */
  public boolean routingChanged() {
    return routingChanged;
  }

  /** A key of {@code sluice.http} other than {@code listen} changed. */
  public boolean httpChanged() {
    return httpChanged;
  }

  public boolean isEmpty() {
    return changes.isEmpty();
  }

  // ---- what runs next -----------------------------------------------------------------

  private SluiceSettings effective(SluiceSettings running, SluiceSettings next) {
    HttpSettings http = next.http();
    if (!http.host().equals(running.http().host()) || http.port() != running.http().port()) {
      keep("sluice.http.listen", hostPort(running.http().host(), running.http().port()),
          hostPort(http.host(), http.port()));
    }
    HttpSettings httpNext = new HttpSettings(running.http().host(), running.http().port(), http.idleTimeout(),
        http.headDeadline(), http.maxUriLength(), http.maxHeaderNameLength(), http.maxHeaderValueLength(),
        http.maxHeaderCount(), http.maxBodySize(), http.bufferRequestsUpTo(), http.bodyDeadline(),
        http.responseBufferTotal());
    keepIfChanged("sluice.cluster", running.cluster(), next.cluster());
    AdminSettings admin = running.admin();
    if (!admin.host().equals(next.admin().host()) || admin.port() != next.admin().port()) {
      keep("sluice.admin.listen", hostPort(admin.host(), admin.port()),
          hostPort(next.admin().host(), next.admin().port()));
    }
    if (!admin.token().equals(next.admin().token())) {
      kept.add("sluice.admin.token cannot change without a restart; kept the running one");
    }
    keepIfChanged("sluice.event-loops", running.eventLoops(), next.eventLoops());
    keepIfChanged("sluice.report-interval", running.reportInterval(), next.reportInterval());
    keepIfChanged("sluice.controller-window", running.controllerWindow(), next.controllerWindow());
    keepIfChanged("sluice.status-interval", running.statusInterval(), next.statusInterval());
    keepIfChanged("sluice.drain-timeout", running.drainTimeout(), next.drainTimeout());
    keepIfChanged("sluice.access-log", running.accessLog(), next.accessLog());
    keepIfChanged("sluice.log-format", running.logFormat().configName(), next.logFormat().configName());
    if (!running.tcp().equals(next.tcp())) {
      keep("sluice.tcp", running.tcp().stream().map(t -> t.id() + " -> " + t.pool()).toList().toString(),
          next.tcp().stream().map(t -> t.id() + " -> " + t.pool()).toList().toString());
    }

    // a pool that serves a TCP listener as the node runs stays as it runs
    Set<String> tcpPools = running.tcpPools();
    Map<String, PoolSettings> pools = new LinkedHashMap<>();
    for (PoolSettings pool : next.pools().values()) {
      if (tcpPools.contains(pool.name())) {
        PoolSettings now = running.pools().get(pool.name());
        if (!now.equals(pool)) {
          kept.add("sluice.pools." + pool.name() + " serves a TCP listener: it cannot change without a restart;"
              + " kept as it runs");
        }
        pools.put(pool.name(), now);
      } else {
        pools.put(pool.name(), pool);
      }
    }
    for (String name : tcpPools) {
      if (!pools.containsKey(name)) {
        kept.add("sluice.pools." + name + " serves a TCP listener: it cannot be removed without a restart;"
            + " kept as it runs");
        pools.put(name, running.pools().get(name));
      }
    }
    for (int i = 0; i < next.routes().size(); i++) {
      String pool = next.routes().get(i).pool();
      if (tcpPools.contains(pool)) {
        problems.add("sluice.routes[" + i + "].pool: pool '" + pool + "' serves a TCP listener as the node runs"
            + " (sluice.tcp cannot change without a restart)");
      }
    }
    next.defaultPool().filter(tcpPools::contains).ifPresent(pool -> problems.add("sluice.default-pool: pool '"
        + pool + "' serves a TCP listener as the node runs (sluice.tcp cannot change without a restart)"));
    Map<String, String> poolOf = new HashMap<>();
    for (PoolSettings pool : pools.values()) {
      for (BackendSettings b : pool.backends()) {
        String other = poolOf.putIfAbsent(b.id(), pool.name());
        if (other != null) { // the file has no back-end twice: one of the two is a kept TCP pool
          String tcp = tcpPools.contains(other) ? other : pool.name();
          String httpPool = tcp.equals(other) ? pool.name() : other;
          problems.add("sluice.pools." + httpPool + ".backends: back-end " + b.id() + " is in pool " + tcp + " too, which"
              + " serves a TCP listener and is kept as it runs (a back-end belongs to one pool)");
        }
      }
    }
    return new SluiceSettings(httpNext, running.cluster(), java.util.Collections.unmodifiableMap(pools),
        next.routes(), next.defaultPool(), running.reportInterval(), running.controllerWindow(),
        running.statusInterval(), running.eventLoops(), running.admin(), running.drainTimeout(), running.tcp(),
        running.accessLog(), running.logFormat());
  }

  private void keepIfChanged(String key, Object running, Object next) {
    if (!running.equals(next)) {
      keep(key, show(running), show(next));
    }
  }

  private void keep(String key, String running, String next) {
    kept.add(key + " cannot change without a restart; kept " + running + " (the file has " + next + ")");
  }

  // ---- what changes -------------------------------------------------------------------

  private void compare(SluiceSettings running, SluiceSettings next) {
    fieldChanges("sluice.http", running.http(), next.http(), Set.of("host", "port"));
    httpChanged = !changes.isEmpty();

    Map<String, BackendSettings> before = byId(running);
    for (PoolSettings pool : next.pools().values()) {
      PoolSettings was = running.pools().get(pool.name());
      String path = "sluice.pools." + pool.name();
      if (was == null) {
        addedPools.add(pool);
        changes.add(path + " added with back-ends " + ids(pool.backends()));
        continue;
      }
      if (was.balance() != pool.balance()) {
        changes.add(path + ".balance: " + was.balance().configName() + " -> " + pool.balance().configName());
      }
      if (!was.loadHeader().equals(pool.loadHeader())) {
        changes.add(path + ".load-header: " + show(was.loadHeader()) + " -> " + show(pool.loadHeader()));
      }
      boolean queueChanged = fieldChanges(path + ".queue", was.queue(), pool.queue(), Set.of());
      boolean connectionsChanged = fieldChanges(path + ".connections", was.connections(), pool.connections(),
          Set.of());
      Set<String> wasIds = was.backends().stream().map(BackendSettings::id).collect(Collectors.toSet());
      Set<String> nowIds = pool.backends().stream().map(BackendSettings::id).collect(Collectors.toSet());
      List<BackendSettings> added = pool.backends().stream().filter(b -> !wasIds.contains(b.id())).toList();
      List<BackendSettings> removed = was.backends().stream().filter(b -> !nowIds.contains(b.id())).toList();
      for (BackendSettings b : added) {
        changes.add(path + ": back-end " + b.id() + " added (limit " + b.limit().describe() + ")");
      }
      for (BackendSettings b : removed) {
        changes.add(path + ": back-end " + b.id() + " removed: it takes no new request, those in flight finish,"
            + " then its connections close");
      }
      changedPools.add(new PoolChange(was, pool, added, removed,
          queueChanged || was.balance() != pool.balance() || !added.isEmpty() || !removed.isEmpty(),
          connectionsChanged || !was.loadHeader().equals(pool.loadHeader())));
    }
    for (PoolSettings pool : running.pools().values()) {
      if (!next.pools().containsKey(pool.name())) {
        removedPools.add(pool);
        changes.add("sluice.pools." + pool.name() + " removed: what waits in its queue is served, then its back-ends "
            + ids(pool.backends()) + " finish what they have and stop");
      }
    }
    for (BackendSettings b : byId(next).values()) {
      BackendSettings was = before.get(b.id());
      if (was != null && !was.limit().equals(b.limit())) {
        newSpecs.add(b);
        changes.add("back-end " + b.id() + ": limit " + was.limit().describe() + " -> " + b.limit().describe());
      }
    }
    if (!running.routes().equals(next.routes())) {
      changes.add("sluice.routes: " + routes(running.routes()) + " -> " + routes(next.routes()));
    }
    if (!running.defaultPool().equals(next.defaultPool())) {
      changes.add("sluice.default-pool: " + show(running.defaultPool()) + " -> " + show(next.defaultPool()));
    }
    routingChanged |= !addedPools.isEmpty() || !removedPools.isEmpty() || !running.routes().equals(next.routes())
        || !running.defaultPool().equals(next.defaultPool());
  }

  /** Adds a line per record component that differs, named as its key; true if any did. */
  private boolean fieldChanges(String path, Record was, Record now, Set<String> skip) {
    boolean any = false;
    for (RecordComponent c : was.getClass().getRecordComponents()) {
      if (skip.contains(c.getName())) {
        continue;
      }
      Object a = value(c, was);
      Object b = value(c, now);
      if (!Objects.equals(a, b)) {
        changes.add(path + "." + key(path, c.getName()) + ": " + show(a) + " -> " + show(b));
        any = true;
      }
    }
    return any;
  }

  private static Object value(RecordComponent c, Record r) {
    try {
      return c.getAccessor().invoke(r);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("reading " + c.getName() + " of " + r, e);
    }
  }

  /** {@code refuseConnectionsAbove} -> {@code refuse-connections-above}; the HTTP limits sit under {@code limits}. */
  private static String key(String path, String component) {
    StringBuilder out = new StringBuilder();
    for (char ch : component.toCharArray()) {
      if (Character.isUpperCase(ch)) {
        out.append('-').append(Character.toLowerCase(ch));
      } else {
        out.append(ch);
      }
    }
    String key = out.toString();
    return path.equals("sluice.http") && key.startsWith("max-") ? "limits." + key : key;
  }

  private static Map<String, BackendSettings> byId(SluiceSettings s) {
    Map<String, BackendSettings> out = new LinkedHashMap<>();
    s.allBackends().forEach(b -> out.put(b.id(), b));
    return out;
  }

  private static String ids(List<BackendSettings> backends) {
    return backends.stream().map(BackendSettings::id).toList().toString();
  }

  private static String routes(List<RouteSettings> routes) {
    return routes.stream().map(r -> r.host().map(h -> h + " ").orElse("") + r.pathPrefix() + " -> " + r.pool())
        .toList().toString();
  }

  private static String hostPort(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /** A value as the configuration writes it: {@code 30s}, {@code 250ms}, {@code unset}. */
  static String show(Object value) {
    if (value instanceof Duration d) {
      long ms = d.toMillis();
      return ms % 1000 == 0 && ms != 0 ? ms / 1000 + "s" : d.toNanos() % 1_000_000 == 0 ? ms + "ms" : d.toNanos() + "ns";
    }
    if (value instanceof Optional<?> o) {
      return o.map(SettingsDiff::show).orElse("unset");
    }
    if (value instanceof Balance b) {
      return b.configName();
    }
    if (value instanceof LimitSpec spec) {
      return spec.describe();
    }
    if (value instanceof AccessLogSettings a) {
      return "{enabled " + a.enabled() + ", file " + a.file().map(f -> "\"" + f + "\"").orElse("\"\"") + ", format "
          + a.format().configName() + ", pending-lines " + a.pendingLines() + "}";
    }
    if (value instanceof ClusterSettings c) {
      return "{host " + c.host() + ", port " + c.port() + ", seed-nodes " + c.seedNodes() + ", lease-time "
          + show(c.leaseTime()) + ", split-brain-resolver " + c.splitBrainResolver() + ", stable-after "
          + show(c.stableAfter()) + "}";
    }
    return String.valueOf(value);
  }
}
