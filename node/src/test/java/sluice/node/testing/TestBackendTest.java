package sluice.node.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TestBackendTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  private final TestBackend backend = TestBackend.started();
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @AfterEach
  void stop() {
    backend.stop();
  }

  private HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
    return client.send(request.timeout(WAIT).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void echoesEachRequestByteForByteAndRecordsIt() throws Exception {
    byte[] body = "hello, back-end".getBytes(StandardCharsets.UTF_8);
    HttpResponse<byte[]> r = send(HttpRequest.newBuilder(backend.uri("/echo?q=1"))
        .header("X-Echo-Id", "req-7")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));

    assertEquals(200, r.statusCode());
    assertArrayEquals(TestBackend.echoBody("POST", "/echo?q=1", body, "req-7"), r.body());
    assertEquals("POST /echo?q=1 15 " + TestBackend.sha256Hex(body) + "\nX-Echo-Id: req-7\n",
        new String(r.body(), StandardCharsets.UTF_8));
    assertEquals("req-7", r.headers().firstValue("X-Echo-Id").orElseThrow());
    assertEquals("text/plain", r.headers().firstValue("Content-Type").orElseThrow());
    assertEquals(String.valueOf(backend.port()),
        r.headers().firstValue("X-Backend-Port").orElseThrow());

    TestBackend.RecordedRequest recorded = backend.requests().get(0);
    assertEquals(1, recorded.seq());
    assertEquals("POST", recorded.method());
    assertEquals("/echo?q=1", recorded.target());
    assertEquals("/echo", recorded.path());
    assertArrayEquals(body, recorded.body());
    assertEquals("req-7", recorded.header("x-echo-id").orElseThrow());
    assertEquals("127.0.0.1:" + backend.port(), recorded.header("Host").orElseThrow());

    assertTrue(backend.awaitServed(1, WAIT));
    assertEquals(1, backend.maxInFlight());
    assertEquals(0, backend.inFlight());
    assertEquals(1, backend.connectionsAccepted());
    assertEquals(1, backend.connectionsOpen()); // kept alive by the client
  }

  @Test
  void countsRequestsAndConnectionsInFlightExactly() throws Exception {
    backend.holdResponses();
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      pending.add(client.sendAsync(HttpRequest.newBuilder(backend.uri("/n/" + i)).timeout(WAIT)
          .build(), HttpResponse.BodyHandlers.ofString()));
    }
    assertTrue(backend.awaitInFlight(4, WAIT));
    assertEquals(0, backend.served());
    assertEquals(4, backend.connectionsOpen());
    backend.releaseResponses();

    for (CompletableFuture<HttpResponse<String>> f : pending) {
      assertEquals(200, f.get().statusCode());
    }
    assertTrue(backend.awaitServed(4, WAIT));
    assertEquals(4, backend.maxInFlight());
    assertEquals(4, backend.maxConnectionsOpen());
    assertEquals(4, backend.connectionsAccepted());
    assertEquals(List.of(1L, 2L, 3L, 4L),
        backend.requests().stream().map(TestBackend.RecordedRequest::seq).toList());

    backend.resetMaxima();
    assertEquals(0, backend.maxInFlight());
    assertEquals(4, backend.maxConnectionsOpen());
  }

  @Test
  void delaysAnswers() throws Exception {
    backend.delay(Duration.ofMillis(200));
    long start = System.nanoTime();
    assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/slow"))).statusCode());
    assertTrue(System.nanoTime() - start >= Duration.ofMillis(200).toNanos()); // a lower bound
  }

  @Test
  void streamsBigBodiesAndListsHeaders() throws Exception {
    HttpResponse<byte[]> big = send(HttpRequest.newBuilder(backend.uri("/big?bytes=1000003")));
    assertEquals(200, big.statusCode());
    assertEquals("1000003", big.headers().firstValue("Content-Length").orElseThrow());
    assertArrayEquals(TestBackend.pattern(0, 1_000_003), big.body());

    HttpResponse<byte[]> headers = send(HttpRequest.newBuilder(backend.uri("/headers"))
        .header("X-One", "1").header("X-Two", "a b"));
    String text = new String(headers.body(), StandardCharsets.UTF_8);
    assertTrue(text.contains("X-One: 1\nX-Two: a b\n"), text);
  }

  @Test
  void chunkedInBothDirections() throws Exception {
    try (Socket s = connect()) {
      s.getOutputStream().write(("POST /chunked?chunks=3&size=5 HTTP/1.1\r\nHost: t\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2;ext=1\r\nef\r\n0\r\nX-T: 1\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      String head = readHead(in);
      assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
      assertTrue(head.contains("Transfer-Encoding: chunked\r\n"), head);
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      int chunks = 0;
      while (true) {
        int size = Integer.parseInt(readLine(in), 16);
        if (size == 0) {
          assertEquals("", readLine(in));
          break;
        }
        body.write(in.readNBytes(size));
        assertEquals("", readLine(in));
        chunks++;
      }
      assertEquals(3, chunks);
      assertArrayEquals(TestBackend.pattern(0, 15), body.toByteArray());
    }
    assertEquals("abcdef", backend.lastRequest().orElseThrow().bodyText());
  }

  @Test
  void closesAfterEachResponseWithoutSayingSo() throws Exception {
    backend.closeAfterEachResponse(true);
    try (Socket s = connect()) {
      s.getOutputStream().write("GET /a HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      String head = readHead(in);
      assertFalse(head.toLowerCase().contains("connection:"), head);
      int length = Integer.parseInt(header(head, "Content-Length"));
      assertEquals(length, in.readNBytes(length).length);
      assertEquals(-1, in.read()); // then an orderly close
    }
    assertTrue(backend.awaitConnectionsOpen(0, WAIT));
    assertEquals(1, backend.served());

    // a client that keeps its connection alive sees the next request on a new connection
    for (int i = 0; i < 3; i++) {
      assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/b" + i))).statusCode());
      assertTrue(backend.awaitConnectionsOpen(0, WAIT));
    }
    assertEquals(4, backend.connectionsAccepted());
  }

  @Test
  void diesMidResponse() throws Exception {
    backend.dieMidResponse("/die");
    try (Socket s = connect()) {
      s.getOutputStream().write("GET /die?x HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      byte[] got = readUntilClosedOrReset(s.getInputStream());
      assertTrue(got.length < 1000, "a whole response arrived"); // 1000 body bytes were promised
    }
    assertThrows(IOException.class, () -> send(HttpRequest.newBuilder(backend.uri("/die"))));
    assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/live"))).statusCode());

    assertTrue(backend.awaitInFlight(0, WAIT));
    assertEquals(2, backend.aborted());
    assertEquals(1, backend.served());
    assertEquals(3, backend.requests().size());
  }

  @Test
  void headAndTenBytesArriveBeforeAnOrderlyDeath() throws Exception {
    backend.dieMidResponse(r -> r.method().equals("GET")).dieWithReset(false);
    try (Socket s = connect()) {
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      String head = readHead(in);
      assertEquals("1000", header(head, "Content-Length"));
      assertArrayEquals(TestBackend.pattern(0, 10), in.readNBytes(1000));
    }
  }

  @Test
  void diesBeforeResponse() throws Exception {
    backend.dieBeforeResponse("/gone").dieWithReset(false);
    try (Socket s = connect()) {
      s.getOutputStream().write("GET /gone HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      assertEquals(-1, s.getInputStream().read());
    }
    backend.behaveNormally();
    assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/gone"))).statusCode());
    assertEquals(1, backend.aborted());
  }

  @Test
  void honoursConnectionCloseAndHttp10() throws Exception {
    Map<String, String> requests = new LinkedHashMap<>();
    requests.put("GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "Connection: close");
    requests.put("GET /b HTTP/1.0\r\n\r\n", "Connection: close");
    for (Map.Entry<String, String> e : requests.entrySet()) {
      try (Socket s = connect()) {
        s.getOutputStream().write(e.getKey().getBytes(StandardCharsets.ISO_8859_1));
        String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(all.startsWith("HTTP/1.1 200 OK\r\n") && all.contains(e.getValue()), all);
      }
    }
    try (Socket s = connect()) { // HTTP/1.0 asking for keep-alive gets two answers on one socket
      InputStream in = s.getInputStream();
      for (int i = 0; i < 2; i++) {
        s.getOutputStream().write("GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1));
        String head = readHead(in);
        assertEquals("keep-alive", header(head, "Connection"));
        in.readNBytes(Integer.parseInt(header(head, "Content-Length")));
      }
    }
    // the client can read the whole response a moment before the back-end counts it served
    assertTrue(backend.awaitServed(4, Duration.ofSeconds(5)), "served: " + backend.served());
    assertEquals(3, backend.connectionsAccepted());
  }

  @Test
  void stopsWithEverythingOpenAndComesBackOnTheSamePort() throws Exception {
    int port = backend.port();
    assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/1"))).statusCode());
    backend.holdResponses();
    CompletableFuture<HttpResponse<String>> held = client.sendAsync(
        HttpRequest.newBuilder(backend.uri("/held")).timeout(WAIT).build(),
        HttpResponse.BodyHandlers.ofString());
    assertTrue(backend.awaitInFlight(1, WAIT));

    backend.stop();
    assertEquals(0, backend.inFlight());
    assertEquals(0, backend.connectionsOpen());
    assertEquals(1, backend.aborted());
    assertThrows(Exception.class, held::join);
    assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());

    backend.releaseResponses().start();
    assertEquals(port, backend.port());
    assertEquals(200, send(HttpRequest.newBuilder(backend.uri("/2"))).statusCode());
    assertTrue(backend.awaitServed(2, WAIT), "served: " + backend.served());
  }

  // -- raw socket helpers

  private Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", backend.port());
    s.setSoTimeout((int) WAIT.toMillis());
    return s;
  }

  private static byte[] readUntilClosedOrReset(InputStream in) {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    try {
      int b;
      while ((b = in.read()) >= 0) {
        got.write(b);
      }
    } catch (IOException e) {
      // reset: what a dying back-end may send
    }
    return got.toByteArray();
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new IOException("closed inside a line: " + line);
      }
      line.append((char) b);
    }
    return line.toString().replace("\r", "");
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    String line;
    while (!(line = readLine(in)).isEmpty()) {
      head.append(line).append("\r\n");
    }
    return head.append("\r\n").toString();
  }

  private static String header(String head, String name) {
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    throw new AssertionError("no " + name + " in " + head);
  }
}
