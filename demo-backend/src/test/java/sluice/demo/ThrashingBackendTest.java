package sluice.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ThrashingBackendTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private ThrashingBackend backend;

  @BeforeEach
  void start() {
    backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(2), 0.04, 0.0024, 100)
        .start();
  }

  @AfterEach
  void stop() {
    backend.stop();
  }

  private URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + backend.port() + pathAndQuery);
  }

  private HttpResponse<String> get(String path) throws Exception {
    return client.send(HttpRequest.newBuilder(uri(path)).timeout(WAIT).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(String path) throws Exception {
    return client.send(
        HttpRequest.newBuilder(uri(path)).timeout(WAIT).POST(HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static long jsonNumber(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":([0-9.]+)").matcher(json);
    assertTrue(m.find(), name + " in " + json);
    return (long) Double.parseDouble(m.group(1));
  }

  @Test
  void servesAnyPathWithTheConfiguredBodyAndCountsOneAtATime() throws Exception {
    assertTrue(backend.port() > 0);
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = get("/anything/" + i + "?x=1");
      assertEquals(200, r.statusCode());
      assertEquals(100, r.body().length());
    }

    HttpResponse<String> stats = get("/stats");
    assertEquals(200, stats.statusCode());
    assertEquals("application/json", stats.headers().firstValue("Content-Type").orElseThrow());
    assertEquals(5, jsonNumber(stats.body(), "served"));
    assertEquals(0, jsonNumber(stats.body(), "inFlight"));
    assertEquals(1, jsonNumber(stats.body(), "maxInFlight"));
    assertEquals(20, jsonNumber(stats.body(), "bestN"));
    assertEquals(new ThrashingBackend.Stats(5, 0, 1, backend.params()), backend.stats());
  }

  @Test
  void requestsInServiceAtOnceAreCountedAndMaxCanBeReset() throws Exception {
    backend.setParams(backend.params().withS0(Duration.ofSeconds(3))); // long enough to pile up
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      pending.add(client.sendAsync(HttpRequest.newBuilder(uri("/slow/" + i)).timeout(WAIT).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    awaitStats(s -> s.inFlight() == 8);
    backend.setParams(backend.params().withS0(Duration.ZERO)); // and now all at once

    for (CompletableFuture<HttpResponse<String>> f : pending) {
      assertEquals(200, f.get().statusCode());
    }
    assertEquals(new ThrashingBackend.Stats(8, 0, 8, backend.params()), backend.stats());

    HttpResponse<String> reset = post("/admin/reset-max");
    assertEquals(200, reset.statusCode());
    assertEquals(0, jsonNumber(reset.body(), "maxInFlight"));
    assertEquals(8, jsonNumber(reset.body(), "served"));
  }

  @Test
  void adminChangesParamsMidRun() throws Exception {
    HttpResponse<String> r = post("/admin/params?s0=1.5ms&alpha=0.1&beta=0.01&body=7");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(new ThrashingParams(Duration.ofMillis(1).plusNanos(500_000), 0.1, 0.01, 7),
        backend.params());
    assertTrue(r.body().contains("\"alpha\":0.1"), r.body());
    assertEquals(7, get("/x").body().length());

    HttpResponse<String> partial = post("/admin/params?beta=0.02");
    assertEquals(200, partial.statusCode());
    assertEquals(0.1, backend.params().alpha());
    assertEquals(0.02, backend.params().beta());

    HttpResponse<String> bad = post("/admin/params?alpha=2");
    assertEquals(400, bad.statusCode());
    assertTrue(bad.body().contains("alpha must be in [0, 1]"), bad.body());
    assertEquals(405, get("/admin/params?alpha=0.5").statusCode());
    assertEquals(0.1, backend.params().alpha());

    backend.setParams(ThrashingParams.DEFAULTS.withBodyBytes(3));
    assertEquals(3, get("/y").body().length());
    assertEquals(20.0, backend.bestN(), 1e-9);
  }

  @Test
  void speaksHttp11OnRawSockets() throws Exception {
    try (Socket s = new Socket("127.0.0.1", backend.port())) {
      s.setSoTimeout((int) WAIT.toMillis());
      OutputStream out = s.getOutputStream();
      // two pipelined requests: one with a chunked body, one with a Content-Length body
      out.write(("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          + "3\r\nabc\r\n0\r\n\r\n"
          + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").getBytes(
          StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      for (int i = 0; i < 2; i++) {
        String head = readHead(in);
        assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
        assertTrue(head.contains("Content-Length: 100\r\n"), head);
        assertEquals(100, in.readNBytes(100).length);
      }
    }
    try (Socket s = new Socket("127.0.0.1", backend.port())) { // HTTP/1.0: answer, then close
      s.setSoTimeout((int) WAIT.toMillis());
      s.getOutputStream().write("GET /c HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      byte[] all = s.getInputStream().readAllBytes();
      String text = new String(all, StandardCharsets.ISO_8859_1);
      assertTrue(text.startsWith("HTTP/1.1 200 OK\r\n") && text.contains("Connection: close"),
          text);
    }
    assertEquals(3, backend.stats().served());
  }

  @Test
  void writesLargeBodiesAndAnswersExpectContinue() throws Exception {
    backend.setParams(backend.params().withBodyBytes(3_000_000)); // more than a socket buffer
    HttpResponse<byte[]> big = client.send(
        HttpRequest.newBuilder(uri("/big")).timeout(WAIT)
            .POST(HttpRequest.BodyPublishers.ofString("x".repeat(100_000))).expectContinue(true)
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, big.statusCode());
    assertEquals(3_000_000, big.body().length);
    assertEquals(1, backend.stats().served());
  }

  @Test
  void commandLineIsParsedWithClearErrors() {
    ThrashingBackend.CommandLine cl = ThrashingBackend.parseCommandLine(new String[] {
        "--port", "9001", "--s0", "5ms", "--alpha", "0.02", "--beta=0.002", "--body", "100"});
    assertEquals(new ThrashingBackend.CommandLine("127.0.0.1", 9001,
        new ThrashingParams(Duration.ofMillis(5), 0.02, 0.002, 100)), cl);
    assertEquals(ThrashingParams.DEFAULTS,
        ThrashingBackend.parseCommandLine(new String[0]).params());
    assertEquals(Duration.ofNanos(500_000), ThrashingBackend.parseDuration("s0", "500us"));
    assertEquals(Duration.ZERO, ThrashingBackend.parseDuration("s0", "0"));

    assertMessage("--s0 must be a duration", "--s0", "5");
    assertMessage("--s0 must be a duration", "--s0", "-1ms");
    assertMessage("--alpha must be in [0, 1]", "--alpha", "1.5");
    assertMessage("--beta must be a number", "--beta", "lots");
    assertMessage("--port must be in [0, 65535]", "--port", "70000");
    assertMessage("unknown option --speed", "--speed", "3");
    assertMessage("--body needs a value", "--body");
  }

  private static void assertMessage(String expected, String... args) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ThrashingBackend.parseCommandLine(args));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  private void awaitStats(java.util.function.Predicate<ThrashingBackend.Stats> condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.test(backend.stats())) {
      assertTrue(System.nanoTime() < deadline, "not reached: " + backend.stats());
      Thread.sleep(5);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed after " + head);
      }
      head.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }
}
