package sluice.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import sluice.node.settings.HttpSettings;
import sluice.node.testing.TestBackend;

/** HTTP as a client and a back-end see it through Sluice: versions, bodies, headers, bad input. */
class HttpProtocolTest {
  private static TestBackend backend;
  private static SluiceNode node;

  @BeforeAll
  static void start() {
    backend = TestBackend.started();
    var http = new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(30), Duration.ofMillis(800), 2048, 256, 1024, 50,
        1L << 40);
    var base = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(1000, Duration.ofSeconds(30), 1000), TestSettings.connections());
    var settings = new sluice.node.settings.SluiceSettings(http, base.cluster(), base.pools(), base.routes(),
        base.defaultPool(), base.reportInterval(), base.controllerWindow(), base.statusInterval(), 1, base.admin(),
        base.drainTimeout());
    node = Nodes.start(settings);
  }

  @AfterAll
  static void stop() {
    node.close();
    backend.close();
  }

  @Test
  void http10ClientGetsAnAnswerAndTheConnectionCloses() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write("GET /old?x=1 HTTP/1.0\r\nHost: test.local\r\n\r\n");
      RawHttp.Response r = http.read();
      assertEquals(200, r.status());
      assertTrue(r.version().startsWith("HTTP/1."), r.version());
      assertArrayEquals(TestBackend.echoBody("GET", "/old?x=1", new byte[0], null), r.body());
      assertTrue(http.closedByPeer(5_000), "HTTP/1.0 without keep-alive: closed after the response");
    }
  }

  @Test
  void chunkedUploadArrivesWhole() throws Exception {
    byte[] whole = new byte[300_000];
    for (int i = 0; i < whole.length; i++) {
      whole[i] = (byte) (i * 31);
    }
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write("POST /upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n");
      int chunk = 7_000;
      for (int off = 0; off < whole.length; off += chunk) {
        int len = Math.min(chunk, whole.length - off);
        http.write(Integer.toHexString(len) + "\r\n");
        byte[] part = new byte[len];
        System.arraycopy(whole, off, part, 0, len);
        http.write(part);
        http.write("\r\n");
      }
      http.write("0\r\n\r\n");
      RawHttp.Response r = http.read();
      assertEquals(200, r.status());
      assertArrayEquals(TestBackend.echoBody("POST", "/upload", whole, null), r.body());
    }
  }

  @Test
  void fiftyMegabyteUploadStreamsThrough() throws Exception {
    long size = 50L * 1024 * 1024;
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write("PUT /big-upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + size + "\r\n\r\n");
      byte[] block = new byte[64 * 1024];
      for (long sent = 0; sent < size; sent += block.length) {
        byte[] part = TestBackend.pattern(sent, block.length);
        sha.update(part);
        http.write(part);
      }
      RawHttp.Response r = http.read();
      assertEquals(200, r.status(), r.bodyText());
      String expected = "PUT /big-upload " + size + " " + HexFormat.of().formatHex(sha.digest()) + "\n";
      assertEquals(expected, r.bodyText());
    }
  }

  @Test
  void chunkedDownloadArrivesWhole() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      RawHttp.Response r = http.get("/chunked?chunks=50&size=1000");
      assertEquals(200, r.status());
      assertArrayEquals(TestBackend.pattern(0, 50_000), r.body());
      // and the connection is reusable afterwards
      assertEquals(200, http.get("/after").status());
    }
  }

  @Test
  void hopByHopHeadersAreRemovedAndForwardingHeadersAdded() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      RawHttp.Response r = http.get("/headers",
          "Connection: keep-alive, X-Private-Hop", "Keep-Alive: timeout=5", "X-Private-Hop: secret",
          "TE: trailers", "Proxy-Connection: keep-alive", "Upgrade: h2c", "X-End-To-End: kept",
          "X-Forwarded-For: 203.0.113.9", "User-Agent: raw-test");
      assertEquals(200, r.status());
      String seen = r.bodyText().toLowerCase();
      for (String hop : List.of("connection:", "keep-alive:", "x-private-hop:", "te:", "proxy-connection:",
          "upgrade:", "transfer-encoding:")) {
        assertFalse(seen.lines().anyMatch(l -> l.startsWith(hop)), hop + " must not reach the back-end:\n" + seen);
      }
      assertTrue(seen.contains("x-end-to-end: kept"), seen);
      assertTrue(seen.contains("user-agent: raw-test"), seen);
      assertTrue(seen.contains("host: test.local"), seen);
      assertTrue(seen.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"), seen);
      assertTrue(seen.contains("x-forwarded-proto: http"), seen);
      assertTrue(seen.contains("x-forwarded-host: test.local"), seen);
      assertTrue(seen.contains("via: 1.1 sluice"), seen);
      assertTrue(r.header("Via").orElse("").contains("sluice"), "Via on the response too");
    }
  }

  @Test
  void malformedRequestsGetTheRight4xxAndTheNodeKeepsServing() throws Exception {
    assertEquals(400, rawStatus("GET /a<>{} HTTP/1.1\r\nHost: a\r\n\r\n"), "illegal request target");
    assertEquals(400, rawStatus("GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"), "illegal header line");
    assertEquals(501, rawStatus("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), "unknown method");
    assertEquals(505, rawStatus("GET / HTTP/9.9\r\nHost: a\r\n\r\n"), "unknown version");
    // a line that is not a request line is refused as soon as it ends
    assertEquals(400, rawStatus("GARBAGE\r\n\r\n"));
    assertEquals(400, rawStatus("GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 without Host");
    assertEquals(400, rawStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "0\r\n\r\n"), "both Content-Length and Transfer-Encoding");
    int longHeader = rawStatus("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + "y".repeat(5_000) + "\r\n\r\n");
    assertEquals(431, longHeader, "header value over the limit");
    assertEquals(414, rawStatus("GET /" + "z".repeat(5_000) + " HTTP/1.1\r\nHost: a\r\n\r\n"), "URI over the limit");
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      assertEquals(200, http.get("/still-serving").status());
    }
  }

  private static int rawStatus(String request) throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write(request);
      return http.read().status();
    }
  }

  @Test
  void aSlowDripRequestHeadIsCutOffWith408() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      long start = System.nanoTime();
      byte[] head = "GET /slow HTTP/1.1\r\nHost: test.local\r\nX-A: b\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      int status = -1;
      try {
        for (byte b : head) {
          http.write(new byte[] {b});
          Thread.sleep(100); // the whole head would take 4.5 s; the deadline is 0.8 s
        }
      } catch (java.io.IOException closed) {
        // the node closed the connection while we were still dripping
      }
      status = http.read().status();
      long tookMillis = (System.nanoTime() - start) / 1_000_000;
      assertEquals(408, status);
      assertTrue(tookMillis < 4_000, "cut off before the head was complete (" + tookMillis + " ms)");
      assertTrue(http.closedByPeer(5_000));
    }
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      assertEquals(200, http.get("/still-serving").status());
    }
  }

  @Test
  void theRequestTargetReachesTheBackendAsTheClientWroteIt() throws Exception {
    for (String target : List.of("/a%2Fb?x=%20y&z", "/plain/path?q=1&q=2", "/double//slash", "/a/./b/../c",
        "/%E2%82%AC?name=caf%C3%A9", "/?", "/path;param?x", "//leading/double", "//")) {
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        RawHttp.Response r = http.get(target);
        assertEquals(200, r.status(), target);
        assertEquals(target, backend.lastRequest().orElseThrow().target(), "target forwarded as written");
      }
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      StringBuilder all = new StringBuilder();
      for (int i = 0; i < 6; i++) {
        all.append("GET /pipe?i=").append(i).append(" HTTP/1.1\r\nHost: test.local\r\nX-Echo-Id: p")
            .append(i).append("\r\n\r\n");
      }
      http.write(all.toString()); // six requests in one write
      for (int i = 0; i < 6; i++) {
        RawHttp.Response r = http.read();
        assertEquals(200, r.status());
        assertEquals("p" + i, r.header("X-Echo-Id").orElseThrow(), "response " + i + " in order");
      }
      assertEquals(200, http.get("/after-pipe").status());
    }
  }

  @Test
  void anHttp10ClientAskingForKeepAliveKeepsItsConnection() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      for (int i = 0; i < 3; i++) {
        http.write("GET /ten?i=" + i + " HTTP/1.0\r\nHost: test.local\r\nConnection: keep-alive\r\n\r\n");
        RawHttp.Response r = http.read();
        assertEquals(200, r.status());
        assertEquals("keep-alive", r.header("Connection").orElse("").toLowerCase(), "kept alive: " + r.headers());
        assertArrayEquals(TestBackend.echoBody("GET", "/ten?i=" + i, new byte[0], null), r.body());
      }
    }
  }

  @Test
  void aHeadRequestGetsTheHeadAndTheConnectionStaysInStep() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.send("HEAD", "/head-only", null);
      RawHttp.Response head = http.readAfterHead();
      assertEquals(200, head.status());
      assertTrue(head.header("Content-Length").isPresent(), "the length of the body it would have had");
      assertEquals(0, head.body().length);
      RawHttp.Response next = http.get("/after-head");
      assertEquals(200, next.status());
      assertArrayEquals(TestBackend.echoBody("GET", "/after-head", new byte[0], null), next.body());
    }
  }

  @Test
  void expect100ContinueIsRelayedFromTheBackend() throws Exception {
    // longer than buffer-requests-up-to (64k here), so the request goes ahead of its body and
    // the back-end answers the Expect (a body the node buffers gets its 100 from the node: SlowClientTest)
    byte[] body = TestBackend.pattern(0, 100_000);
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write("POST /expect HTTP/1.1\r\nHost: test.local\r\nExpect: 100-continue\r\nContent-Length: "
          + body.length + "\r\n\r\n");
      RawHttp.Response interim = http.read();
      assertEquals(100, interim.status(), "the back-end's 100 Continue reaches the client");
      http.write(body);
      RawHttp.Response r = http.read();
      assertEquals(200, r.status());
      assertArrayEquals(TestBackend.echoBody("POST", "/expect", body, null), r.body());
    }
    assertEquals("100-continue", backend.lastRequest().orElseThrow().header("Expect").orElse(null));
  }

  @Test
  void ambiguousFramingIsRefusedWith400AndNeverForwarded() throws Exception {
    int before = backend.requests().size();
    List<String> bad = List.of(
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 1 5\r\n\r\n123456789012345",
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n12345",
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n12345",
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /fold HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n",
        "GET /nul HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n",
        "GET /cr HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
        "POST /te HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    for (String request : bad) {
      assertEquals(400, rawStatus(request), request.replace("\r\n", "|"));
    }
    assertEquals(before, backend.requests().size(), "nothing of them reached the back-end");
  }

  @Test
  void aMalformedChunkedBodyIsTheClientsFault() throws Exception {
    int before = backend.requests().size();
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      http.write("POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
      RawHttp.Response r = http.read();
      assertEquals(400, r.status(), r.bodyText());
      assertTrue(http.closedByPeer(5_000));
    }
    assertEquals(before, backend.requests().size(), "the request never reached the back-end whole");
  }

  @Test
  void proxyCredentialsAreNotForwarded() throws Exception {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      RawHttp.Response r = http.get("/headers", "Proxy-Authorization: Basic Zm9vOmJhcg==", "Authorization: Bearer x");
      assertEquals(200, r.status());
      String seen = r.bodyText().toLowerCase();
      assertFalse(seen.contains("proxy-authorization"), seen);
      assertTrue(seen.contains("authorization: bearer x"), "the origin's credentials pass: " + seen);
    }
  }
}
