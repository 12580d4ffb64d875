package sluice.node.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.protocol.LimitSpec;

/** What a reload changes, from literal configurations; and the operator's edits of a running one. */
class SettingsDiffTest {

  private static final String BASE = """
      sluice {
        http.listen = "127.0.0.1:8080"
        cluster.port = 2552
        defaults.limit { algorithm = fixed, value = 4 }
        pools {
          web { backends = ["127.0.0.1:9001", "127.0.0.1:9002"] }
          api { backends = ["127.0.0.1:9101"] }
        }
        routes = [ { path-prefix = "/api", pool = api }, { path-prefix = "/", pool = web } ]
      }
      """;

  private static SluiceSettings read(String hocon) {
    return SettingsReader.read(ConfigFactory.parseString(hocon));
  }

  private static SettingsDiff diff(String running, String next) {
    return SettingsDiff.between(read(running), read(next));
  }

  @Test
  void theSameFileChangesNothing() {
    SettingsDiff d = diff(BASE, BASE);
    assertTrue(d.isEmpty(), d.changes().toString());
    assertTrue(d.kept().isEmpty());
    assertTrue(d.problems().isEmpty());
    assertFalse(d.routingChanged());
    assertEquals(read(BASE), d.effective());
  }

  @Test
  void backEndsAddedRemovedAndALimitChanged() {
    SettingsDiff d = diff(BASE, BASE.replace("""
          web { backends = ["127.0.0.1:9001", "127.0.0.1:9002"] }""", """
          web { backends = [{ address = "127.0.0.1:9001", limit { value = 8 } }, "127.0.0.1:9003"] }"""));
    assertEquals(List.of(
        "sluice.pools.web: back-end 127.0.0.1:9003 added (limit fixed value=4)",
        "sluice.pools.web: back-end 127.0.0.1:9002 removed: it takes no new request, those in flight finish, then"
            + " its connections close",
        "back-end 127.0.0.1:9001: limit fixed value=4 -> fixed value=8"), d.changes());
    SettingsDiff.PoolChange web = d.changedPools().get(0);
    assertEquals("web", web.after().name());
    assertEquals(List.of("127.0.0.1:9003"), web.added().stream().map(BackendSettings::id).toList());
    assertEquals(List.of("127.0.0.1:9002"), web.removed().stream().map(BackendSettings::id).toList());
    assertTrue(web.queueChanged(), "the queue hears the pool's new size");
    assertEquals(List.of(LimitSpec.fixed(8)), d.newSpecs().stream().map(BackendSettings::limit).toList());
    assertFalse(d.routingChanged(), "the same pools, the same routes");
    assertTrue(d.kept().isEmpty());
  }

  @Test
  void poolsAddedAndRemovedAndRoutesChanged() {
    SettingsDiff d = diff(BASE, """
        sluice {
          http.listen = "127.0.0.1:8080"
          cluster.port = 2552
          defaults.limit { algorithm = fixed, value = 4 }
          pools {
            web { backends = ["127.0.0.1:9001", "127.0.0.1:9002"] }
            img { backends = ["127.0.0.1:9201"] }
          }
          routes = [ { path-prefix = "/img", pool = img }, { path-prefix = "/", pool = web } ]
        }
        """);
    assertEquals(List.of("img"), d.addedPools().stream().map(PoolSettings::name).toList());
    assertEquals(List.of("api"), d.removedPools().stream().map(PoolSettings::name).toList());
    assertTrue(d.routingChanged());
    assertTrue(d.changes().contains("sluice.routes: [/api -> api, / -> web] -> [/img -> img, / -> web]"),
        d.changes().toString());
    assertTrue(d.changes().contains("sluice.pools.img added with back-ends [127.0.0.1:9201]"), d.changes().toString());
    assertTrue(d.changes().get(d.changes().size() - 2).startsWith("sluice.pools.api removed: what waits in its queue"
        + " is served, then its back-ends [127.0.0.1:9101] finish"), d.changes().toString());
  }

