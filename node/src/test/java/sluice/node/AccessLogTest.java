package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sluice.node.settings.AccessLogSettings;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.LogFormat;
import sluice.node.settings.SluiceSettings;
import sluice.node.testing.TestBackend;

/** The access log of a node serving real requests from a real back-end: one line per exchange, its fields right. */
class AccessLogTest {
  /** client:port [date] pool/backend TR/Tw/Tc/Tr/Ta status bytes termination "method uri version" */
  private static final Pattern TEXT = Pattern.compile("(\\S+):(\\d+) \\[([^\\]]+)\\] (\\S+)/(\\S+) "
      + "(-?\\d+)/(-?\\d+)/(-?\\d+)/(-?\\d+)/(-?\\d+) (-?\\d+) (\\d+) (\\S+) \"(\\S+) (\\S+) (\\S+)\"");

  @TempDir
  Path dir;
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  private record TextLine(String client, int port, String pool, String backend, long tReceive, long tQueue,
      long tConnect, long tResponse, long tTotal, int status, long bytes, String termination, String method,
      String uri, String version) {}

  private static TextLine parse(String line) {
    Matcher m = TEXT.matcher(line);
    assertTrue(m.matches(), "not an access-log line: " + line);
    return new TextLine(m.group(1), Integer.parseInt(m.group(2)), m.group(4), m.group(5), Long.parseLong(m.group(6)),
        Long.parseLong(m.group(7)), Long.parseLong(m.group(8)), Long.parseLong(m.group(9)),
        Long.parseLong(m.group(10)), Integer.parseInt(m.group(11)), Long.parseLong(m.group(12)), m.group(13),
        m.group(14), m.group(15), m.group(16));
  }

  private Path file() {
    return dir.resolve("access.log");
  }

  private SluiceSettings withLog(SluiceSettings s, LogFormat format) {
    return s.withAccessLog(new AccessLogSettings(true, Optional.of(file().toString()), format, 1024));
  }

  /** Waits until the file holds {@code n} lines (the writer writes a little after the response). */
  private List<String> awaitLines(int n) throws Exception {
    Nodes.await(() -> lines().size() >= n, n + " access-log lines in " + file());
    return lines();
  }

