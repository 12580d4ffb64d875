package sluice.node.settings;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import sluice.protocol.LimitSpec;

/**
 * Reads the {@code sluice} subtree of the configuration into {@link SluiceSettings}, once,
 * at start-up. Every problem is collected; if there is any, one {@link SettingsException}
 * lists them all, each as {@code sluice.pools.web.queue.max: must be at least 1, was 0}.
 * The keys, their defaults and the rules are documented in the configuration reference in README.md and in
 * reference.conf.
 */
public final class SettingsReader {

  static final List<String> HTTP_KEYS = List.of("listen", "idle-timeout", "head-deadline", "limits",
      "buffer-requests-up-to", "body-deadline", "response-buffer-total");
  static final List<String> HTTP_LIMIT_KEYS = List.of("max-uri-length", "max-header-name-length",
      "max-header-value-length", "max-header-count", "max-body-size");
  static final List<String> CLUSTER_KEYS = List.of("host", "port", "seed-nodes", "lease-time",
      "split-brain-resolver", "stable-after");
  static final List<String> ADMIN_KEYS = List.of("listen", "token");
  static final List<String> DEFAULTS_KEYS = List.of("balance", "limit", "queue", "connections", "load-header");
  static final List<String> POOL_KEYS = List.of("backends", "balance", "limit", "queue", "connections",
      "load-header");
  static final List<String> BACKEND_KEYS = List.of("address", "limit");
  static final List<String> QUEUE_KEYS = List.of("max", "timeout", "refuse-connections-above", "retry-after");
  static final List<String> CONNECTION_KEYS = List.of("pre-open", "idle-timeout", "connect-timeout",
      "response-timeout", "down-backoff-min", "down-backoff-max", "buffer-responses-up-to");
  static final List<String> ROUTE_KEYS = List.of("host", "path-prefix", "pool");
  static final List<String> TCP_KEYS = List.of("listen", "pcap", "pool");
  static final List<String> ACCESS_LOG_KEYS = List.of("enabled", "file", "format", "pending-lines");
  static final List<String> PCAP_KEYS = List.of("interface", "virtual-address", "backend-interface");
  private static final Pattern INTERFACE_NAME = Pattern.compile("[^/:\\s]{1,15}");
  private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
      + "(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");

  private static final Pattern POOL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
  private static final String ROOT = "sluice";

  private final Problems problems = new Problems();
  private final ConfigObject referenceLimit;

  private SettingsReader(ConfigObject referenceLimit) {
    this.referenceLimit = referenceLimit;
  }

  /**
   * Reads and validates the {@code sluice} subtree of {@code config}, over the defaults of
   * reference.conf. Throws {@link SettingsException} listing every problem found.
   */
  public static SluiceSettings read(Config config) {
    Config reference = ConfigFactory.defaultReference();
    Config all;
    try {
      all = config.withFallback(reference).resolve();
    } catch (ConfigException e) {
      throw new SettingsException("cannot resolve the configuration: " + e.getMessage(), e);
    }
    String limitPath = ROOT + ".defaults.limit";
    ConfigObject referenceLimit = reference.hasPath(limitPath) ? reference.getObject(limitPath) : null;
    return new SettingsReader(referenceLimit).readRoot(all);
  }

  /**
   * The whole configuration a node runs with: system properties ({@code -Dsluice.x=y}) over
   * the file (if any) over reference.conf, resolved. The same Config serves Pekko.
   * Throws {@link SettingsException} naming the file if it is missing or cannot be parsed.
   */
  public static Config loadConfig(Optional<Path> configFile) {
    Properties now = new Properties();
    now.putAll(System.getProperties());
    return loadConfig(configFile,
        ConfigFactory.parseProperties(now, ConfigParseOptions.defaults().setOriginDescription("system properties")));
  }

  /**
   * As {@link #loadConfig(Optional)}, with {@code base} (the demo's own settings) under the
   * file: the file and -D overrides still win.
   */
  public static Config loadConfigOver(Optional<Path> configFile, Config base) {
    Properties now = new Properties();
    now.putAll(System.getProperties());
    return loadConfig(configFile,
        ConfigFactory.parseProperties(now, ConfigParseOptions.defaults().setOriginDescription("system properties")),
        base);
  }

  /** As {@link #loadConfig(Optional)} with the given overrides in place of the system properties. */
  static Config loadConfig(Optional<Path> configFile, Config overrides) {
    return loadConfig(configFile, overrides, ConfigFactory.empty());
  }

  /**
   * Layers, highest first: overrides, the file, base, the node's Pekko defaults
   * (sluice-pekko.conf), every reference.conf.
   */
  private static Config loadConfig(Optional<Path> configFile, Config overrides, Config base) {
    Config file = configFile.map(SettingsReader::parseFile).orElse(ConfigFactory.empty());
    try {
      return overrides.withFallback(file).withFallback(base)
          .withFallback(ConfigFactory.parseResources("sluice-pekko.conf"))
          .withFallback(ConfigFactory.defaultReference()).resolve();
    } catch (ConfigException e) {
      String source = configFile.map(p -> "configuration file " + p).orElse("configuration");
      throw new SettingsException(source + ": cannot resolve: " + e.getMessage(), e);
    }
  }

  /** {@link #read} of {@link #loadConfig}: what {@code --config FILE} does at start-up. */
  public static SluiceSettings load(Optional<Path> configFile) {
    return read(loadConfig(configFile));
  }

  private static Config parseFile(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new SettingsException("configuration file " + file
          + (Files.exists(file) ? ": not a regular file" : ": not found"), null);
    }
    try {
      return ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException e) {
      throw new SettingsException("configuration file " + file + ": cannot be read: " + e.getMessage(), e);
    }
  }

  /** The keys of {@code sluice}; any other (a typo, a section of a later version) is refused. */
  private static final List<String> TOP_LEVEL_KEYS = List.of("http", "cluster", "admin", "drain-timeout",
      "report-interval", "controller-window", "status-interval", "event-loops", "defaults", "pools", "routes",
      "default-pool", "tcp", "access-log", "log-format");

  private SluiceSettings readRoot(Config all) {
    if (!all.hasPath(ROOT) || all.getValue(ROOT).valueType() != ConfigValueType.OBJECT) {
      throw new SettingsException(List.of(ROOT + ": missing; must be an object { ... }"));
    }
    Section sluice = new Section(all.getObject(ROOT), ROOT, problems);
    sluice.onlyKeys(TOP_LEVEL_KEYS);

    HttpSettings http = http(sluice.child("http"));
    ClusterSettings cluster = cluster(sluice.child("cluster"));
    Duration reportInterval = sluice.duration("report-interval", false);
    Duration controllerWindow = sluice.duration("controller-window", false);
    Duration statusInterval = sluice.duration("status-interval", true);
    int eventLoops = sluice.integer("event-loops", 1, 64);
    AdminSettings admin = admin(sluice.child("admin"));
    Duration drainTimeout = sluice.duration("drain-timeout", true);
    if (!sluice.failed("report-interval") && !cluster.leaseTime().isZero()
        && cluster.leaseTime().compareTo(reportInterval.multipliedBy(3)) < 0) {
      problems.add(sluice.keyPath("cluster") + ".lease-time", "must be at least 3 x report-interval ("
          + sluice.raw("report-interval").unwrapped() + ") so that a lease is renewed in time, was "
          + cluster.leaseTime().toMillis() + "ms");
    }
    if (!sluice.failed("report-interval", "controller-window") && controllerWindow.compareTo(reportInterval) < 0) {
      problems.add(sluice.keyPath("controller-window"), "must be at least report-interval ("
          + sluice.raw("report-interval").unwrapped() + "), was " + Section.plain(sluice.raw("controller-window")));
    }

    PoolDefaults defaults = defaults(sluice.child("defaults"));
    Map<String, PoolSettings> pools = pools(sluice, defaults);
    // Routes may name a pool that is there but has problems of its own: it is not missing.
    ConfigValue poolsValue = sluice.raw("pools");
    Set<String> poolNames = poolsValue != null && poolsValue.valueType() == ConfigValueType.OBJECT
        ? ((ConfigObject) poolsValue).entrySet().stream()
            .filter(e -> e.getValue().valueType() != ConfigValueType.NULL)
            .map(Map.Entry::getKey)
            .collect(Collectors.toCollection(TreeSet::new))
        : Set.of();
    List<TcpSettings> tcp = tcp(sluice, poolNames, http, admin);
    // a pool that a TCP listener uses serves TCP only; HTTP sees the others
    Set<String> tcpPools = tcp.stream().map(TcpSettings::pool).collect(Collectors.toSet());
    Set<String> httpPools = new TreeSet<>(poolNames);
    httpPools.removeAll(tcpPools);
    List<RouteSettings> routes = routes(sluice, poolNames, tcpPools);
    Optional<String> defaultPool = defaultPool(sluice, httpPools, routes, tcpPools);

    AccessLogSettings accessLog = accessLog(sluice.child("access-log"));
    LogFormat logFormat = logFormat(sluice, "log-format");

    problems.throwIfAny();
    return new SluiceSettings(http, cluster, Collections.unmodifiableMap(pools), List.copyOf(routes),
        defaultPool, reportInterval, controllerWindow, statusInterval, eventLoops, admin, drainTimeout,
        List.copyOf(tcp), accessLog, logFormat);
  }

  private HttpSettings http(Section http) {
    http.onlyKeys(HTTP_KEYS);
    HostPort listen = Optional.ofNullable(hostPort(http, "listen", 0)).orElse(new HostPort("stand-in", 0, "stand-in:0"));
    Duration idleTimeout = http.duration("idle-timeout", false);
    Duration headDeadline = http.duration("head-deadline", false);
    Section limits = http.child("limits");
    limits.onlyKeys(HTTP_LIMIT_KEYS);
    int maxUri = (int) limits.bytes("max-uri-length", 1, Integer.MAX_VALUE);
    int maxHeaderName = (int) limits.bytes("max-header-name-length", 1, Integer.MAX_VALUE);
    int maxHeaderValue = (int) limits.bytes("max-header-value-length", 1, Integer.MAX_VALUE);
    int maxHeaderCount = limits.integer("max-header-count", 1, Integer.MAX_VALUE);
    long maxBody = limits.bytes("max-body-size", 0, Long.MAX_VALUE);
    int bufferRequests = (int) http.bytes("buffer-requests-up-to", 0, Integer.MAX_VALUE);
    Duration bodyDeadline = http.duration("body-deadline", false);
    long responseBufferTotal = http.bytes("response-buffer-total", 0, Long.MAX_VALUE);
    return new HttpSettings(listen.host(), listen.port(), idleTimeout, headDeadline,
        maxUri, maxHeaderName, maxHeaderValue, maxHeaderCount, maxBody, bufferRequests, bodyDeadline,
        responseBufferTotal);
  }

  private AccessLogSettings accessLog(Section log) {
    log.onlyKeys(ACCESS_LOG_KEYS);
    boolean enabled = log.bool("enabled");
    Optional<String> file = Optional.empty();
    ConfigValue fileValue = log.raw("file");
    if (fileValue == null) {
      problems.add(log.keyPath("file"), "missing; must be a file name, or \"\" for the logger sluice.access");
    } else if (fileValue.valueType() != ConfigValueType.STRING) {
      problems.add(log.keyPath("file"), "must be a file name in quotes, or \"\" for the logger sluice.access, was "
          + Section.shown(fileValue));
    } else if (!((String) fileValue.unwrapped()).isBlank()) {
      file = Optional.of((String) fileValue.unwrapped());
    }
    LogFormat format = logFormat(log, "format");
    int pending = log.integer("pending-lines", 16, 1 << 24);
    return new AccessLogSettings(enabled, file, format, pending);
  }

  private LogFormat logFormat(Section section, String key) {
    String name = section.string(key, "text or json");
    LogFormat format = LogFormat.named(name);
    if (format == null && !section.failed(key)) {
      problems.add(section.keyPath(key), "must be text or json, was '" + name + "'");
    }
    return format == null ? LogFormat.TEXT : format;
  }

  private ClusterSettings cluster(Section cluster) {
    cluster.onlyKeys(CLUSTER_KEYS);
    String host = cluster.string("host", "a host name or address");
    if (!cluster.failed("host") && !HostPort.isHost(host, true)) {
      problems.add(cluster.keyPath("host"), "must be a host name or address without port, was '" + host + "'");
    }
    int port = cluster.integer("port", 0, 65535);
    List<String> seeds = new ArrayList<>();
    List<? extends ConfigValue> seedValues = cluster.list("seed-nodes", "a list of \"host:port\" texts");
    for (int i = 0; i < seedValues.size(); i++) {
      String path = cluster.keyPath("seed-nodes") + "[" + i + "]";
      HostPort seed = hostPort(seedValues.get(i), path, 1);
      if (seed != null) {
        seeds.add(seed.id());
      }
    }
    Duration leaseTime = cluster.duration("lease-time", false);
    String allowed = String.join(", ", ClusterSettings.STRATEGIES);
    String strategy = cluster.string("split-brain-resolver", "one of " + allowed);
    if (!cluster.failed("split-brain-resolver") && !ClusterSettings.STRATEGIES.contains(strategy)) {
      problems.add(cluster.keyPath("split-brain-resolver"), "must be one of " + allowed + ", was '" + strategy + "'");
    }
    Duration stableAfter = cluster.duration("stable-after", false);
    return new ClusterSettings(host, port, List.copyOf(seeds), cluster.failed("lease-time") ? Duration.ZERO : leaseTime,
        strategy, stableAfter);
  }

  private AdminSettings admin(Section admin) {
    admin.onlyKeys(ADMIN_KEYS);
    HostPort listen = Optional.ofNullable(hostPort(admin, "listen", 0)).orElse(new HostPort("127.0.0.1", 0, "stand-in:0"));
    Optional<String> token = admin.optionalString("token", "a text without spaces");
    if (token.isPresent() && token.get().chars().anyMatch(c -> c <= ' ' || c > '~')) {
      problems.add(admin.keyPath("token"), "must be printable ASCII without spaces");
    }
    if (!admin.failed("listen") && token.isEmpty() && !isLoopback(listen.host())) {
      problems.add(admin.keyPath("listen"), "is not a loopback address (" + listen.host() + "): set "
          + admin.keyPath("token") + " so that only those with it may use the operator's API");
    }
    return new AdminSettings(listen.host(), listen.port(), token);
  }

  private static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    try {
      return java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** The defaults every pool starts from, with the problems found in each part. */
  private record PoolDefaults(
      Balance balance,
      Optional<String> loadHeader,
      Section queueSection, Problems queueProblems, QueueSettings queue,
      Section connectionSection, Problems connectionProblems, ConnectionSettings connections,
      LimitBlocks.Level limit) {}

  private PoolDefaults defaults(Section defaults) {
    defaults.onlyKeys(DEFAULTS_KEYS);
    Balance balance = balance(defaults);
    Optional<String> loadHeader = loadHeader(defaults);

    Problems queueProblems = new Problems();
    Section queueSection = defaults.child("queue").reportingTo(queueProblems);
    QueueSettings queue = queue(queueSection);
    problems.addAll(queueProblems);

    Problems connectionProblems = new Problems();
    Section connectionSection = defaults.child("connections").reportingTo(connectionProblems);
    ConnectionSettings connections = connections(connectionSection);
    problems.addAll(connectionProblems);

    Section limitSection = defaults.child("limit");
    LimitBlocks.Level limit = limitSection.failed()
        ? new LimitBlocks.Level(limitSection.path(), Map.of(), null, new Problems())
        : limitLevel(limitSection.path(), LimitBlocks.overReference(limitSection.object(), referenceLimit), null);
    return new PoolDefaults(balance, loadHeader, queueSection, queueProblems, queue,
        connectionSection, connectionProblems, connections, limit);
  }

  private Map<String, PoolSettings> pools(Section sluice, PoolDefaults defaults) {
    Map<String, PoolSettings> pools = new LinkedHashMap<>();
    Section poolsSection = sluice.child("pools");
    List<Map.Entry<String, ConfigValue>> entries = new ArrayList<>(poolsSection.object().entrySet());
    entries.removeIf(e -> e.getValue().valueType() == ConfigValueType.NULL);
    // HOCON objects have no order: keep the order of the file by the line each pool starts on.
    entries.sort(Comparator.<Map.Entry<String, ConfigValue>>comparingInt(e -> lineOf(e.getValue()))
        .thenComparing(Map.Entry::getKey));
    if (entries.isEmpty() && !sluice.failed("pools")) {
      problems.add(poolsSection.path(), "must name at least one pool, e.g. pools { web { backends = [\"127.0.0.1:9001\"] } }");
    }
    Map<String, String> backendPaths = new HashMap<>();
    for (Map.Entry<String, ConfigValue> e : entries) {
      String name = e.getKey();
      String path = poolsSection.keyPath(name);
      if (!POOL_NAME.matcher(name).matches()) {
        problems.add(path, "a pool name must be letters, digits, '-' and '_', starting with a letter or digit");
      }
      if (e.getValue().valueType() != ConfigValueType.OBJECT) {
        problems.add(path, "must be an object { backends = [...] }, was " + Section.shown(e.getValue()));
        continue;
      }
      pools.put(name, pool(name, new Section((ConfigObject) e.getValue(), path, problems), defaults, backendPaths));
    }
    return pools;
  }

  private static int lineOf(ConfigValue v) {
    int line = v.origin().lineNumber();
    return line < 0 ? Integer.MAX_VALUE : line;
  }

  private PoolSettings pool(String name, Section pool, PoolDefaults defaults, Map<String, String> backendPaths) {
    pool.onlyKeys(POOL_KEYS);
    Balance balance = pool.has("balance") ? balance(pool) : defaults.balance();
    Optional<String> loadHeader = pool.has("load-header") ? loadHeader(pool) : defaults.loadHeader();
    QueueSettings queue = overriding(pool, "queue", defaults.queueSection(), defaults.queueProblems(),
        this::queue, defaults.queue());
    ConnectionSettings connections = overriding(pool, "connections", defaults.connectionSection(),
        defaults.connectionProblems(), this::connections, defaults.connections());
    LimitBlocks.Level limit = defaults.limit();
    if (pool.has("limit")) {
      Section limitSection = pool.child("limit");
      limit = limitLevel(limitSection.path(), LimitBlocks.merge(limit.keys(), limitSection.object()), limit);
    }

    List<BackendSettings> backends = new ArrayList<>();
    List<? extends ConfigValue> values = pool.list("backends",
        "a list of back-ends, each \"host:port\" or { address = \"host:port\", limit { ... } }");
    if (values.isEmpty() && !pool.failed("backends")) {
      problems.add(pool.keyPath("backends"), "must list at least one back-end, was an empty list");
    }
    for (int i = 0; i < values.size(); i++) {
      String path = pool.keyPath("backends") + "[" + i + "]";
      BackendSettings backend = backend(values.get(i), path, limit);
      if (backend == null) {
        continue;
      }
      String earlier = backendPaths.putIfAbsent(backend.id(), path);
      if (earlier != null) {
        problems.add(path, "back-end " + backend.id() + " is already given at " + earlier
            + "; a back-end belongs to one pool, once");
      }
      backends.add(backend);
    }
    return new PoolSettings(name, List.copyOf(backends), balance, queue, connections, loadHeader);
  }

  /**
   * A pool's queue or connections: the pool's keys over the defaults' keys. A problem that
   * the defaults already have is reported once, at the defaults.
   */
  private <T> T overriding(Section pool, String key, Section defaultSection, Problems defaultProblems,
      Function<Section, T> reader, T inherited) {
    if (!pool.has(key) || defaultSection.failed()) {
      return inherited;
    }
    ConfigValue own = pool.raw(key);
    if (own.valueType() != ConfigValueType.OBJECT) {
      problems.add(pool.keyPath(key), "must be an object { ... }, was " + Section.shown(own));
      return inherited;
    }
    Problems local = new Problems();
    Section merged = new Section(((ConfigObject) own).withFallback(defaultSection.object()), pool.keyPath(key), local);
    T result = reader.apply(merged);
    problems.addUnlessInherited(local, merged.path(), defaultProblems, defaultSection.path());
    return result;
  }

  private BackendSettings backend(ConfigValue value, String path, LimitBlocks.Level poolLimit) {
    if (value.valueType() == ConfigValueType.STRING) {
      HostPort address = hostPort(value, path, 1);
      return address == null ? null : backendSettings(address, poolLimit);
    }
    if (value.valueType() != ConfigValueType.OBJECT) {
      problems.add(path, "must be \"host:port\" or { address = \"host:port\", limit { ... } }, was "
          + Section.shown(value));
      return null;
    }
    Section backend = new Section((ConfigObject) value, path, problems);
    backend.onlyKeys(BACKEND_KEYS);
    LimitBlocks.Level limit = poolLimit;
    if (backend.has("limit")) {
      Section limitSection = backend.child("limit");
      limit = limitLevel(limitSection.path(), LimitBlocks.merge(limit.keys(), limitSection.object()), limit);
    }
    HostPort address = hostPort(backend, "address", 1);
    return address == null ? null : backendSettings(address, limit);
  }

  private static BackendSettings backendSettings(HostPort address, LimitBlocks.Level limit) {
    LimitSpec spec = limit.spec() == null ? LimitSpec.fixed(1) : limit.spec();
    return new BackendSettings(address.id(), address.host(), address.port(), spec);
  }

  /**
   * The spec of one level's merged limit block. A level whose merged block is the one below
   * is that level; a problem the level below already has is not reported again.
   */
  private LimitBlocks.Level limitLevel(String path, Map<String, ConfigValue> keys, LimitBlocks.Level below) {
    if (below != null && keys.equals(below.keys())) {
      return below;
    }
    Problems local = new Problems();
    LimitSpec spec = LimitBlocks.toSpec(keys, path, local);
    if (spec != null) {
      LimitBlocks.validate(spec, keys.keySet(), path, local);
    }
    if (below == null) {
      problems.addAll(local);
    } else {
      problems.addUnlessInherited(local, path, below.problems(), below.path());
    }
    return new LimitBlocks.Level(path, keys, local.isEmpty() ? spec : null, local);
  }

  private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

  /** The response header in which back-ends report their own load; "" or absent means none. */
  private Optional<String> loadHeader(Section s) {
    ConfigValue v = s.object().get("load-header");
    if (v == null || v.valueType() == ConfigValueType.NULL
        || (v.valueType() == ConfigValueType.STRING && ((String) v.unwrapped()).isEmpty())) {
      return Optional.empty();
    }
    Optional<String> name = s.optionalString("load-header", "an HTTP header name such as X-Load");
    if (name.isPresent() && !HEADER_NAME.matcher(name.get()).matches()) {
      problems.add(s.keyPath("load-header"), "must be an HTTP header name such as X-Load, was '" + name.get() + "'");
      return Optional.empty();
    }
    return name;
  }

  private Balance balance(Section s) {
    String allowed = String.join(", ", Arrays.stream(Balance.values()).map(Balance::configName).toList());
    String name = s.string("balance", "one of " + allowed);
    for (Balance b : Balance.values()) {
      if (b.configName().equals(name)) {
        return b;
      }
    }
    if (!s.failed("balance")) {
      s.problems().add(s.keyPath("balance"), "must be one of " + allowed + ", was '" + name + "'");
    }
    return Balance.ROUND_ROBIN;
  }

  private QueueSettings queue(Section queue) {
    queue.onlyKeys(QUEUE_KEYS);
    int max = queue.integer("max", 1, Integer.MAX_VALUE);
    Duration timeout = queue.duration("timeout", false);
    // Unset (as in reference.conf) it follows max, so that lowering max alone stays valid.
    int refuseAbove = queue.has("refuse-connections-above")
        ? queue.integer("refuse-connections-above", 0, Integer.MAX_VALUE)
        : max / 2;
    Duration retryAfter = queue.duration("retry-after", false);
    if (!queue.failed("max", "refuse-connections-above") && refuseAbove > max) {
      queue.problems().add(queue.keyPath("refuse-connections-above"),
          "must be between 0 and max (" + max + "), was " + refuseAbove);
    }
    return new QueueSettings(max, timeout, refuseAbove, retryAfter);
  }

  private ConnectionSettings connections(Section c) {
    c.onlyKeys(CONNECTION_KEYS);
    int preOpen = c.integer("pre-open", 0, Integer.MAX_VALUE);
    Duration idleTimeout = c.duration("idle-timeout", false);
    Duration connectTimeout = c.duration("connect-timeout", false);
    Duration responseTimeout = c.duration("response-timeout", false);
    Duration backoffMin = c.duration("down-backoff-min", false);
    Duration backoffMax = c.duration("down-backoff-max", false);
    long bufferUpTo = c.bytes("buffer-responses-up-to", 0, Long.MAX_VALUE);
    if (!c.failed("down-backoff-min", "down-backoff-max") && backoffMax.compareTo(backoffMin) < 0) {
      c.problems().add(c.keyPath("down-backoff-max"), "must be at least down-backoff-min ("
          + Section.plain(c.raw("down-backoff-min")) + "), was " + Section.plain(c.raw("down-backoff-max")));
    }
    return new ConnectionSettings(preOpen, idleTimeout, connectTimeout, responseTimeout,
        backoffMin, backoffMax, bufferUpTo);
  }

  /**
   * The TCP listeners: each { listen = "host:port", pool = name }. Two listeners may not bind
   * the same address, nor one the address of the HTTP or the operator's listener (port 0,
   * any free port, never clashes).
   */
  private List<TcpSettings> tcp(Section sluice, Set<String> pools, HttpSettings http, AdminSettings admin) {
    List<TcpSettings> listeners = new ArrayList<>();
    List<? extends ConfigValue> values = sluice.list("tcp",
        "a list of TCP listeners, each { listen = \"host:port\", pool = name }");
    Map<String, String> bound = new HashMap<>();
    Map<String, String> virtualAddresses = new HashMap<>();
    Map<String, String> pcapPools = new HashMap<>();
    if (!sluice.failed("http") && http.port() != 0) {
      bound.put(HostPort.parse(hostPortText(http.host(), http.port()), 0).id(), sluice.keyPath("http") + ".listen");
    }
    if (!sluice.failed("admin") && admin.port() != 0) {
      bound.put(HostPort.parse(hostPortText(admin.host(), admin.port()), 0).id(), sluice.keyPath("admin") + ".listen");
    }
    for (int i = 0; i < values.size(); i++) {
      String path = sluice.keyPath("tcp") + "[" + i + "]";
      ConfigValue value = values.get(i);
      if (value.valueType() != ConfigValueType.OBJECT) {
        problems.add(path, "must be an object { listen = \"host:port\", pool = name }, was " + Section.shown(value));
        continue;
      }
      Section listener = new Section((ConfigObject) value, path, problems);
      listener.onlyKeys(TCP_KEYS);
      boolean pcap = listener.has("pcap");
      if (pcap && listener.has("listen")) {
        problems.add(path, "give either listen (a TCP listener) or pcap { ... } (the pcap ingress), not both");
        continue;
      }
      PcapSettings ingress = pcap ? pcap(listener.child("pcap")) : null;
      HostPort listen = pcap ? null : hostPort(listener, "listen", 0);
      String pool = listener.string("pool", "the name of a pool");
      if (!listener.failed("pool")) {
        checkPoolExists(listener.keyPath("pool"), pool, sluice, pools);
      }
      if ((listen == null && ingress == null) || listener.failed("pool")) {
        continue;
      }
      if (ingress != null) {
        String address = ingress.virtualHost() + ":" + ingress.virtualPort();
        String earlierAddress = virtualAddresses.putIfAbsent(address, listener.keyPath("pcap"));
        String earlierPool = pcapPools.putIfAbsent(pool, listener.keyPath("pcap"));
        if (earlierAddress != null) {
          problems.add(listener.keyPath("pcap") + ".virtual-address", "address " + address
              + " is already taken by " + earlierAddress + "; every pcap ingress needs its own virtual address");
        } else if (earlierPool != null) {
          problems.add(listener.keyPath("pool"), "pool '" + pool + "' is already served by the pcap ingress "
              + earlierPool + "; a pool takes one pcap ingress at most (its back-ends see the clients' own "
              + "addresses and could not tell two virtual addresses' clients apart)");
        }
        listeners.add(TcpSettings.pcap(ingress, pool));
        continue;
      }
      if (listen.port() != 0) {
        String earlier = bound.putIfAbsent(listen.id(), listener.keyPath("listen"));
        if (earlier != null) {
          problems.add(listener.keyPath("listen"), "address " + listen.id() + " is already bound by " + earlier
              + "; every listener needs its own address");
        }
      }
      listeners.add(new TcpSettings(listen.host(), listen.port(), listen.id(), pool));
    }
    return listeners;
  }

  /** {@code tcp[i].pcap}: null (after recording the problems) if it is not a valid one. */
  private PcapSettings pcap(Section pcap) {
    if (pcap.failed()) {
      return null;
    }
    pcap.onlyKeys(PCAP_KEYS);
    String device = interfaceName(pcap, "interface", false);
    String backendDevice = interfaceName(pcap, "backend-interface", true);
    String expected = "\"a.b.c.d:port\" (an IPv4 address, port 1-65535)";
    String vip = pcap.string("virtual-address", expected);
    String host = null;
    int port = 0;
    if (!pcap.failed("virtual-address")) {
      int colon = vip.lastIndexOf(':');
      String portText = colon < 0 ? "" : vip.substring(colon + 1);
      if (colon > 0 && IPV4.matcher(vip.substring(0, colon)).matches() && portText.matches("[0-9]{1,5}")
          && Integer.parseInt(portText) >= 1 && Integer.parseInt(portText) <= 65535) {
        host = vip.substring(0, colon);
        port = Integer.parseInt(portText);
      } else {
        problems.add(pcap.keyPath("virtual-address"), "must be " + expected + ", was '" + vip + "'");
      }
    }
    if (device == null || host == null || pcap.failed("backend-interface")) {
      return null;
    }
    return new PcapSettings(device, backendDevice == null ? device : backendDevice, host, port);
  }

  /** A network interface's name at {@code key}: null if missing and optional, or (after recording it) bad. */
  private String interfaceName(Section s, String key, boolean optional) {
    String expected = "a network interface's name (1-15 characters, no '/', ':' or space)";
    if (optional && !s.has(key)) {
      return null;
    }
    String name = s.string(key, expected);
    if (s.failed(key)) {
      return null;
    }
    if (!INTERFACE_NAME.matcher(name).matches()) {
      problems.add(s.keyPath(key), "must be " + expected + ", was '" + name + "'");
      return null;
    }
    return name;
  }

  private static String hostPortText(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  private List<RouteSettings> routes(Section sluice, Set<String> pools, Set<String> tcpPools) {
    List<RouteSettings> routes = new ArrayList<>();
    List<? extends ConfigValue> values = sluice.list("routes",
        "a list of routes, each { host = \"...\", path-prefix = \"/...\", pool = name }");
    for (int i = 0; i < values.size(); i++) {
      String path = sluice.keyPath("routes") + "[" + i + "]";
      ConfigValue value = values.get(i);
      if (value.valueType() != ConfigValueType.OBJECT) {
        problems.add(path, "must be an object { host = \"...\", path-prefix = \"/...\", pool = name }, was "
            + Section.shown(value));
        continue;
      }
      Section route = new Section((ConfigObject) value, path, problems);
      route.onlyKeys(ROUTE_KEYS);
      Optional<String> host = route.optionalString("host", "a host name without port");
      if (host.isPresent() && !HostPort.isHost(host.get(), false)) {
        problems.add(route.keyPath("host"),
            "must be a host name without port (IPv6 as \"[address]\"), was '" + host.get() + "'");
      }
      String pathPrefix = route.optionalString("path-prefix", "a path starting with \"/\"").orElse("/");
      if (!route.failed("path-prefix") && !pathPrefix.startsWith("/")) {
        problems.add(route.keyPath("path-prefix"), "must start with \"/\", was '" + pathPrefix + "'");
      }
      String pool = route.string("pool", "the name of a pool");
      if (!route.failed("pool")) {
        checkPoolExists(route.keyPath("pool"), pool, sluice, pools);
        checkNotTcp(route.keyPath("pool"), pool, sluice, tcpPools);
      }
      routes.add(new RouteSettings(host, pathPrefix, pool));
    }
    return routes;
  }

  /** {@code pools}: those that serve HTTP (all but the TCP listeners' pools). */
  private Optional<String> defaultPool(Section sluice, Set<String> pools, List<RouteSettings> routes,
      Set<String> tcpPools) {
    Optional<String> given = sluice.optionalString("default-pool", "the name of a pool");
    if (given.isPresent()) {
      if (!sluice.failed("default-pool")) {
        if (tcpPools.contains(given.get())) {
          checkNotTcp(sluice.keyPath("default-pool"), given.get(), sluice, tcpPools);
        } else {
          checkPoolExists(sluice.keyPath("default-pool"), given.get(), sluice, pools);
        }
      }
      return given;
    }
    // a broken tcp list may have left a TCP pool counted as HTTP: say nothing of it then
    if (routes.isEmpty() && !sluice.failed("routes") && !sluice.failed("pools") && !sluice.failed("tcp")) {
      if (pools.size() == 1) {
        return Optional.of(pools.iterator().next());
      }
      if (pools.size() > 1) {
        problems.add(sluice.keyPath("routes"), "no routes and no default-pool, so no request could reach pools "
            + String.join(", ", pools) + "; add routes or set " + sluice.keyPath("default-pool"));
      }
    }
    return Optional.empty();
  }

  private void checkNotTcp(String path, String pool, Section sluice, Set<String> tcpPools) {
    if (tcpPools.contains(pool)) {
      problems.add(path, "pool '" + pool + "' serves a TCP listener (" + sluice.keyPath("tcp")
          + "); a pool serves either HTTP routes or TCP listeners, not both");
    }
  }

  private void checkPoolExists(String path, String pool, Section sluice, Set<String> pools) {
    if (!pools.contains(pool)) {
      problems.add(path, "must name a pool of " + sluice.keyPath("pools") + " (" + String.join(", ", pools)
          + "), was '" + pool + "'");
    }
  }

  /** The address at key: null (after recording the problem) if it is not one. */
  private static HostPort hostPort(Section s, String key, int minPort) {
    String text = s.string(key, "\"host:port\" with port " + minPort + "-65535");
    if (s.failed(key)) {
      return null;
    }
    try {
      return HostPort.parse(text, minPort);
    } catch (IllegalArgumentException e) {
      s.problems().add(s.keyPath(key), e.getMessage() + ", was '" + text + "'");
      return null;
    }
  }

  /** An address in a list: null (after recording the problem) if it is not one. */
  private HostPort hostPort(ConfigValue value, String path, int minPort) {
    if (value.valueType() != ConfigValueType.STRING) {
      problems.add(path, HostPort.expected(minPort) + ", was " + Section.shown(value));
      return null;
    }
    String text = (String) value.unwrapped();
    try {
      return HostPort.parse(text, minPort);
    } catch (IllegalArgumentException e) {
      problems.add(path, e.getMessage() + ", was '" + text + "'");
      return null;
    }
  }
}
