package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.node.settings.AdminSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.testing.TcpTestBackend;
import sluice.node.testing.TestBackend;

/** The operator's /metrics, scraped over HTTP from a node serving a real back-end. */
class MetricsTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  @Test
  void countsEveryRequestServedWithItsResponseTimeAndQueueWait() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        Map<String, String> b = labels("backend", backend.address(), "pool", "web");
        Metrics before = scrape(node);
        assertEquals(0, before.value("sluice_backend_requests_total", with(b, "outcome", "served")));
        assertEquals(0, before.value("sluice_client_connections", Map.of()));

        int n = 50;
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          for (int i = 0; i < n; i++) {
            assertEquals(200, http.get("/m" + i).status());
          }
          Metrics after = scrape(node);
          assertEquals(1, after.value("sluice_client_connections", Map.of()), "this test's one connection");
          assertEquals(n, after.value("sluice_backend_requests_total", with(b, "outcome", "served")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "bad_gateway")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "gateway_timeout")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "client_aborted")));
          assertEquals(n, after.value("sluice_backend_response_seconds_count", b));
          assertEquals(n, after.value("sluice_backend_response_seconds_bucket", with(b, "le", "+Inf")));
          assertTrue(after.value("sluice_backend_response_seconds_sum", b) > 0);
          assertEquals(n, after.value("sluice_pool_queue_wait_seconds_count", Map.of("pool", "web")));
          assertEquals(4, after.value("sluice_backend_limit", b));
          assertEquals(1, after.value("sluice_backend_up", b));
          assertEquals(0, after.value("sluice_backend_in_flight", b));
          assertEquals(0, after.value("sluice_pool_queue_length", Map.of("pool", "web")));
          double slots = after.value("sluice_backend_slots", b);
          assertTrue(slots >= 1 && slots <= 4, "slots held within the limit: " + slots);
          for (String reason : List.of("queue_full", "queue_timeout", "no_backend_up", "stopping")) {
            assertEquals(0, after.value("sluice_pool_rejected_requests_total",
                labels("pool", "web", "reason", reason)));
          }
          assertEquals(0, after.value("sluice_pool_refused_connections_total", Map.of("pool", "web")));
          assertBucketsCumulative(after, "sluice_backend_response_seconds", b);

          // in the 0.0.4 text format a counter's TYPE line carries the _total name
          assertEquals("counter", after.types().get("sluice_backend_requests_total"));
          assertEquals("counter", after.types().get("sluice_pool_rejected_requests_total"));
          assertEquals("counter", after.types().get("sluice_pool_refused_connections_total"));
          assertEquals("histogram", after.types().get("sluice_backend_response_seconds"));
          assertEquals("histogram", after.types().get("sluice_pool_queue_wait_seconds"));
          for (String gauge : List.of("sluice_backend_limit", "sluice_backend_slots", "sluice_backend_in_flight",
              "sluice_backend_up", "sluice_pool_queue_length", "sluice_client_connections")) {
            assertEquals("gauge", after.types().get(gauge), gauge);
          }
        }
        awaitMetric(node, "sluice_client_connections", Map.of(), 0);
      }
    }
  }

  @Test
  void a503ForAFullQueueAndARefusedConnectionAreCountedByReason() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      // limit 1, one may wait, and new connections are refused while anything waits
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(1, Duration.ofSeconds(60), 0), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        Map<String, String> b = labels("backend", backend.address(), "pool", "web");
        RawHttp first = RawHttp.connect(node.httpPort());
        RawHttp second = RawHttp.connect(node.httpPort());
        RawHttp third = RawHttp.connect(node.httpPort());
        backend.holdResponses();
        Future<RawHttp.Response> held = clients.submit(() -> first.get("/held"));
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        Future<RawHttp.Response> waiting = clients.submit(() -> second.get("/waits"));
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.queueLength() == 1);
        long queuedByNanos = System.nanoTime(); // the second waits from before here

        Metrics busy = scrape(node);
        assertEquals(1, busy.value("sluice_backend_in_flight", b));
        assertEquals(1, busy.value("sluice_pool_queue_length", Map.of("pool", "web")));

        assertEquals(503, third.get("/over").status());
        assertRefused(node.httpPort());

        long releasedAtNanos = System.nanoTime(); // until after here
        backend.releaseResponses();
        assertEquals(200, held.get(30, TimeUnit.SECONDS).status());
        assertEquals(200, waiting.get(30, TimeUnit.SECONDS).status());
        first.close();
        second.close();
        third.close();

        Metrics after = scrape(node);
        assertEquals(1, after.value("sluice_pool_rejected_requests_total",
            labels("pool", "web", "reason", "queue_full")));
        assertEquals(0, after.value("sluice_pool_rejected_requests_total",
            labels("pool", "web", "reason", "queue_timeout")));
        assertEquals(1, after.value("sluice_pool_refused_connections_total", Map.of("pool", "web")));
        assertEquals(2, after.value("sluice_backend_requests_total", with(b, "outcome", "served")));
        assertEquals(2, after.value("sluice_pool_queue_wait_seconds_count", Map.of("pool", "web")));
        double waitedAtLeast = (releasedAtNanos - queuedByNanos) / 1e9;
        assertTrue(after.value("sluice_pool_queue_wait_seconds_sum", Map.of("pool", "web")) >= waitedAtLeast,
            "the second request's wait is in the sum: at least " + waitedAtLeast + " s");
      }
    }
  }

  @Test
  void aBackendKnownDownIsUpZeroAndIts503sAreCounted() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = s.getLocalPort(); // nothing listens there once it is closed
    }
    var settings = TestSettings.onePool(closed, 4, TestSettings.queue(100, Duration.ofSeconds(30), 100),
        TestSettings.connections());
    try (SluiceNode node = SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"))) {
      // the pre-opened connection is refused: the back-end is known down
      Nodes.awaitStatus(node, Duration.ofSeconds(30),
          s -> s.backends().get(0).leaseValid() && !s.backends().get(0).up());
      Map<String, String> b = labels("backend", "127.0.0.1:" + closed, "pool", "web");
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(503, http.get("/down-1").status());
        assertEquals(503, http.get("/down-2").status());
      }
      Metrics m = scrape(node);
      assertEquals(0, m.value("sluice_backend_up", b));
      assertEquals(2, m.value("sluice_pool_rejected_requests_total", labels("pool", "web", "reason", "no_backend_up")));
      assertEquals(0, m.value("sluice_backend_requests_total", with(b, "outcome", "served")));
      assertEquals(0, m.value("sluice_pool_queue_wait_seconds_count", Map.of("pool", "web")));
    }
  }

  @Test
  void withATokenMetricsNeedIt() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      SluiceSettings base = TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      SluiceSettings settings = new SluiceSettings(base.http(), base.cluster(), base.pools(), base.routes(),
          base.defaultPool(), base.reportInterval(), base.controllerWindow(), base.statusInterval(),
          base.eventLoops(), new AdminSettings("127.0.0.1", 0, Optional.of("s3cret")), base.drainTimeout());
      try (SluiceNode node = Nodes.start(settings)) {
        URI uri = URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + "/metrics");
        assertEquals(401, HTTP.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
            .statusCode());
        HttpResponse<String> ok = HTTP.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer s3cret")
            .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode());
        assertTrue(ok.body().contains("sluice_backend_limit{"), ok.body());
      }
    }
  }

  @Test
  void twoEventLoopsAreSummed() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.withEventLoops(TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections()), 2);
      try (SluiceNode node = Nodes.start(settings)) {
        Map<String, String> b = labels("backend", backend.address(), "pool", "web");
        int perConnection = 10;
        List<RawHttp> connections = new ArrayList<>();
        for (int c = 0; c < 4; c++) { // connections are spread over the loops
          RawHttp http = RawHttp.connect(node.httpPort());
          connections.add(http);
          for (int i = 0; i < perConnection; i++) {
            assertEquals(200, http.get("/c" + c + "/" + i).status());
          }
        }
        Metrics m = scrape(node);
        assertEquals(4 * perConnection, m.value("sluice_backend_requests_total", with(b, "outcome", "served")));
        assertEquals(4 * perConnection, m.value("sluice_backend_response_seconds_count", b));
        assertEquals(4, m.value("sluice_client_connections", Map.of()));
        assertEquals(4, m.value("sluice_backend_limit", b), "the limit is the back-end's, not a sum over loops");
        for (RawHttp http : connections) {
          http.close();
        }
      }
    }
  }

  /** The listener takes the connection and closes it at once, before any request. */
  @Test
  void aNodeWithATcpPoolShowsItsQueueAndScrapesWithoutError() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(TcpTestBackend.Mode.ECHO);
        SluiceNode node = TcpRelayTest.start(TcpRelayTest.tcpPool(TestSettings.queue(100, Duration.ofSeconds(30), 100),
            2, backend.port()))) {
      Metrics m = scrape(node);
      assertEquals(0, m.value("sluice_pool_queue_length", labels("pool", "db")));
      assertTrue(m.values().keySet().stream().noneMatch(k -> k.contains("pool=\"db\"") && k.startsWith("sluice_backend_")),
          "a TCP pool's back-ends are not in /metrics yet (the README says so)");
    }
  }

  private static void assertRefused(int port) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setSoTimeout(10_000);
      InputStream in = socket.getInputStream();
      assertEquals(-1, in.read(), "a refused connection is closed without a byte");
    }
  }

  private static void assertBucketsCumulative(Metrics m, String histogram, Map<String, String> labels) {
    double previous = 0;
    for (Map.Entry<String, Double> e : m.values().entrySet()) {
      if (e.getKey().startsWith(histogram + "_bucket{")) {
        assertTrue(e.getValue() >= previous, "buckets never fall: " + e.getKey());
        previous = e.getValue();
      }
    }
    assertEquals(m.value(histogram + "_count", labels), previous, "the last bucket (+Inf) is the count");
  }

  private static void awaitMetric(SluiceNode node, String name, Map<String, String> labels, double expected)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    double last;
    while ((last = scrape(node).value(name, labels)) != expected) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(name + " never became " + expected + "; last " + last);
      }
      Thread.sleep(20);
    }
  }

  static Metrics scrape(SluiceNode node) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + "/metrics");
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(uri).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), response.body());
    String type = response.headers().firstValue("Content-Type").orElse("");
    assertTrue(type.startsWith("text/plain") && type.contains("version=0.0.4"), type);
    return Metrics.parse(response.body());
  }

  private static Map<String, String> labels(String... pairs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put(pairs[i], pairs[i + 1]);
    }
    return m;
  }

  private static Map<String, String> with(Map<String, String> labels, String name, String value) {
    Map<String, String> m = new LinkedHashMap<>(labels);
    m.put(name, value);
    return m;
  }

  /**
   * Prometheus' text format, read line by line: every sample by its name and sorted labels
   * (e.g. {@code a{pool="web",reason="x"}}), and every family's TYPE.
   */
  record Metrics(Map<String, Double> values, Map<String, String> types) {
    static Metrics parse(String text) {
      Map<String, Double> values = new LinkedHashMap<>();
      Map<String, String> types = new LinkedHashMap<>();
      for (String line : text.split("\n")) {
        if (line.startsWith("# TYPE ")) {
          String[] parts = line.split(" ");
          types.put(parts[2], parts[3]);
        } else if (!line.isEmpty() && !line.startsWith("#")) {
          int space = line.lastIndexOf(' ');
          String series = line.substring(0, space);
          String name = series.contains("{") ? series.substring(0, series.indexOf('{')) : series;
          Map<String, String> labels = new java.util.TreeMap<>();
          if (series.contains("{")) {
            String inner = series.substring(series.indexOf('{') + 1, series.lastIndexOf('}'));
            for (String pair : inner.split(",(?=[a-zA-Z_]+=\")")) {
              if (!pair.isEmpty()) {
                int eq = pair.indexOf('=');
                labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
              }
            }
          }
          if (values.put(key(name, labels), Double.parseDouble(line.substring(space + 1))) != null) {
            throw new AssertionError("a series twice: " + series);
          }
        }
      }
      return new Metrics(values, types);
    }

    private static String key(String name, Map<String, String> labels) {
      StringBuilder out = new StringBuilder(name).append('{');
      new java.util.TreeMap<>(labels).forEach((k, v) -> out.append(k).append("=\"")
          .append(k.equals("le") && !v.equals("+Inf") ? Double.toString(Double.parseDouble(v)) : v).append("\","));
      return out.append('}').toString();
    }

    double value(String name, Map<String, String> labels) {
      Double v = values.get(key(name, labels));
      if (v == null) {
        throw new AssertionError("no series " + key(name, labels) + " in " + values.keySet());
      }
      return v;
    }
  }
}