  private List<String> lines() {
    try {
      return Files.exists(file()) ? Files.readAllLines(file()) : List.of();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private Future<RawHttp.Response> getAsync(RawHttp http, String target) {
    return clients.submit(() -> http.get(target));
  }

  @Test
  void eachRequestGetsOneLineWithItsClientBackEndStatusBytesAndRequestLine() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = withLog(TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections()), LogFormat.TEXT);
      try (SluiceNode node = Nodes.start(settings)) {
        int clientPort;
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          clientPort = http.localPort();
          assertEquals(200, http.get("/first").status());
          assertEquals(200, http.get("/second?x=1&y=2").status());
        }
        // one more, read to the end byte by byte: the line's byte count is what the client got
        long received = rawGet(node.httpPort(), "/third");
        List<String> lines = awaitLines(3);
        Thread.sleep(200); // a fourth line, if one were (wrongly) written, would be there by now
        assertEquals(3, lines().size(), String.join("\n", lines()));

        TextLine first = parse(lines.get(0));
        assertEquals("127.0.0.1", first.client());
        assertEquals(clientPort, first.port());
        assertEquals("web", first.pool());
        assertEquals(backend.address(), first.backend());
        assertEquals(200, first.status());
        assertEquals("ok", first.termination());
        assertEquals("GET", first.method());
        assertEquals("/first", first.uri());
        assertEquals("HTTP/1.1", first.version());
        for (TextLine l : lines.stream().map(AccessLogTest::parse).toList()) {
          assertTrue(l.tReceive() >= 0 && l.tQueue() >= 0 && l.tConnect() >= 0 && l.tResponse() >= 0, l.toString());
          assertTrue(l.tTotal() >= l.tResponse() && l.tTotal() >= l.tQueue(), l.toString());
        }
        assertEquals("/second?x=1&y=2", parse(lines.get(1)).uri());
        TextLine third = parse(lines.get(2));
        assertEquals("/third", third.uri());
        assertEquals(received, third.bytes());
      }
    }
  }

  /** Sends a GET with Connection: close and counts every byte until the node closes. */
  private static long rawGet(int port, String target) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      assertTrue(all.toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"), all.toString());
      return all.size();
    }
  }

  @Test
  void aRequestThatWaitedForTheOneSlotHasQueueTimeAndAFullQueueLogs503WithNoServer() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = withLog(TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(1, Duration.ofSeconds(60), 1), TestSettings.connections()), LogFormat.JSON);
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        Future<RawHttp.Response> first = getAsync(RawHttp.connect(node.httpPort()), "/first");
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        Future<RawHttp.Response> second = getAsync(RawHttp.connect(node.httpPort()), "/second");
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.accepted() == 2);
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          assertEquals(503, http.get("/third").status()); // one waits already: queue.max
        }
        List<String> refusedOnly = awaitLines(1);
        backend.releaseResponses();
        assertEquals(200, first.get(30, TimeUnit.SECONDS).status());
        assertEquals(200, second.get(30, TimeUnit.SECONDS).status());
        List<String> lines = awaitLines(3);
        assertEquals(3, lines.size(), String.join("\n", lines));

        Map<String, Object> third = json(refusedOnly.get(0));
        assertEquals("/third", third.get("uri"));
        assertEquals(503.0, third.get("status"));
        assertEquals("queue-full", third.get("termination"));
        assertNull(third.get("backend"));
        assertEquals("web", third.get("pool"));
        assertEquals(-1.0, third.get("response_us"));

        Map<String, Object> firstLine = byUri(lines, "/first");
        Map<String, Object> secondLine = byUri(lines, "/second");
        assertEquals(backend.address(), secondLine.get("backend"));
        assertEquals("ok", secondLine.get("termination"));
        double waited = (double) secondLine.get("queue_us");
        assertTrue(waited > 0, "the second waited for the first's slot: " + secondLine);
        assertTrue(waited > (double) firstLine.get("queue_us"), "it waited longer than the first: " + lines);
        assertTrue(waited <= (double) secondLine.get("total_us"), secondLine.toString());
        // the first's response was held by the back-end until after the second had queued
        assertTrue((double) firstLine.get("response_us") > 0, firstLine.toString());
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> json(String line) {
    return (Map<String, Object>) Json.parse(line);
  }

  private static Map<String, Object> byUri(List<String> lines, String uri) {
    return lines.stream().map(AccessLogTest::json).filter(m -> uri.equals(m.get("uri"))).findFirst()
        .orElseThrow(() -> new AssertionError("no line for " + uri + " in " + lines));
  }

  @Test
  void aQueueTimeoutLogs503WithNoServerAndTheTimeItWaited() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      Duration timeout = Duration.ofMillis(300);
      var settings = withLog(TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, timeout, 100), TestSettings.connections()), LogFormat.TEXT);
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        Future<RawHttp.Response> first = getAsync(RawHttp.connect(node.httpPort()), "/held");
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          assertEquals(503, http.get("/waits").status());
        }
        TextLine late = parse(awaitLines(1).get(0));
        backend.releaseResponses();
        assertEquals(200, first.get(30, TimeUnit.SECONDS).status());
        assertEquals("/waits", late.uri());
        assertEquals("web", late.pool());
        assertEquals("<NOSRV>", late.backend());
        assertEquals(503, late.status());
        assertEquals("queue-timeout", late.termination());
        assertTrue(late.tQueue() >= timeout.toMillis(), "refused only after the timeout: " + late);
        assertEquals(-1, late.tConnect());
        assertEquals(-1, late.tResponse());
        assertTrue(late.tTotal() >= late.tQueue(), late.toString());
        TextLine held = parse(awaitLines(2).get(1));
        assertEquals("/held", held.uri());
        assertEquals("ok", held.termination());
      }
    }
  }

  @Test
  void aBackEndClosingBeforeAnsweringLogs502WithTheBackEnd() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.dieBeforeResponse("/never");
      ConnectionSettings quick = new ConnectionSettings(1, Duration.ofSeconds(30), Duration.ofSeconds(2),
          Duration.ofSeconds(10), Duration.ofMillis(20), Duration.ofMillis(200), 64 * 1024);
      var settings = withLog(TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), quick), LogFormat.TEXT);
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(502, http.get("/never").status());
        TextLine failed = parse(awaitLines(1).get(0));
        assertEquals(502, failed.status());
        assertEquals(backend.address(), failed.backend());
        assertEquals("backend-failed", failed.termination());
        assertEquals(-1, failed.tResponse(), "no response head came");
        assertEquals("/never", failed.uri());
      }
    }
  }

  @Test
  void aRequestNoRouteMatchesLogs404WithNoPool() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      SluiceSettings base = TestSettings.onePool(backend.port(), 1, TestSettings.queue(100, Duration.ofSeconds(30), 100),
          TestSettings.connections());
      SluiceSettings routed = new SluiceSettings(base.http(), base.cluster(), base.pools(),
          List.of(new sluice.node.settings.RouteSettings(Optional.empty(), "/api", "web")), Optional.empty(),
          base.reportInterval(), base.controllerWindow(), base.statusInterval(), base.eventLoops(), base.admin(),
          base.drainTimeout());
      try (SluiceNode node = Nodes.start(withLog(routed, LogFormat.TEXT));
          RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(404, http.get("/elsewhere").status());
        assertEquals(200, http.get("/api/x").status());
        List<String> lines = awaitLines(2);
        TextLine none = parse(lines.get(0));
        assertEquals("-", none.pool());
        assertEquals("<NOSRV>", none.backend());
        assertEquals(404, none.status());
        assertEquals("no-route", none.termination());
        assertEquals(-1, none.tQueue());
        assertEquals("ok", parse(lines.get(1)).termination());
      }
    }
  }

  @Test
  void withTheAccessLogOffNothingIsWritten() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 2, TestSettings.queue(100, Duration.ofSeconds(30), 100),
          TestSettings.connections()).withAccessLog(
              new AccessLogSettings(false, Optional.of(file().toString()), LogFormat.TEXT, 1024));
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        for (int i = 0; i < 5; i++) {
          assertEquals(200, http.get("/off/" + i).status());
        }
      }
      // the node has stopped (its log would be flushed and closed by now): no file was even opened
      assertFalse(Files.exists(file()), "access log written while off");
    }
  }

  @Test
  void aClientThatLeavesBeforeItsResponseIsLoggedAsAborted() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = withLog(TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections()), LogFormat.TEXT);
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        RawHttp leaving = RawHttp.connect(node.httpPort());
        leaving.send("GET", "/gone", null);
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        leaving.close();
        TextLine gone = parse(awaitLines(1).get(0));
        backend.releaseResponses();
        assertEquals("client-aborted", gone.termination());
        assertEquals(-1, gone.status());
        assertEquals(backend.address(), gone.backend());
        assertEquals(-1, gone.tResponse());
      }
    }
  }
}
