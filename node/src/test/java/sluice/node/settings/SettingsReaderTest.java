package sluice.node.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sluice.protocol.LimitSpec;

class SettingsReaderTest {

  /** The full example of the configuration reference in README.md. */
  static final String FULL_EXAMPLE = """
      sluice {
        http {
          listen = "127.0.0.1:8080"
          idle-timeout = 60s
          head-deadline = 10s
          buffer-requests-up-to = 64k
          body-deadline = 10s
          response-buffer-total = 64m
          limits { max-uri-length = 8k, max-header-name-length = 256, max-header-value-length = 8k,
                   max-header-count = 100, max-body-size = 1g }
        }
        cluster { host = "127.0.0.1", port = 2552, seed-nodes = [] }
        report-interval = 100ms
        controller-window = 250ms
        status-interval = 1s
        defaults {
          balance = round-robin
          limit { algorithm = auto }
          queue { max = 10000, timeout = 30s, refuse-connections-above = 5000, retry-after = 1s }
          connections { pre-open = 1, idle-timeout = 60s, connect-timeout = 2s, response-timeout = 30s,
                        down-backoff-min = 100ms, down-backoff-max = 5s, buffer-responses-up-to = 64k }
        }
        pools {
          web {
            backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", limit { algorithm = fixed, value = 4 } }]
          }
        }
        routes = [ { host = "example.com", path-prefix = "/api", pool = web }, { path-prefix = "/", pool = web } ]
        default-pool = web
        access-log { enabled = false, file = "", format = text, pending-lines = 16384 }
        log-format = text
      }
      """;

  static final String ONE_POOL = "sluice.pools.web.backends = [\"127.0.0.1:9001\"]\n";

  static SluiceSettings read(String hocon) {
    return SettingsReader.read(ConfigFactory.parseString(hocon));
  }

  static SettingsException refused(String hocon) {
    return assertThrows(SettingsException.class, () -> read(hocon));
  }

  @Test
  void fullExampleParsesIntoTheRecords() {
    SluiceSettings s = read(FULL_EXAMPLE);

    assertEquals(new HttpSettings("127.0.0.1", 8080, Duration.ofSeconds(60), Duration.ofSeconds(10),
        8192, 256, 8192, 100, 1L << 30, 65536, Duration.ofSeconds(10), 64L << 20), s.http());
    assertEquals(new ClusterSettings("127.0.0.1", 2552, List.of(), Duration.ofSeconds(2), "keep-majority",
        Duration.ofSeconds(5)), s.cluster());
    assertEquals(new AdminSettings("127.0.0.1", 8081, Optional.empty()), s.admin());
    assertEquals(Duration.ofSeconds(10), s.drainTimeout());
    assertEquals(Duration.ofMillis(100), s.reportInterval());
    assertEquals(Duration.ofMillis(250), s.controllerWindow());
    assertEquals(Duration.ofSeconds(1), s.statusInterval());

    QueueSettings queue = new QueueSettings(10000, Duration.ofSeconds(30), 5000, Duration.ofSeconds(1));
    ConnectionSettings connections = new ConnectionSettings(1, Duration.ofSeconds(60), Duration.ofSeconds(2),
        Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofSeconds(5), 65536);
    PoolSettings web = new PoolSettings("web", List.of(
        new BackendSettings("127.0.0.1:9001", "127.0.0.1", 9001, new LimitSpec("auto", 1, 1000, 8, Map.of())),
        new BackendSettings("127.0.0.1:9002", "127.0.0.1", 9002, LimitSpec.fixed(4))),
        Balance.ROUND_ROBIN, queue, connections, Optional.empty());
    assertEquals(Map.of("web", web), s.pools());
    assertEquals(List.of(
        new RouteSettings(Optional.of("example.com"), "/api", "web"),
        new RouteSettings(Optional.empty(), "/", "web")), s.routes());
    assertEquals(Optional.of("web"), s.defaultPool());
  }

