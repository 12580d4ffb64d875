package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.node.settings.SettingsException;
import sluice.node.settings.SettingsReader;
import sluice.node.testing.TestBackend;

/**
 * Reloading a running node's configuration file, and the operator adding and removing a
 * back-end, on a real node with real back-ends under real load: what changes takes effect, and
 * no client request fails or goes unanswered while it does.
 */
class ReloadTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** A node's file: one or more pools, fixed limits, free ports, fast reports. */
  private static String config(String pools, String routes) {
    return """
        sluice {
          http.listen = "127.0.0.1:0"
          admin.listen = "127.0.0.1:0"
          cluster.port = 0
          report-interval = 100ms
          controller-window = 500ms
          status-interval = 0
          defaults {
            limit { algorithm = fixed, value = 2 }
            queue { max = 10000, timeout = 60s, refuse-connections-above = 10000 }
          }
          pools { %s }
          %s
        }
        """.formatted(pools, routes);
  }

  private static String pool(String name, TestBackend... backends) {
    List<String> addresses = new ArrayList<>();
    for (TestBackend b : backends) {
      addresses.add("\"" + b.address() + "\"");
    }
    return name + " { backends = " + addresses + " }\n";
  }

  private static Path write(String text) throws Exception {
    Path file = Files.createTempFile("sluice-reload", ".conf");
    Files.writeString(file, text);
    return file;
  }

  private static ReloadResult reload(SluiceNode node) {
    return node.reload("test").toCompletableFuture().join();
  }

  @Test
  @SuppressWarnings("unchecked")
  void aReloadThatAddsABackEndSendsItRequestsAndNoRequestFails() throws Exception {
    try (TestBackend a = TestBackend.started(); TestBackend b = TestBackend.started()) {
      a.delay(Duration.ofMillis(5));
      b.delay(Duration.ofMillis(5));
      Path file = write(config(pool("web", a), ""));
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 8, (client, i) -> "/")) {
        Nodes.await(() -> a.served() > 50, "a serves");
        assertEquals(0, b.requests().size());

        Files.writeString(file, config(pool("web", a, b), ""));
        HttpResponse<String> answer = post(node, "/reload");
        assertEquals(200, answer.statusCode(), answer.body());
        Map<String, Object> json = (Map<String, Object>) Json.parse(answer.body());
        assertEquals(true, json.get("applied"));
        assertEquals(List.of("sluice.pools.web: back-end " + b.address() + " added (limit fixed value=2)"),
            json.get("changes"));
        assertEquals(List.of(), json.get("kept"));

        Nodes.await(() -> b.served() > 50, "the added back-end serves: " + b.served());
        PoolStatus web = Nodes.status(node);
        assertEquals(List.of(a.address(), b.address()), web.backends().stream().map(PoolStatus.BackendStatus::id)
            .toList());
        assertTrue(a.maxInFlight() <= 2 && b.maxInFlight() <= 2, a.maxInFlight() + ", " + b.maxInFlight());
        String metrics = Nodes.adminGet(node, "/metrics");
        assertTrue(metrics.contains(
            "sluice_backend_limit{backend=\"" + b.address() + "\",pool=\"web\",protocol=\"http\"} 2.0"), metrics);
        load.stop();
        assertEquals(0, load.errors(), load.firstError());
      }
    }
  }

  @Test
  void aReloadThatRemovesABackEndLetsWhatIsInFlightAndQueuedFinishAndSendsItNothingMore() throws Exception {
    try (TestBackend a = TestBackend.started(); TestBackend b = TestBackend.started()) {
      a.delay(Duration.ofMillis(20));
      b.delay(Duration.ofMillis(300)); // requests stay in flight on b while it is removed
      Path file = write(config(pool("web", a, b), ""));
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 24, (client, i) -> "/")) {
        Nodes.await(() -> b.inFlight() == 2 && Nodes.status(node).queueLength() > 5,
            "b has 2 in flight and requests wait: " + b.inFlight() + ", " + Nodes.status(node));
        long servedBefore = load.ok();

        Files.writeString(file, config(pool("web", a), ""));
        ReloadResult result = reload(node);
        assertTrue(result.applied(), result.toString());
        assertEquals(List.of("sluice.pools.web: back-end " + b.address() + " removed: it takes no new request, those"
            + " in flight finish, then its connections close"), result.changes());

        // b finishes what it had, closes its connections, and then hears nothing more
        Nodes.await(() -> b.inFlight() == 0 && b.connectionsOpen() == 0, "b is left alone: " + b.inFlight() + " in flight, "
            + b.connectionsOpen() + " connections");
        int seenByB = b.requests().size();
        long servedByA = a.served();
        Nodes.await(() -> a.served() > servedByA + 200, "a serves everything");
        assertEquals(seenByB, b.requests().size(), "the removed back-end got no new request");
        assertEquals(List.of(a.address()), Nodes.status(node).backends().stream().map(PoolStatus.BackendStatus::id)
            .toList());
        String metrics = Nodes.adminGet(node, "/metrics");
        assertFalse(metrics.contains(b.address()), metrics);
        assertTrue(metrics.contains("backend=\"" + a.address() + "\""), metrics);

        load.stop();
        assertEquals(0, load.errors(), load.firstError());
        assertTrue(load.ok() > servedBefore + 200);
        // every request the node took was answered by a back-end: none refused, none lost
        PoolStatus web = Nodes.status(node);
        assertEquals(0, web.queueLength());
        assertEquals(0, web.rejectedFull() + web.expired() + web.noBackendUp() + web.stopped() + web.badGateway()
            + web.gatewayTimeout(), web.toString());
        assertEquals(load.ok(), a.served() + b.served(), "each answer came from a back-end, once");
      }
    }
  }

  @Test
  void aReloadChangesALimitUpAndDown() throws Exception {
    try (TestBackend a = TestBackend.started()) {
      a.delay(Duration.ofMillis(20));
      String two = config(pool("web", a), "");
      Path file = write(two);
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 16, (client, i) -> "/")) {
        Nodes.await(() -> a.served() > 50, "a serves");
        assertEquals(2, a.maxInFlight());

        Files.writeString(file, two.replace("value = 2", "value = 6"));
        ReloadResult up = reload(node);
        assertEquals(List.of("back-end " + a.address() + ": limit fixed value=2 -> fixed value=6"), up.changes());
        assertEquals(List.of(), up.warnings());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 6);
        Nodes.await(() -> a.maxInFlight() == 6, "the back-end gets 6 at once: " + a.maxInFlight());

        Files.writeString(file, two.replace("value = 2", "value = 1"));
        assertTrue(reload(node).applied());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 1
            && s.backends().get(0).inFlight() <= 1 && s.backends().get(0).connections() <= 1);
        a.resetMaxima();
        long served = a.served();
        Nodes.await(() -> a.served() > served + 100, "a serves on at 1");
        assertEquals(1, a.maxInFlight());
        load.stop();
        assertEquals(0, load.errors(), load.firstError());
      }
    }
  }

  @Test
  void anInvalidFileIsRefusedWithTheMessagesOfStartUpAndTrafficGoesOnUnderTheOldOne() throws Exception {
    try (TestBackend a = TestBackend.started()) {
      a.delay(Duration.ofMillis(2));
      String good = config(pool("web", a), "");
      Path file = write(good);
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 4, (client, i) -> "/")) {
        Nodes.await(() -> a.served() > 20, "a serves");
        String bad = good.replace("max = 10000", "max = 0").replace("pools {", "poools = 1\n pools {");
        Files.writeString(file, bad);
        List<String> atStartUp;
        try {
          SettingsReader.load(Optional.of(file));
          throw new AssertionError("the bad file was read");
        } catch (SettingsException e) {
          atStartUp = e.problems();
        }
        assertTrue(atStartUp.size() >= 2, atStartUp.toString());

        HttpResponse<String> answer = post(node, "/reload");
        assertEquals(400, answer.statusCode(), answer.body());
        @SuppressWarnings("unchecked")
        Map<String, Object> json = (Map<String, Object>) Json.parse(answer.body());
        assertEquals(false, json.get("applied"));
        assertEquals(atStartUp, json.get("problems"));
        assertEquals(List.of(), json.get("changes"));

        long served = a.served();
        Nodes.await(() -> a.served() > served + 100, "traffic goes on");
        assertEquals(2, Nodes.status(node).backends().get(0).limit());

        // a file that changes what cannot change applies the rest and says what it kept
        Files.writeString(file, good.replace("status-interval = 0", "status-interval = 0\n event-loops = 2")
            .replace("value = 2", "value = 3"));
        ReloadResult kept = reload(node);
        assertTrue(kept.applied(), kept.toString());
        assertEquals(List.of("sluice.event-loops cannot change without a restart; kept 1 (the file has 2)"),
            kept.kept());
        assertEquals(List.of("back-end " + a.address() + ": limit fixed value=2 -> fixed value=3"), kept.changes());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 3);
        load.stop();
        assertEquals(0, load.errors(), load.firstError());
      }
    }
  }

  @Test
  void aPoolAddedWithItsRouteServesAndAPoolRemovedServesWhatWaitsInItFirst() throws Exception {
    try (TestBackend web = TestBackend.started(); TestBackend api = TestBackend.started();
        TestBackend img = TestBackend.started()) {
      api.delay(Duration.ofMillis(200));
      String routesWithApi = "routes = [ { path-prefix = \"/api\", pool = api }, { path-prefix = \"/\", pool = web } ]";
      Path file = write(config(pool("web", web) + pool("api", api), routesWithApi));
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 16, (client, i) -> "/api/" + i)) {
        Nodes.await(() -> api.inFlight() == 2 && Nodes.statuses(node).get(1).queueLength() > 5,
            "requests wait for api: " + Nodes.statuses(node));
        assertEquals(0, web.requests().size());

        Files.writeString(file, config(pool("web", web) + pool("img", img),
            "routes = [ { path-prefix = \"/img\", pool = img }, { path-prefix = \"/\", pool = web } ]"));
        ReloadResult result = reload(node);
        assertTrue(result.applied(), result.toString());
        assertTrue(result.changes().contains("sluice.pools.img added with back-ends [" + img.address() + "]"),
            result.changes().toString());

        // what waited for api is served by api; from now on /api/... goes by "/" to web
        Nodes.await(() -> web.served() > 50, "web serves what the route / now takes");
        Nodes.await(() -> api.inFlight() == 0 && api.connectionsOpen() == 0, "api is done and its connections closed: "
            + api.connectionsOpen());
        try (RawHttp client = RawHttp.connect(node.httpPort())) {
          RawHttp.Response r = client.get("/img/x");
          assertEquals(200, r.status());
          assertEquals(Integer.toString(img.port()), header(r, "X-Backend-Port"));
        }
        assertEquals(List.of("web", "img"), Nodes.statuses(node).stream().map(PoolStatus::pool).toList());
        load.stop();
        assertEquals(0, load.errors(), load.firstError());
        assertEquals(load.ok(), web.served() + api.served(), "every request answered by a back-end, once");
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void theOperatorAddsAndRemovesABackEndOfAPool() throws Exception {
    try (TestBackend a = TestBackend.started(); TestBackend b = TestBackend.started()) {
      a.delay(Duration.ofMillis(5));
      b.delay(Duration.ofMillis(5));
      Path file = write(config(pool("web", a), ""));
      try (SluiceNode node = Nodes.startFrom(file); Load load = Load.start(node, 8, (client, i) -> "/")) {
        Nodes.await(() -> a.served() > 20, "a serves");
        HttpResponse<String> added = post(node, "/pools/web/add?backend=" + b.address());
        assertEquals(200, added.statusCode(), added.body());
        Map<String, Object> answer = (Map<String, Object>) Json.parse(added.body());
        assertEquals(true, answer.get("applied"));
        assertEquals(List.of(), answer.get("unreached"));
        List<Map<String, Object>> nodes = (List<Map<String, Object>>) answer.get("nodes");
        assertEquals(1, nodes.size(), added.body());
        assertEquals(List.of("sluice.pools.web: back-end " + b.address() + " added (limit fixed value=2)"),
            nodes.get(0).get("changes"));
        Nodes.await(() -> b.served() > 50, "the added back-end serves");

        HttpResponse<String> again = post(node, "/pools/web/add?backend=" + b.address());
        assertEquals(400, again.statusCode(), again.body());
        assertTrue(again.body().contains("back-end " + b.address() + " is already given at"), again.body());
        assertEquals(400, post(node, "/pools/nope/add?backend=127.0.0.1:1").statusCode());
        assertEquals(400, post(node, "/pools/web/add").statusCode());
        HttpResponse<String> last = post(node, "/pools/web/remove?backend=" + a.address() + "&x=1");
        assertEquals(200, last.statusCode(), last.body());
        HttpResponse<String> none = post(node, "/pools/web/remove?backend=" + b.address());
        assertEquals(400, none.statusCode(), none.body());
        assertTrue(none.body().contains("sluice.pools.web.backends: must list at least one back-end"), none.body());

        Nodes.await(() -> a.inFlight() == 0 && a.connectionsOpen() == 0, "a is left alone");
        int seenByA = a.requests().size();
        long servedByB = b.served();
        Nodes.await(() -> b.served() > servedByB + 100, "b serves everything");
        assertEquals(seenByA, a.requests().size());
        load.stop();
        assertEquals(0, load.errors(), load.firstError());

        // the next reload applies the file as written: a is back, b is gone
        assertTrue(reload(node).applied());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().size() == 1
            && s.backends().get(0).id().equals(a.address()) && s.backends().get(0).granted() > 0);
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private static String header(RawHttp.Response r, String name) {
    return r.headers().stream().filter(h -> h.name().equalsIgnoreCase(name)).map(RawHttp.Header::value).findFirst()
        .orElse("");
  }

  private static HttpResponse<String> post(SluiceNode node, String pathAndQuery) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + pathAndQuery);
    return HTTP.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
