package sluice.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
  /** The HTTP pool of {@link TestSettings#onePool}. */
  private static final Map<String, String> WEB = Map.of("pool", "web", "protocol", "http");
  /** The labels of the client-connection gauges. */
  private static final Map<String, String> HTTP_CLIENTS = Map.of("protocol", "http");
  private static final Map<String, String> TCP_CLIENTS = Map.of("protocol", "tcp");
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
        Map<String, String> b = labels("backend", backend.address(), "pool", "web", "protocol", "http");
        Metrics before = scrape(node);
        assertEquals(0, before.value("sluice_backend_requests_total", with(b, "outcome", "served")));
        assertEquals(0, before.value("sluice_client_connections", HTTP_CLIENTS));

        int n = 50;
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          for (int i = 0; i < n; i++) {
            assertEquals(200, http.get("/m" + i).status());
          }
          Metrics after = scrape(node);
          assertEquals(1, after.value("sluice_client_connections", HTTP_CLIENTS), "this test's one connection");
          assertEquals(n, after.value("sluice_backend_requests_total", with(b, "outcome", "served")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "bad_gateway")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "gateway_timeout")));
          assertEquals(0, after.value("sluice_backend_requests_total", with(b, "outcome", "client_aborted")));
          assertEquals(n, after.value("sluice_backend_response_seconds_count", b));
          assertEquals(n, after.value("sluice_backend_response_seconds_bucket", with(b, "le", "+Inf")));
          assertTrue(after.value("sluice_backend_response_seconds_sum", b) > 0);
          assertEquals(n, after.value("sluice_pool_queue_wait_seconds_count", WEB));
          assertEquals(4, after.value("sluice_backend_limit", b));
          assertEquals(1, after.value("sluice_backend_up", b));
          assertEquals(0, after.value("sluice_backend_in_flight", b));
          assertEquals(0, after.value("sluice_pool_queue_length", WEB));
          double slots = after.value("sluice_backend_slots", b);
          assertTrue(slots >= 1 && slots <= 4, "slots held within the limit: " + slots);
          for (String reason : List.of("queue_full", "queue_timeout", "no_backend_up", "stopping")) {
            assertEquals(0, after.value("sluice_pool_rejected_requests_total",
                labels("pool", "web", "protocol", "http", "reason", reason)));
          }
          assertEquals(0, after.value("sluice_pool_refused_connections_total", WEB));
          assertBucketsCumulative(after, "sluice_backend_response_seconds", b);
          assertTrue(after.values().keySet().stream().noneMatch(k -> k.startsWith("sluice_backend_first_byte")),
              "no first-byte series without a TCP pool");

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
        awaitMetric(node, "sluice_client_connections", HTTP_CLIENTS, 0);
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
        Map<String, String> b = labels("backend", backend.address(), "pool", "web", "protocol", "http");
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
        assertEquals(1, busy.value("sluice_pool_queue_length", WEB));

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
            labels("pool", "web", "protocol", "http", "reason", "queue_full")));
        assertEquals(0, after.value("sluice_pool_rejected_requests_total",
            labels("pool", "web", "protocol", "http", "reason", "queue_timeout")));
        assertEquals(1, after.value("sluice_pool_refused_connections_total", WEB));
        assertEquals(2, after.value("sluice_backend_requests_total", with(b, "outcome", "served")));
        assertEquals(2, after.value("sluice_pool_queue_wait_seconds_count", WEB));
        double waitedAtLeast = (releasedAtNanos - queuedByNanos) / 1e9;
        assertTrue(after.value("sluice_pool_queue_wait_seconds_sum", WEB) >= waitedAtLeast,
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
      Map<String, String> b = labels("backend", "127.0.0.1:" + closed, "pool", "web", "protocol", "http");
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(503, http.get("/down-1").status());
        assertEquals(503, http.get("/down-2").status());
      }
      Metrics m = scrape(node);
      assertEquals(0, m.value("sluice_backend_up", b));
      assertEquals(2, m.value("sluice_pool_rejected_requests_total",
          labels("pool", "web", "protocol", "http", "reason", "no_backend_up")));
      assertEquals(0, m.value("sluice_backend_requests_total", with(b, "outcome", "served")));
      assertEquals(0, m.value("sluice_pool_queue_wait_seconds_count", WEB));
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
        Map<String, String> b = labels("backend", backend.address(), "pool", "web", "protocol", "http");
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
        assertEquals(4, m.value("sluice_client_connections", HTTP_CLIENTS));
        assertEquals(4, m.value("sluice_backend_limit", b), "the limit is the back-end's, not a sum over loops");
        for (RawHttp http : connections) {
          http.close();
        }
      }
    }
  }

  /**
   * A TCP pool: connections relayed through Sluice's TCP listener to a real echo back-end, one
   * held open while others come and go, are the TCP back-end's series: in flight while held,
   * completed once closed, each with its duration, each queue wait counted.
   */
  @Test
  void aTcpBackendShowsTheConnectionsItRelayedWithTheirDurations() throws Exception {
    int limit = 3;
    try (TcpTestBackend backend = TcpTestBackend.start(TcpTestBackend.Mode.ECHO);
        SluiceNode node = TcpRelayTest.start(TcpRelayTest.tcpPool(TestSettings.queue(100, Duration.ofSeconds(30), 100),
            limit, backend.port()))) {
      Map<String, String> b = labels("backend", "127.0.0.1:" + backend.port(), "pool", "db", "protocol", "tcp");
      Map<String, String> db = labels("pool", "db", "protocol", "tcp");
      Metrics before = scrape(node);
      assertEquals(limit, before.value("sluice_backend_limit", b));
      assertEquals(1, before.value("sluice_backend_up", b));
      assertEquals(0, before.value("sluice_backend_in_flight", b));
      assertEquals(0, before.value("sluice_backend_connections_total", with(b, "outcome", "completed")));
      assertEquals(0, before.value("sluice_backend_connection_duration_seconds_count", b));
      assertEquals(0, before.value("sluice_client_connections", TCP_CLIENTS));

      long heldFor;
      try (Socket held = TcpRelayTest.connect(node)) {
        held.getOutputStream().write('x');
        assertEquals('x', held.getInputStream().read(), "relayed: the back-end echoed");
        long relayingSince = System.nanoTime(); // the held connection's back-end connect was before here
        Metrics holding = scrape(node);
        assertEquals(1, holding.value("sluice_backend_in_flight", b), "the held connection holds a slot");
        assertEquals(1, holding.value("sluice_client_connections", TCP_CLIENTS), "the held client's connection");
        assertEquals(0, holding.value("sluice_client_connections", HTTP_CLIENTS));
        double slots = holding.value("sluice_backend_slots", b);
        assertTrue(slots >= 1 && slots <= limit, "slots held within the limit: " + slots);

        int n = 5;
        for (int i = 0; i < n; i++) {
          byte[] data = TcpRelayTest.randomBytes(10_000, i);
          assertArrayEquals(data, echo(node, data));
        }
        long closingAt = System.nanoTime(); // and both of its sides closed after here
        held.shutdownOutput();
        assertEquals(-1, held.getInputStream().read(), "the back-end's FIN, passed on");
        heldFor = closingAt - relayingSince;
      }
      int relayed = 5 + 1;
      awaitMetric(node, "sluice_backend_in_flight", b, 0); // every slot back: every connection counted
      awaitMetric(node, "sluice_client_connections", TCP_CLIENTS, 0);
      Metrics after = scrape(node);
      assertEquals(relayed, backend.accepted(), "the back-end's own count");
      assertEquals(relayed, after.value("sluice_backend_connections_total", with(b, "outcome", "completed")));
      for (String outcome : List.of("backend_failed", "idle_timeout", "client_aborted")) {
        assertEquals(0, after.value("sluice_backend_connections_total", with(b, "outcome", outcome)), outcome);
      }
      assertEquals(0, after.value("sluice_backend_connect_failures_total", b));
      assertEquals(relayed, after.value("sluice_backend_connection_duration_seconds_count", b));
      assertEquals(relayed, after.value("sluice_backend_connection_duration_seconds_bucket", with(b, "le", "+Inf")));
      assertTrue(after.value("sluice_backend_connection_duration_seconds_sum", b) >= heldFor / 1e9,
          "the held connection's lifetime is in the sum: at least " + heldFor / 1e9 + " s");
      assertBucketsCumulative(after, "sluice_backend_connection_duration_seconds", b);
      assertEquals(relayed, after.value("sluice_backend_first_byte_seconds_count", b),
          "every relayed connection got the back-end's first byte (its echo)");
      assertEquals(relayed, after.value("sluice_backend_first_byte_seconds_bucket", with(b, "le", "+Inf")));
      assertTrue(after.value("sluice_backend_first_byte_seconds_sum", b)
              <= after.value("sluice_backend_connection_duration_seconds_sum", b),
          "a first byte comes within its connection's lifetime");
      assertBucketsCumulative(after, "sluice_backend_first_byte_seconds", b);
      assertEquals(relayed, after.value("sluice_pool_queue_wait_seconds_count", db));
      assertEquals(0, after.value("sluice_pool_queue_length", db));
      assertEquals(limit, after.value("sluice_backend_limit", b));
      assertEquals(1, after.value("sluice_backend_up", b));
      for (String reason : List.of("queue_full", "queue_timeout", "no_backend_up", "stopping")) {
        assertEquals(0, after.value("sluice_pool_rejected_requests_total", with(db, "reason", reason)), reason);
      }
      assertEquals(0, after.value("sluice_pool_refused_connections_total", db));

      assertEquals("counter", after.types().get("sluice_backend_connections_total"));
      assertEquals("counter", after.types().get("sluice_backend_connect_failures_total"));
      assertEquals("histogram", after.types().get("sluice_backend_connection_duration_seconds"));
      assertEquals("histogram", after.types().get("sluice_backend_first_byte_seconds"));
      assertTrue(after.values().keySet().stream().noneMatch(k -> k.startsWith("sluice_backend_requests_total")
              || k.startsWith("sluice_backend_response_seconds")),
          "a TCP back-end has no HTTP request series, and this node no HTTP pool");
    }
  }

  /**
   * A client of a TCP pool reset at accept while the pool's queue is above its threshold is
   * counted; the client that waited meanwhile has its wait in the queue-wait histogram.
   */
  @Test
  void aTcpPoolCountsTheConnectionsItRefusedAndHowLongOneWaited() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(TcpTestBackend.Mode.ECHO);
        SluiceNode node = TcpRelayTest.start(TcpRelayTest.tcpPool(TestSettings.queue(10, Duration.ofSeconds(60), 0),
            1, backend.port()))) {
      Map<String, String> b = labels("backend", "127.0.0.1:" + backend.port(), "pool", "db", "protocol", "tcp");
      Map<String, String> db = labels("pool", "db", "protocol", "tcp");
      long queuedByNanos;
      long releasedAtNanos;
      try (Socket holder = TcpRelayTest.connect(node)) {
        holder.getOutputStream().write('h');
        assertEquals('h', holder.getInputStream().read(), "the holder is relayed"); // and the queue empty again
        try (Socket waiting = TcpRelayTest.connect(node)) {
          awaitMetric(node, "sluice_pool_queue_length", db, 1); // it waits: above 0, new clients are reset
          queuedByNanos = System.nanoTime();
          Metrics busy = scrape(node);
          assertEquals(1, busy.value("sluice_backend_in_flight", b));
          assertEquals(1, busy.value("sluice_backend_slots", b));

          assertResetWithoutAByte(node.tcpAddresses().get(0));
          assertEquals(2, scrape(node).value("sluice_client_connections", TCP_CLIENTS),
              "the relayed and the queued client; the one reset at accept is not counted");

          releasedAtNanos = System.nanoTime();
          holder.shutdownOutput();
          assertEquals(-1, holder.getInputStream().read(), "the back-end's FIN, passed on: the slot is free");
          assertEchoed(waiting, "after");
        }
      }
      awaitMetric(node, "sluice_backend_in_flight", b, 0);
      Metrics after = scrape(node);
      assertEquals(1, after.value("sluice_pool_refused_connections_total", db));
      assertEquals(2, after.value("sluice_pool_queue_wait_seconds_count", db), "the holder's and the waiter's");
      double waitedAtLeast = (releasedAtNanos - queuedByNanos) / 1e9;
      assertTrue(after.value("sluice_pool_queue_wait_seconds_sum", db) >= waitedAtLeast,
          "the second client's wait is in the sum: at least " + waitedAtLeast + " s");
      assertEquals(2, backend.accepted(), "the refused client never reached the back-end");
      assertEquals(2, after.value("sluice_backend_connections_total", with(b, "outcome", "completed")));
      for (String reason : List.of("queue_full", "queue_timeout", "no_backend_up", "stopping")) {
        assertEquals(0, after.value("sluice_pool_rejected_requests_total", with(db, "reason", reason)), reason);
      }
    }
  }

  /** Sends {@code text} and a FIN through an echo relay and reads it back to the echo's FIN. */
  private static void assertEchoed(Socket client, String text) throws IOException {
    client.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
    client.shutdownOutput();
    assertEquals(text, new String(TcpRelayTest.readAll(client.getInputStream()), StandardCharsets.US_ASCII));
  }

  /**
   * A TCP pool whose only back-end refuses connections: up 0 and its connect failures counted
   * while the client waits; once the back-end listens, the client is relayed and it is up again.
   */
  @Test
  void aTcpBackendThatRefusesConnectionsIsUpZeroWithItsConnectFailures() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = s.getLocalPort(); // nothing listens there once it is closed
    }
    try (SluiceNode node = TcpRelayTest.start(TcpRelayTest.tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100),
        2, closed)); Socket waiting = TcpRelayTest.connect(node)) {
      Map<String, String> b = labels("backend", "127.0.0.1:" + closed, "pool", "db", "protocol", "tcp");
      awaitMetric(node, "sluice_backend_up", b, 0);
      Metrics down = scrape(node);
      assertTrue(down.value("sluice_backend_connect_failures_total", b) >= 1,
          "the client's connect failed (and the retries after the backoff may have, too)");
      assertEquals(0, down.value("sluice_backend_connections_total", with(b, "outcome", "completed")));
      assertEquals(0, down.value("sluice_backend_connection_duration_seconds_count", b));
      try (TcpTestBackend again = TcpTestBackend.start(TcpTestBackend.Mode.ECHO, closed, 0)) {
        assertEchoed(waiting, "waited");
        awaitMetric(node, "sluice_backend_in_flight", b, 0);
        Metrics up = scrape(node);
        assertEquals(1, up.value("sluice_backend_up", b));
        assertEquals(1, up.value("sluice_backend_connections_total", with(b, "outcome", "completed")));
        assertEquals(1, again.accepted());
      }
    }
  }

  /** Sends {@code data} and FIN through the TCP listener, reading the echo meanwhile on another thread. */
  private byte[] echo(SluiceNode node, byte[] data) throws Exception {
    try (Socket s = TcpRelayTest.connect(node)) {
      Future<byte[]> reader = clients.submit(() -> TcpRelayTest.readAll(s.getInputStream()));
      s.getOutputStream().write(data);
      s.shutdownOutput();
      return reader.get(60, TimeUnit.SECONDS);
    }
  }

  /** A client that connects now is reset: during its connect already, or on its first read. */
  private static void assertResetWithoutAByte(InetSocketAddress address) throws IOException {
    try (Socket s = new Socket()) {
      try {
        s.connect(address, 5_000);
        s.setSoTimeout(10_000);
        s.getInputStream().read();
      } catch (SocketException e) {
        assertTrue(String.valueOf(e.getMessage()).toLowerCase().contains("reset"), "expected a reset, got " + e);
        return;
      }
      throw new AssertionError("not reset");
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