  @Test
  void referenceConfGivesTheSameDefaultsAsTheFullExample() {
    SluiceSettings full = read(FULL_EXAMPLE);
    SluiceSettings minimal = read("""
        sluice.pools.web.backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", limit { algorithm = fixed, value = 4 } }]
        sluice.routes = [ { host = "example.com", path-prefix = "/api", pool = web }, { pool = web } ]
        sluice.default-pool = web
        """);
    assertEquals(full, minimal);
  }

  @Test
  void theAccessLogIsOffAndLogsAreTextByDefaultAndBothCanBeSet() {
    SluiceSettings defaults = read(ONE_POOL);
    assertEquals(AccessLogSettings.OFF, defaults.accessLog());
    assertEquals(LogFormat.TEXT, defaults.logFormat());
    SluiceSettings set = read(ONE_POOL + """
        sluice.access-log { enabled = true, file = "/var/log/sluice/access.log", format = json, pending-lines = 100 }
        sluice.log-format = json
        """);
    assertEquals(new AccessLogSettings(true, Optional.of("/var/log/sluice/access.log"), LogFormat.JSON, 100),
        set.accessLog());
    assertEquals(LogFormat.JSON, set.logFormat());
    // -D gives text: -Dsluice.access-log.enabled=true
    SluiceSettings fromProperties = read(ONE_POOL + "sluice.access-log.enabled = \"true\"\n");
    assertTrue(fromProperties.accessLog().enabled());
    assertEquals(Optional.empty(), fromProperties.accessLog().file());
  }

  @Test
  void aSinglePoolWithoutRoutesIsTheDefaultPool() {
    SluiceSettings s = read(ONE_POOL);
    assertEquals(Optional.of("web"), s.defaultPool());
    assertEquals(List.of(), s.routes());
  }

  @Test
  void withRoutesAndNoDefaultPoolUnmatchedRequestsHaveNoPool() {
    SluiceSettings s = read(ONE_POOL + "sluice.routes = [{ path-prefix = \"/api\", pool = web }]");
    assertEquals(Optional.empty(), s.defaultPool());
  }

  @Test
  void poolsOverrideTheDefaultsKeyByKey() {
    SluiceSettings s = read("""
        sluice.defaults {
          balance = least-outstanding
          limit { algorithm = fixed, value = 10 }
          queue { max = 100, refuse-connections-above = 50 }
          connections.pre-open = 3
        }
        sluice.pools {
          web {
            backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", limit.value = 2 }]
            balance = round-robin
            limit.value = 8
            queue.timeout = 5s
            connections { connect-timeout = 1s }
          }
          api { backends = ["127.0.0.1:9003"] }
        }
        sluice.default-pool = web
        """);
    PoolSettings web = s.pools().get("web");
    assertEquals(Balance.ROUND_ROBIN, web.balance());
    assertEquals(new QueueSettings(100, Duration.ofSeconds(5), 50, Duration.ofSeconds(1)), web.queue());
    assertEquals(3, web.connections().preOpen());
    assertEquals(Duration.ofSeconds(1), web.connections().connectTimeout());
    assertEquals(Duration.ofSeconds(60), web.connections().idleTimeout());
    assertEquals(LimitSpec.fixed(8), web.backends().get(0).limit());
    assertEquals(LimitSpec.fixed(2), web.backends().get(1).limit());

    PoolSettings api = s.pools().get("api");
    assertEquals(Balance.LEAST_OUTSTANDING, api.balance());
    assertEquals(new QueueSettings(100, Duration.ofSeconds(30), 50, Duration.ofSeconds(1)), api.queue());
    assertEquals(LimitSpec.fixed(10), api.backends().get(0).limit());
    assertEquals(3, s.allBackends().size());
  }