  @Test
  void queueConnectionsAndHttpTimeoutsAreNamedByTheirKeys() {
    SettingsDiff d = diff(BASE, BASE.replace("cluster.port = 2552", """
        cluster.port = 2552
        http { idle-timeout = 5s, limits.max-header-count = 50 }
        defaults.queue { max = 7, timeout = 250ms }
        defaults.connections.response-timeout = 3s
        """));
    assertTrue(d.httpChanged());
    assertTrue(d.changes().containsAll(List.of(
        "sluice.http.idle-timeout: 60s -> 5s",
        "sluice.http.limits.max-header-count: 100 -> 50",
        "sluice.pools.web.queue.max: 10000 -> 7",
        "sluice.pools.web.queue.timeout: 30s -> 250ms",
        "sluice.pools.web.queue.refuse-connections-above: 5000 -> 3",
        "sluice.pools.web.connections.response-timeout: 30s -> 3s",
        "sluice.pools.api.queue.max: 10000 -> 7")), d.changes().toString());
    assertTrue(d.changedPools().stream().allMatch(c -> c.queueChanged() && c.connectionsChanged()));
  }

  @Test
  void theAccessLogAndTheLogFormatAreKeptUntilARestart() {
    SettingsDiff d = diff(BASE, BASE + "\nsluice.access-log { enabled = true, format = json }\nsluice.log-format = json\n");
    assertEquals(List.of(
        "sluice.access-log cannot change without a restart; kept {enabled false, file \"\", format text, pending-lines"
            + " 16384} (the file has {enabled true, file \"\", format json, pending-lines 16384})",
        "sluice.log-format cannot change without a restart; kept text (the file has json)"), d.kept());
    assertEquals(read(BASE).accessLog(), d.effective().accessLog());
    assertEquals(LogFormat.TEXT, d.effective().logFormat());
    assertTrue(d.isEmpty(), d.changes().toString());
  }

  @Test
  void whatCannotChangeIsKeptAndNamedAndTheRestApplies() {
    SettingsDiff d = diff(BASE, BASE.replace("\"127.0.0.1:8080\"", "\"127.0.0.1:9090\"")
        .replace("cluster.port = 2552", "cluster.port = 2600\n event-loops = 2\n admin.token = s3cret\n"
            + " drain-timeout = 1s\n defaults.queue.max = 9"));
    assertEquals(List.of(
        "sluice.http.listen cannot change without a restart; kept 127.0.0.1:8080 (the file has 127.0.0.1:9090)",
        "sluice.cluster cannot change without a restart; kept {host 127.0.0.1, port 2552, seed-nodes [], lease-time"
            + " 2s, split-brain-resolver keep-majority, stable-after 5s} (the file has {host 127.0.0.1, port 2600,"
            + " seed-nodes [], lease-time 2s, split-brain-resolver keep-majority, stable-after 5s})",
        "sluice.admin.token cannot change without a restart; kept the running one",
        "sluice.event-loops cannot change without a restart; kept 1 (the file has 2)",
        "sluice.drain-timeout cannot change without a restart; kept 10s (the file has 1s)"), d.kept());
    SluiceSettings e = d.effective();
    assertEquals(8080, e.http().port());
    assertEquals(2552, e.cluster().port());
    assertEquals(1, e.eventLoops());
    assertEquals(Duration.ofSeconds(10), e.drainTimeout());
    assertTrue(e.admin().token().isEmpty());
    assertEquals(9, e.pools().get("web").queue().max(), "the rest applies");
    assertTrue(d.problems().isEmpty());
  }

