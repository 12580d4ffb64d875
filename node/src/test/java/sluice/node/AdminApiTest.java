package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.node.settings.AdminSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.testing.TestBackend;

/** The operator's calls that pin, unpin, drain and undrain a back-end, on a real node with real back-ends. */
class AdminApiTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @Test
  @SuppressWarnings("unchecked")
  void aPinHoldsTheBackEndToThePinnedLimitUnderLoadAndUnpinReleasesIt() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.delay(Duration.ofMillis(5));
      var settings = TestSettings.onePool(backend.port(), 8,
          TestSettings.queue(10_000, Duration.ofSeconds(60), 10_000), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings); Load load = Load.start(node, 24, (client, i) -> "/c" + client + "/" + i)) {
        Nodes.await(() -> backend.maxInFlight() == 8, "the load fills the limit of 8: " + backend.maxInFlight());

        HttpResponse<String> pinned = post(node, backend.address(), "pin?limit=2");
        assertEquals(200, pinned.statusCode(), pinned.body());
        Map<String, Object> state = (Map<String, Object>) Json.parse(pinned.body());
        assertEquals(backend.address(), state.get("backend"));
        assertEquals(2.0, state.get("limit"), pinned.body());
        assertEquals(true, state.get("pinned"));
        assertEquals(2.0, state.get("pinnedLimit"));

        // the node applies the lowered lease; what was in flight above 2 finishes, nothing new starts
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).granted() == 2
            && s.backends().get(0).inFlight() <= 2 && s.backends().get(0).connections() <= 2);
        backend.resetMaxima();
        long served = backend.served();
        Nodes.await(() -> backend.served() >= served + 300, "the back-end serves on under the pin");
        assertTrue(backend.maxInFlight() <= 2, "pinned at 2, the back-end saw " + backend.maxInFlight());
        assertTrue(backend.maxInFlight() >= 1, "it did serve");

        Map<String, Object> status = status(node);
        Map<String, Object> b = backendInPool(status);
        assertEquals(2.0, b.get("limit"), status.toString());
        assertEquals(true, b.get("pinned"));
        assertEquals(false, b.get("drained"));
        Map<String, Object> entity = entity(status);
        assertEquals(true, entity.get("pinned"));
        assertEquals(2.0, entity.get("pinnedLimit"));
        assertEquals(2.0, entity.get("limit"));

        HttpResponse<String> unpinned = post(node, backend.address(), "unpin");
        assertEquals(200, unpinned.statusCode(), unpinned.body());
        assertEquals(false, ((Map<String, Object>) Json.parse(unpinned.body())).get("pinned"));
        // the fixed controller resumes from 2 and tells its own limit, 8
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 8);
        backend.resetMaxima();
        Nodes.await(() -> backend.maxInFlight() > 2, "unpinned, the back-end gets more than 2 again");
        assertTrue(backend.maxInFlight() <= 8, "back to the limit of 8: " + backend.maxInFlight());
        assertEquals(false, backendInPool(status(node)).get("pinned"));
        assertEquals(false, entity(status(node)).get("pinned"));

        load.stop();
        assertEquals(0, load.errors(), load.firstError());
        assertTrue(load.ok() > 0);
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void aDrainedBackEndGetsNoNewRequestsTheOtherServesAllAndUndrainReturnsIt() throws Exception {
    try (TestBackend drained = TestBackend.started(); TestBackend other = TestBackend.started()) {
      drained.delay(Duration.ofMillis(5));
      other.delay(Duration.ofMillis(5));
      var settings = TestSettings.node(TestSettings.pool("web",
          List.of(TestSettings.backend(drained.port(), 4), TestSettings.backend(other.port(), 4)),
          TestSettings.queue(10_000, Duration.ofSeconds(60), 10_000), TestSettings.connections()));
      try (SluiceNode node = Nodes.start(settings); Load load = Load.start(node, 16, (client, i) -> "/c" + client + "/" + i)) {
        Nodes.await(() -> drained.served() > 20 && other.served() > 20, "both serve");

        HttpResponse<String> answer = post(node, drained.address(), "drain");
        assertEquals(200, answer.statusCode(), answer.body());
        Map<String, Object> state = (Map<String, Object>) Json.parse(answer.body());
        assertEquals(true, state.get("drained"), answer.body());
        assertEquals(0.0, state.get("limit"));

        // the node applies the drain; what was in flight on the drained back-end finishes
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).granted() == 0
            && s.backends().get(0).inFlight() == 0);
        int received = drained.requests().size();
        long servedByOther = other.served();
        Nodes.await(() -> other.served() >= servedByOther + 400, "the other back-end serves everything");
        assertEquals(received, drained.requests().size(), "the drained back-end got no new request");
        assertEquals(0, drained.inFlight());

        Map<String, Object> status = status(node);
        List<Map<String, Object>> backends = (List<Map<String, Object>>) ((List<Map<String, Object>>)
            status.get("pools")).get(0).get("backends");
        assertEquals(drained.address(), backends.get(0).get("id"));
        assertEquals(true, backends.get(0).get("drained"), status.toString());
        assertEquals(0.0, backends.get(0).get("limit"));
        assertEquals(false, backends.get(1).get("drained"));
        assertEquals(true, entity(status).get("drained"));

        HttpResponse<String> back = post(node, drained.address(), "undrain");
        assertEquals(200, back.statusCode(), back.body());
        assertEquals(false, ((Map<String, Object>) Json.parse(back.body())).get("drained"));
        assertEquals(4.0, ((Map<String, Object>) Json.parse(back.body())).get("limit"));
        Nodes.await(() -> drained.requests().size() > received + 20, "undrained, it gets requests again");

        load.stop();
        assertEquals(0, load.errors(), load.firstError());
      }
    }
  }

  /** A pool whose only back-end is drained queues its requests as under a lapsed lease: 503 at the queue timeout. */
  @Test
  void aPoolWhoseOnlyBackEndIsDrainedQueuesUntilTheTimeoutAndServesOnceUndrained() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofMillis(500), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(200, http.get("/before").status());
        assertEquals(200, post(node, backend.address(), "drain").statusCode());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).granted() == 0);
        int received = backend.requests().size();
        RawHttp.Response waited = http.get("/while-drained");
        assertEquals(503, waited.status());
        assertTrue(waited.header("Retry-After").isPresent());
        assertEquals(1, Nodes.status(node).expired(), "it waited in the queue to its timeout");
        assertEquals(received, backend.requests().size());
        assertEquals(200, post(node, backend.address(), "undrain").statusCode());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).granted() > 0);
        assertEquals(200, http.get("/after").status());
      }
    }
  }

  @Test
  void badCallsAreRefusedWithAClearAnswer() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        HttpResponse<String> unknown = post(node, "127.0.0.1:1", "pin?limit=2");
        assertEquals(404, unknown.statusCode());
        assertTrue(unknown.body().contains("no back-end '127.0.0.1:1'"), unknown.body());
        assertEquals(404, post(node, "127.0.0.1:1", "drain").statusCode());
        for (String bad : List.of("0", "-1", "x", "1000001", "2.5", "")) {
          HttpResponse<String> r = post(node, backend.address(), "pin?limit=" + bad);
          assertEquals(400, r.statusCode(), "limit=" + bad + ": " + r.body());
          assertTrue(r.body().contains("limit must be a whole number from 1 to 1000000, was '" + bad + "'"), r.body());
        }
        HttpResponse<String> missing = post(node, backend.address(), "pin");
        assertEquals(400, missing.statusCode());
        assertTrue(missing.body().contains("limit is required"), missing.body());
        HttpResponse<String> get = HTTP.send(HttpRequest.newBuilder(uri(node, backend.address(), "drain")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode(), get.body());
        assertEquals(404, post(node, backend.address(), "explode").statusCode());
        // none of these changed anything
        PoolStatus.BackendStatus b = Nodes.status(node).backends().get(0);
        assertEquals(4, b.limit());
      }
    }
  }

  @Test
  void withATokenTheCallsNeedIt() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      SluiceSettings base = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      SluiceSettings settings = new SluiceSettings(base.http(), base.cluster(), base.pools(), base.routes(),
          base.defaultPool(), base.reportInterval(), base.controllerWindow(), base.statusInterval(),
          base.eventLoops(), new AdminSettings("127.0.0.1", 0, Optional.of("s3cret")), base.drainTimeout());
      try (SluiceNode node = Nodes.start(settings)) {
        assertEquals(401, post(node, backend.address(), "pin?limit=2").statusCode());
        assertEquals(401, post(node, backend.address(), "drain").statusCode());
        assertEquals(401, HTTP.send(HttpRequest.newBuilder(uri(node, backend.address(), "drain"))
            .POST(HttpRequest.BodyPublishers.noBody()).header("Authorization", "Bearer wrong").build(),
            HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(4, Nodes.status(node).backends().get(0).limit(), "refused calls change nothing");
        HttpResponse<String> ok = HTTP.send(HttpRequest.newBuilder(uri(node, backend.address(), "pin?limit=2"))
            .POST(HttpRequest.BodyPublishers.noBody()).header("Authorization", "Bearer s3cret").build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode(), ok.body());
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 2);
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private static URI uri(SluiceNode node, String backendId, String action) {
    return URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + "/backends/"
        + URLEncoder.encode(backendId, StandardCharsets.UTF_8) + "/" + action);
  }

  private static HttpResponse<String> post(SluiceNode node, String backendId, String action) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(uri(node, backendId, action)).POST(HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> status(SluiceNode node) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + "/status");
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return (Map<String, Object>) Json.parse(r.body());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> backendInPool(Map<String, Object> status) {
    Map<String, Object> pool = ((List<Map<String, Object>>) status.get("pools")).get(0);
    return ((List<Map<String, Object>>) pool.get("backends")).get(0);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> entity(Map<String, Object> status) {
    Map<String, Object> cluster = (Map<String, Object>) status.get("cluster");
    return ((List<Map<String, Object>>) cluster.get("backends")).get(0);
  }
}