  @Test
  void limitParametersAreKeptAsWrittenAndBoundsMergeFromBelow() {
    SluiceSettings s = read(ONE_POOL + """
        sluice.pools.web.limit { algorithm = queue, max = 40, hold-windows = 20, step-ratio = 0.5 }
        sluice.pools.web.backends = [{ address = "127.0.0.1:9001", limit { low = 2, initial = 20, min = 10 } }]
        """);
    LimitSpec spec = s.pools().get("web").backends().get(0).limit();
    assertEquals(new LimitSpec("queue", 10, 40, 20, Map.of("hold-windows", "20", "step-ratio", "0.5", "low", "2")),
        spec);
  }

  @Test
  void poolsKeepTheOrderOfTheFile() {
    SluiceSettings s = read("""
        sluice.pools {
          zeta { backends = ["127.0.0.1:9001"] }
          alpha { backends = ["127.0.0.1:9002"] }
          mid { backends = ["127.0.0.1:9003"] }
        }
        sluice.default-pool = zeta
        """);
    assertEquals(List.of("zeta", "alpha", "mid"), List.copyOf(s.pools().keySet()));
  }

  @Test
  void addressesAreParsedWithTheHostLowerCased() {
    SluiceSettings s = read("""
        sluice.pools.web.backends = ["Backend-1.Example.COM:80", "[::1]:9001", "10.0.0.7:65535"]
        sluice.cluster.seed-nodes = ["10.0.0.1:2552", "node-2:2552"]
        sluice.http.listen = "0.0.0.0:0"
        """);
    List<BackendSettings> backends = s.pools().get("web").backends();
    assertEquals("backend-1.example.com:80", backends.get(0).id());
    assertEquals("backend-1.example.com", backends.get(0).host());
    assertEquals("[::1]:9001", backends.get(1).id());
    assertEquals("::1", backends.get(1).host());
    assertEquals(65535, backends.get(2).port());
    assertEquals(List.of("10.0.0.1:2552", "node-2:2552"), s.cluster().seedNodes());
    assertEquals("0.0.0.0", s.http().host());
    assertEquals(0, s.http().port());
  }

  @Test
  void eventLoopsAndLeaseTimeAreRead() {
    SluiceSettings s = read(ONE_POOL + "sluice.event-loops = 3\nsluice.cluster.lease-time = 5s");
    assertEquals(3, s.eventLoops());
    assertEquals(Duration.ofSeconds(5), s.cluster().leaseTime());
    assertEquals(1, read(ONE_POOL).eventLoops());
  }

  @Test
  void bodyBufferingIsReadAndMayBeTurnedOff() {
    HttpSettings http = read(ONE_POOL + """
        sluice.http { buffer-requests-up-to = 0, body-deadline = 3s, response-buffer-total = 0 }
        """).http();
    assertEquals(0, http.bufferRequestsUpTo());
    assertEquals(Duration.ofSeconds(3), http.bodyDeadline());
    assertEquals(0, http.responseBufferTotal());
    assertEquals(1L << 20, read(ONE_POOL + "sluice.http.response-buffer-total = 1m").http().responseBufferTotal());
  }