  @Test
  void aPoolThatServesATcpListenerIsKeptAndARouteToItIsRefused() {
    String tcp = BASE.replace("cluster.port = 2552", "cluster.port = 2552\n tcp = [ { listen = \"127.0.0.1:7000\","
        + " pool = db } ]").replace("api { backends", "db { backends = [\"127.0.0.1:5432\"] }\n api { backends");
    SettingsDiff changed = diff(tcp, tcp.replace("\"127.0.0.1:5432\"", "\"127.0.0.1:5433\""));
    assertEquals(List.of("sluice.pools.db serves a TCP listener: it cannot change without a restart; kept as it"
        + " runs"), changed.kept());
    assertTrue(changed.isEmpty());
    assertEquals("127.0.0.1:5432", changed.effective().pools().get("db").backends().get(0).id());

    // the file stops using db for TCP and routes to it: kept as TCP, so the route cannot be
    SettingsDiff routed = diff(tcp, BASE.replace("api { backends", "db { backends = [\"127.0.0.1:5432\"] }\n api { backends")
        .replace("{ path-prefix = \"/api\", pool = api }", "{ path-prefix = \"/db\", pool = db }"));
    assertEquals(List.of("sluice.routes[0].pool: pool 'db' serves a TCP listener as the node runs (sluice.tcp cannot"
        + " change without a restart)"), routed.problems());
  }

  // ---- the operator's edits ---------------------------------------------------------------------

  @Test
  void addingABackEndAppendsItToThePoolAndKeepsThePoolsOrder() {
    Config base = ConfigFactory.parseString(BASE);
    Config added = ConfigEdits.addBackend(base, "web", "127.0.0.1:9003");
    SluiceSettings s = SettingsReader.read(added);
    assertEquals(List.of("web", "api"), List.copyOf(s.pools().keySet()));
    assertEquals(List.of("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"),
        s.pools().get("web").backends().stream().map(BackendSettings::id).toList());
    assertEquals(LimitSpec.fixed(4), s.pools().get("web").backends().get(2).limit(), "the pool's limit");
    SettingsDiff d = SettingsDiff.between(SettingsReader.read(base), s);
    assertEquals(List.of("sluice.pools.web: back-end 127.0.0.1:9003 added (limit fixed value=4)"), d.changes());
  }

  @Test
  void removingABackEndWritesItOutOfThePool() {
    Config base = ConfigFactory.parseString(BASE.replace("\"127.0.0.1:9002\"",
        "{ address = \"127.0.0.1:9002\", limit.value = 2 }"));
    SluiceSettings s = SettingsReader.read(ConfigEdits.removeBackend(base, "web", "127.0.0.1:9002"));
    assertEquals(List.of("127.0.0.1:9001"), s.pools().get("web").backends().stream().map(BackendSettings::id).toList());
  }

  @Test
  void badEditsAreRefusedWithTheirKey() {
    Config base = ConfigFactory.parseString(BASE);
    assertEquals(List.of("sluice.pools: has no pool 'nope' (it has api, web)"),
        assertThrows(SettingsException.class, () -> ConfigEdits.addBackend(base, "nope", "127.0.0.1:1")).problems());
    assertEquals(List.of("sluice.pools.web.backends: has no back-end 127.0.0.1:9101 (it has 127.0.0.1:9001,"
        + " 127.0.0.1:9002)"), assertThrows(SettingsException.class,
            () -> ConfigEdits.removeBackend(base, "web", "127.0.0.1:9101")).problems());
    assertEquals(List.of("sluice.pools.web.backends: a back-end address must be \"host:port\" with port 1-65535"
        + " (IPv6 as \"[address]:port\"), was 'nope'"), assertThrows(SettingsException.class,
            () -> ConfigEdits.addBackend(base, "web", "nope")).problems());
    // what the reader refuses, it refuses with the messages of start-up
    SettingsException twice = assertThrows(SettingsException.class,
        () -> SettingsReader.read(ConfigEdits.addBackend(base, "web", "127.0.0.1:9101")));
    assertTrue(twice.getMessage().contains("back-end 127.0.0.1:9101 is already given at"), twice.getMessage());
    SettingsException empty = assertThrows(SettingsException.class,
        () -> SettingsReader.read(ConfigEdits.removeBackend(base, "api", "127.0.0.1:9101")));
    assertTrue(empty.getMessage().contains("sluice.pools.api.backends: must list at least one back-end"),
        empty.getMessage());
  }
}