  @Test
  void statusIntervalMayBeZero() {
    assertEquals(Duration.ZERO, read(ONE_POOL + "sluice.status-interval = 0").statusInterval());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      sluice.pools.web.queue.max = 0                              | sluice.pools.web.queue.max: must be at least 1, was 0
      sluice.defaults.queue.max = 2.5                             | sluice.defaults.queue.max: must be a whole number at least 1, was 2.5
      sluice.defaults.queue.refuse-connections-above = 20000      | sluice.defaults.queue.refuse-connections-above: must be between 0 and max (10000), was 20000
      sluice.pools.web.queue.timeout = soon                       | sluice.pools.web.queue.timeout: must be a duration greater than 0 such as 500ms, 30s or 2m, was 'soon'
      sluice.defaults.queue.retry-after = 0s                      | sluice.defaults.queue.retry-after: must be greater than 0, was 0s
      sluice.report-interval = -1s                                | sluice.report-interval: must be greater than 0, was -1s
      sluice.status-interval = -1s                                | sluice.status-interval: must be 0 or more, was -1s
      sluice.controller-window = 50ms                             | sluice.controller-window: must be at least report-interval (100ms), was 50ms
      sluice.event-loops = 0                                      | sluice.event-loops: must be between 1 and 64, was 0
      sluice.event-loops = two                                    | sluice.event-loops: must be a whole number
      sluice.cluster.lease-time = 200ms                           | sluice.cluster.lease-time: must be at least 3 x report-interval (100ms) so that a lease is renewed in time, was 200ms
      sluice.cluster.lease-time = 0s                              | sluice.cluster.lease-time: must be greater than 0, was 0s
      sluice.cluster.lease-tme = 2s                               | sluice.cluster.lease-tme: unknown key (did you mean lease-time?)
      sluice.cluster.split-brain-resolver = keep-minority         | sluice.cluster.split-brain-resolver: must be one of keep-majority, keep-oldest, down-all, was 'keep-minority'
      sluice.cluster.stable-after = 0s                            | sluice.cluster.stable-after: must be greater than 0, was 0s
      sluice.admin.listen = "0.0.0.0:8081"                      | sluice.admin.listen: is not a loopback address (0.0.0.0): set sluice.admin.token
      sluice.admin.listen = "127.0.0.1:80800"                   | sluice.admin.listen: must be "host:port" with port 0-65535
      sluice.admin.tokn = abc                                     | sluice.admin.tokn: unknown key (did you mean token?)
      sluice.drain-timeout = -1s                                  | sluice.drain-timeout: must be 0 or more, was -1s
      sluice.http.listen = "127.0.0.1"                          | sluice.http.listen: must be "host:port" with port 0-65535
      sluice.http.idle-timeout = [1, 2]                           | sluice.http.idle-timeout: must be a duration greater than 0 such as 500ms, 30s or 2m, was a list
      sluice.http.limits.max-uri-length = 3g                      | sluice.http.limits.max-uri-length: must be between 1 and 2147483647 bytes, was 3g (3221225472 bytes)
      sluice.http.limits.max-header-count = 0                     | sluice.http.limits.max-header-count: must be at least 1, was 0
      sluice.http.limits.max-body-size = lots                     | sluice.http.limits.max-body-size: must be a size at least 0 bytes
      sluice.http.limits.max-bodysize = 1m                        | sluice.http.limits.max-bodysize: unknown key (did you mean max-body-size?)
      sluice.http.buffer-requests-up-to = 3g                      | sluice.http.buffer-requests-up-to: must be between 0 and 2147483647 bytes, was 3g (3221225472 bytes)
      sluice.http.buffer-requests-up-to = -1                      | sluice.http.buffer-requests-up-to: must be a size at least 0 bytes such as 65536, 64k or 8MiB, was -1
      sluice.http.body-deadline = 0s                              | sluice.http.body-deadline: must be greater than 0, was 0s
      sluice.http.body-dedline = 5s                               | sluice.http.body-dedline: unknown key (did you mean body-deadline?)
      sluice.http.response-buffer-total = lots                    | sluice.http.response-buffer-total: must be a size at least 0 bytes
      sluice.http.response-buffer-total = -1k                     | sluice.http.response-buffer-total: must be a size at least 0 bytes such as 65536, 64k or 8MiB, was '-1k'
      sluice.cluster.port = 70000                                 | sluice.cluster.port: must be between 0 and 65535, was 70000
      sluice.cluster.seed-nodes = ["node-1"]                    | sluice.cluster.seed-nodes[0]: must be "host:port" with port 1-65535
      sluice.defaults.connections.pre-open = -1                   | sluice.defaults.connections.pre-open: must be at least 0, was -1
      sluice.defaults.connections.down-backoff-max = 50ms         | sluice.defaults.connections.down-backoff-max: must be at least down-backoff-min (100ms), was 50ms
      sluice.pools.web.connections.connect-timeout = 0            | sluice.pools.web.connections.connect-timeout: must be greater than 0, was 0
      sluice.pools.web.balance = random                           | sluice.pools.web.balance: must be one of round-robin, least-outstanding, was 'random'
      sluice.pools.web.queue.refuse-connection-above = 5          | sluice.pools.web.queue.refuse-connection-above: unknown key (did you mean refuse-connections-above?)
      sluice.pools.web.backend = ["127.0.0.1:9002"]             | sluice.pools.web.backend: unknown key (did you mean backends?)
      sluice.pools.web.backends = ["127.0.0.1:0"]               | sluice.pools.web.backends[0]: must be "host:port" with port 1-65535 (IPv6 as "[address]:port"), was '127.0.0.1:0'
      sluice.pools.web.backends = ["127.0.0.1:9001", 9002]      | sluice.pools.web.backends[1]: must be "host:port" or { address = "host:port", limit { ... } }, was 9002
      sluice.pools.web.backends = []                              | sluice.pools.web.backends: must list at least one back-end
      sluice.pools.web.backends = [{ adress = "127.0.0.1:1" }]  | sluice.pools.web.backends[0].adress: unknown key (did you mean address?)
      sluice.pools.web.backends = [{ adress = "127.0.0.1:1" }]  | sluice.pools.web.backends[0].address: missing
      sluice.pools.web.limit { algorithm = fixed, value = 0 }    | sluice.pools.web.limit.value: must be at least 1, was 0
      sluice.pools.web.limit.algorithm = nosuch                   | sluice.pools.web.limit.algorithm: unknown 'nosuch'
      sluice.pools.web.limit.max = many                           | sluice.pools.web.limit.max: must be a whole number at least 1, was 'many'
      sluice.defaults.limit { algorithm = fixed, value = ten }   | sluice.defaults.limit.value: must be a whole number, was 'ten'
      sluice.pools.web.limit { min = 5, max = 2 }                 | sluice.pools.web.limit.max: must be at least min (5), was 2
      sluice.routes = [{ path-prefix = api, pool = web }]         | sluice.routes[0].path-prefix: must start with "/", was 'api'
      sluice.routes = [{ path-prefix = "/", pool = wbe }]       | sluice.routes[0].pool: must name a pool of sluice.pools (web), was 'wbe'
      sluice.routes = [{ pth-prefix = "/", pool = web }]        | sluice.routes[0].pth-prefix: unknown key (did you mean path-prefix?)
      sluice.routes = [{ host = "example.com:80", pool = web }] | sluice.routes[0].host: must be a host name without port
      sluice.default-pool = api                                   | sluice.default-pool: must name a pool of sluice.pools (web), was 'api'
      sluice.pools."my pool".backends = ["127.0.0.1:9009"]    | sluice.pools."my pool": a pool name must be letters, digits
      sluice.access-log.format = xml                              | sluice.access-log.format: must be text or json, was 'xml'
      sluice.access-log.enable = true                             | sluice.access-log.enable: unknown key (did you mean enabled?)
      sluice.access-log.enabled = maybe                           | sluice.access-log.enabled: must be true or false, was 'maybe'
      sluice.access-log.file = 7                                  | sluice.access-log.file: must be a file name in quotes
      sluice.access-log.pending-lines = 0                         | sluice.access-log.pending-lines: must be between 16 and 16777216, was 0
      sluice.access-log = on                                      | sluice.access-log: must be an object
      sluice.log-format = yaml                                    | sluice.log-format: must be text or json, was 'yaml'
      """)
  void aWrongValueIsRefusedNamingItsKeyAndWhatIsAllowed(String wrong, String expected) {
    SettingsException e = refused(ONE_POOL + wrong);
    assertTrue(e.getMessage().contains(expected), () -> "expected <" + expected + "> in:\n" + e.getMessage());
  }

  @Test
  void theSameBackendTwiceIsRefused() {
    SettingsException e = refused("""
        sluice.pools {
          web { backends = ["127.0.0.1:9001", "127.0.0.1:9002"] }
          api { backends = ["127.0.0.1:9002"] }
        }
        sluice.default-pool = web
        """);
    assertEquals(List.of("sluice.pools.api.backends[0]: back-end 127.0.0.1:9002 is already given at "
        + "sluice.pools.web.backends[1]; a back-end belongs to one pool, once"), e.problems());
  }

  @Test
  void noPoolIsRefused() {
    SettingsException e = refused("");
    assertTrue(e.getMessage().contains("sluice.pools: must name at least one pool"), e.getMessage());
  }

  @Test
  void severalPoolsWithoutRoutesOrDefaultPoolAreRefused() {
    SettingsException e = refused("sluice.pools { a.backends = [\"h:1\"], b.backends = [\"h:2\"] }");
    assertTrue(e.getMessage().contains("sluice.routes: no routes and no default-pool"), e.getMessage());
  }

  @Test
  void allProblemsAreReportedTogether() {
    SettingsException e = refused(ONE_POOL + """
        sluice.http.idle-timeout = forever
        sluice.cluster.port = -1
        sluice.pools.web.queue { max = 0, refuse-connection-above = 5 }
        sluice.routes = [{ path-prefix = "/", pool = nope }]
        """);
    assertEquals(List.of(
        "sluice.http.idle-timeout: must be a duration greater than 0 such as 500ms, 30s or 2m, was 'forever'",
        "sluice.cluster.port: must be between 0 and 65535, was -1",
        "sluice.pools.web.queue.refuse-connection-above: unknown key (did you mean refuse-connections-above?); "
            + "allowed here: max, timeout, refuse-connections-above, retry-after",
        "sluice.pools.web.queue.max: must be at least 1, was 0",
        "sluice.routes[0].pool: must name a pool of sluice.pools (web), was 'nope'"), e.problems());
    assertTrue(e.getMessage().startsWith("Invalid configuration (5 problems):\n  sluice.http.idle-timeout"),
        e.getMessage());
  }

  @Test
  void aBadDefaultIsReportedOnceNotAgainInEveryPool() {
    SettingsException e = refused("""
        sluice.defaults.queue.max = 0
        sluice.defaults.limit { algorithm = fixed, value = 0 }
        sluice.pools {
          web { backends = [{ address = "127.0.0.1:9001", limit.min = 1 }], queue.timeout = 5s }
          api { backends = ["127.0.0.1:9002"] }
        }
        sluice.default-pool = web
        """);
    assertEquals(List.of(
        "sluice.defaults.queue.max: must be at least 1, was 0",
        "sluice.defaults.limit.value: must be at least 1, was 0"), e.problems());
  }

  @Test
  void refuseConnectionsAboveFollowsMaxUnlessGiven() {
    assertEquals(5000, read(ONE_POOL).pools().get("web").queue().refuseConnectionsAbove());
    assertEquals(5, read(ONE_POOL + "sluice.pools.web.queue.max = 10").pools().get("web").queue().refuseConnectionsAbove());
    assertEquals(40, read(ONE_POOL + "sluice.defaults.queue { max = 100, refuse-connections-above = 40 }")
        .pools().get("web").queue().refuseConnectionsAbove());
  }

  @Test
  void aPoolThatMakesTheDefaultsInvalidIsReportedAtThePool() {
    SettingsException e = refused(ONE_POOL + "sluice.defaults.queue.refuse-connections-above = 5000\n"
        + "sluice.pools.web.queue.max = 10");
    assertEquals(List.of("sluice.pools.web.queue.refuse-connections-above: must be between 0 and max (10), was 5000"),
        e.problems());
  }

  @Test
  void nonFixedAlgorithmsGetDefaultBoundsAndNoParameterOfFixed() {
    // Only "fixed" exists in this build, so the spec is checked before the algorithm is.
    Problems problems = new Problems();
    var defaults = LimitBlocks.merge(Map.of(), ConfigFactory.parseString("algorithm = fixed, value = 16, min = 2").root());
    var switched = LimitBlocks.merge(defaults,
        ConfigFactory.parseString("algorithm = gradient, tolerance = 1.5, smoothing = 200ms").root());
    assertEquals(new LimitSpec("gradient", 2, 1000, 8, Map.of("tolerance", "1.5", "smoothing", "200ms")),
        LimitBlocks.toSpec(switched, "sluice.pools.web.limit", problems));

    var narrow = LimitBlocks.merge(switched, ConfigFactory.parseString("max = 5, smoothing = null").root());
    assertEquals(new LimitSpec("gradient", 2, 5, 5, Map.of("tolerance", "1.5")),
        LimitBlocks.toSpec(narrow, "p", problems));
    var high = LimitBlocks.merge(switched, ConfigFactory.parseString("min = 20").root());
    assertEquals(20, LimitBlocks.toSpec(high, "p", problems).initial());

    var sameAlgorithm = LimitBlocks.merge(defaults, ConfigFactory.parseString("algorithm = fixed").root());
    assertEquals(new LimitSpec("fixed", 2, 16, 16, Map.of("value", "16")),
        LimitBlocks.toSpec(sameAlgorithm, "p", problems));
    assertTrue(problems.isEmpty(), () -> problems.list().toString());
  }

  @Test
  void aUserAlgorithmInTheDefaultsDropsTheParametersOfReferenceConf() {
    SluiceSettings s = read(ONE_POOL + "sluice.defaults.limit.algorithm = gradient");
    LimitSpec spec = s.pools().get("web").backends().get(0).limit();
    assertEquals("gradient", spec.algorithm());
    assertFalse(spec.params().containsKey("value"), "reference.conf's fixed value does not leak: " + spec);

    var merged = ConfigFactory.parseString("sluice.defaults.limit { algorithm = gradient, max = 50 }")
        .withFallback(ConfigFactory.defaultReference());
    var keys = LimitBlocks.overReference(merged.getObject("sluice.defaults.limit"),
        ConfigFactory.defaultReference().getObject("sluice.defaults.limit"));
    assertEquals(List.of("algorithm", "max"), keys.keySet().stream().sorted().toList());

    var user = ConfigFactory.parseString("sluice.defaults.limit { algorithm = gradient, value = 3 }")
        .withFallback(ConfigFactory.defaultReference());
    assertTrue(LimitBlocks.overReference(user.getObject("sluice.defaults.limit"),
        ConfigFactory.defaultReference().getObject("sluice.defaults.limit")).containsKey("value"),
        "a value the user wrote is kept");
  }

  @Test
  void unknownKeysAreListedWithWhatIsAllowed() {
    SettingsException e = refused(ONE_POOL + "sluice.pools.web.queues { max = 3 }");
    assertEquals(List.of("sluice.pools.web.queues: unknown key (did you mean queue?); "
        + "allowed here: backends, balance, limit, queue, connections, load-header"), e.problems());
    assertFalse(e.getMessage().contains("Exception"));
  }

  @Test
  void anUnknownKeyAtTheTopOfSluiceIsRefusedLikeAnyOther() {
    SettingsException e = refused(ONE_POOL + "sluice.tcpp = []");
    assertEquals(List.of("sluice.tcpp: unknown key (did you mean tcp?); allowed here: http, cluster, admin, "
        + "drain-timeout, report-interval, controller-window, status-interval, event-loops, defaults, pools, routes, "
        + "default-pool, tcp, access-log, log-format"), e.problems());
  }

  @Test
  void loadHeaderIsReadFromTheDefaultsAndPools() {
    SluiceSettings s = read("""
        sluice.defaults.load-header = X-Load
        sluice.pools {
          web { backends = ["127.0.0.1:9001"] }
          api { backends = ["127.0.0.1:9002"], load-header = "" }
        }
        sluice.default-pool = web
        """);
    assertEquals(Optional.of("X-Load"), s.pools().get("web").loadHeader());
    assertEquals(Optional.empty(), s.pools().get("api").loadHeader());
    SettingsException e = refused(ONE_POOL + "sluice.pools.web.load-header = \"X Load\"");
    assertEquals(List.of("sluice.pools.web.load-header: must be an HTTP header name such as X-Load, was 'X Load'"),
        e.problems());
  }
}
