package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.SluiceSettings;

/**
 * Fuzzing the client side: a seeded mutator turns valid requests (GET, HEAD, POST with a
 * length, chunked POST, pipelined pairs, HTTP/1.0, absolute-form, OPTIONS *) into thousands
 * of variants (byte flips, NUL, bare CR or LF, spaces and tabs, duplicate or conflicting
 * Content-Length and Transfer-Encoding, mangled field names, versions, methods and chunk
 * sizes, truncation, Connection naming framing fields), each sent on its own connection to a
 * real node. It checks that the node answers or closes every connection within a bound and
 * still serves a normal request, and that a recording back-end of our own (a raw socket
 * server that parses what it receives strictly) saw nothing a server could read two ways.
 *
 * <p>The seed is printed and given with every failure; {@code -Dsluice.fuzz.seed=N} replays a
 * run, {@code -Dsluice.fuzz.variants=N} sets how many variants (default 3000).
 */
class FuzzTest {
  private static final long SEED = Long.getLong("sluice.fuzz.seed", 20261202L);
  private static final int VARIANTS = Integer.getInteger("sluice.fuzz.variants", 3000);
  private static final int CLIENTS = 48;
  /**
   * How long a connection may go without an answer or a close. Every way a request can stall
   * ends sooner: the head deadline, the response timeout, the client idle timeout below.
   */
  private static final Duration ANSWER_BOUND = Duration.ofSeconds(15);
  private static final String EMBEDDED = "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n";

  // ---- the test -----------------------------------------------------------------------

  @Test
  void mutatedRequestsNeverHangTheNodeAndNothingAmbiguousReachesTheBackend() throws Exception {
    System.out.println("FuzzTest: seed " + SEED + ", " + VARIANTS + " variants (replay with -Dsluice.fuzz.seed="
        + SEED + ")");
    try (Recorder backend = new Recorder()) {
      HttpSettings http = new HttpSettings("127.0.0.1", 0, Duration.ofMillis(400), Duration.ofMillis(400), 8192,
          256, 8192, 100, 1L << 20);
      ConnectionSettings connections = new ConnectionSettings(1, Duration.ofSeconds(30), Duration.ofSeconds(1),
          Duration.ofMillis(600), Duration.ofMillis(50), Duration.ofMillis(200), 64 * 1024);
      SluiceSettings base = TestSettings.onePool(backend.port(), 16,
          TestSettings.queue(10_000, Duration.ofSeconds(5), 10_000), connections);
      SluiceSettings settings = new SluiceSettings(http, base.cluster(), base.pools(), base.routes(),
          base.defaultPool(), base.reportInterval(), base.controllerWindow(), base.statusInterval(),
          base.eventLoops(), base.admin(), base.drainTimeout());
      ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
      try (SluiceNode node = Nodes.start(settings)) {
        Random master = new Random(SEED);
        List<Future<Outcome>> outcomes = new ArrayList<>();
        for (int i = 0; i < VARIANTS; i++) {
          long variantSeed = master.nextLong();
          int index = i;
          outcomes.add(clients.submit(() -> send(node.httpPort(), index, variantSeed)));
        }
        List<String> problems = new ArrayList<>();
        Map<String, Integer> statuses = new TreeMap<>();
        int done = 0;
        for (Future<Outcome> f : outcomes) {
          Outcome o = f.get(ANSWER_BOUND.toSeconds() * 4, TimeUnit.SECONDS);
          if (o.problem != null) {
            problems.add(o.problem);
          }
          o.statuses.forEach(s -> statuses.merge(s, 1, Integer::sum));
          if (++done % 500 == 0) {
            assertNormalRequestServed(node, "after " + done + " variants");
          }
        }
        assertNormalRequestServed(node, "after all variants");
        System.out.println("FuzzTest: answers by status " + statuses + "; the back-end received "
            + backend.received.get() + " requests");
        assertTrue(problems.isEmpty(), () -> "seed " + SEED + ": " + problems.size() + " connections went wrong, "
            + "first ones:\n" + String.join("\n", problems.subList(0, Math.min(10, problems.size()))));
        assertTrue(backend.violations.isEmpty(), () -> "seed " + SEED + ": the back-end received "
            + backend.violations.size() + " ambiguous requests, first ones:\n"
            + String.join("\n", backend.violations.stream().limit(10).toList()));
        assertTrue(backend.received.get() > VARIANTS / 20, "some variants are valid and must reach the back-end");
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.inProgress() == 0);
        assertEquals(status.accepted(), status.ended(), "seed " + SEED + ": every accepted request counted once: "
            + status);
      } finally {
        clients.shutdownNow();
      }
    }
  }

  private static void assertNormalRequestServed(SluiceNode node, String when) throws IOException {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      RawHttp.Response r = http.get("/normal");
      assertEquals(200, r.status(), () -> "seed " + SEED + ": a normal request " + when + " got " + r.status()
          + ": " + r.bodyText());
    }
  }

  /** What one connection saw. */
  private record Outcome(List<String> statuses, String problem) {}

  /** Sends variant {@code index}, reads until the node closes, and judges what came back. */
  private static Outcome send(int port, int index, long variantSeed) {
    Random rng = new Random(variantSeed);
    byte[] request = Mutator.variant(rng);
    List<String> statuses = new ArrayList<>();
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout((int) ANSWER_BOUND.toMillis());
      OutputStream out = socket.getOutputStream();
      // in one write or in two, to cross read boundaries
      int split = rng.nextInt(4) == 0 ? rng.nextInt(request.length + 1) : request.length;
      try {
        out.write(request, 0, split);
        out.flush();
        if (split < request.length) {
          Thread.sleep(rng.nextInt(20));
          out.write(request, split, request.length - split);
          out.flush();
        }
      } catch (IOException closedEarly) {
        // the node may answer and close before it has read all: what it sent is still read
      }
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buf = new byte[8192];
      long deadline = System.nanoTime() + ANSWER_BOUND.toNanos();
      try {
        int n;
        while ((n = in.read(buf)) != -1) {
          answer.write(buf, 0, n);
          if (System.nanoTime() > deadline) {
            return new Outcome(statuses, describe(index, variantSeed, request, "kept open past "
                + ANSWER_BOUND.toSeconds() + " s"));
          }
        }
      } catch (SocketTimeoutException hang) {
        return new Outcome(statuses, describe(index, variantSeed, request, "no answer and no close within "
            + ANSWER_BOUND.toSeconds() + " s; got so far: " + escape(answer.toByteArray(), 200)));
      } catch (IOException reset) {
        // a reset after the answer (the node closed with our bytes unread) ends it too
      }
      boolean head = request.length > 5 && new String(request, 0, 5, StandardCharsets.ISO_8859_1).equals("HEAD ");
      String problem = judgeAnswer(answer.toByteArray(), head, statuses);
      return new Outcome(statuses, problem == null ? null : describe(index, variantSeed, request, problem));
    } catch (IOException | InterruptedException e) {
      return new Outcome(statuses, describe(index, variantSeed, request, "client failed: " + e));
    }
  }

  /** The answer must be a series of well-formed responses from us, never a 500. */
  private static String judgeAnswer(byte[] answer, boolean firstIsHead, List<String> statuses) {
    String text = new String(answer, StandardCharsets.ISO_8859_1);
    int at = 0;
    while (at < text.length()) {
      if (!text.startsWith("HTTP/1.", at)) {
        return "answer is not a response at byte " + at + ": " + escape(answer, 200);
      }
      int headEnd = text.indexOf("\r\n\r\n", at);
      if (headEnd < 0) {
        return "answer with a cut-off head: " + escape(answer, 200);
      }
      String head = text.substring(at, headEnd);
      String status = head.substring(9, Math.min(12, head.length()));
      statuses.add(status);
      if (status.equals("500")) {
        return "500 internal error: " + escape(answer, 300);
      }
      int length = 0;
      for (String line : head.split("\r\n")) {
        if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
          length = Integer.parseInt(line.substring(15).trim());
        }
      }
      // a response to HEAD has no body, but an error about a malformed HEAD request may have one
      boolean headAnswer = firstIsHead && statuses.size() == 1
          && (headEnd + 4 == text.length() || text.startsWith("HTTP/1.", headEnd + 4));
      at = headEnd + 4 + (status.startsWith("1") || headAnswer ? 0 : length);
    }
    return null;
  }

  private static String describe(int index, long variantSeed, byte[] request, String what) {
    return "variant " + index + " (seed " + SEED + ", variant seed " + variantSeed + "): " + what + "\n    sent: "
        + escape(request, 400);
  }

  static String escape(byte[] bytes, int max) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(max, bytes.length); i++) {
      int c = bytes[i] & 0xff;
      if (c == '\r') {
        b.append("\\r");
      } else if (c == '\n') {
        b.append("\\n");
      } else if (c < 0x20 || c >= 0x7f) {
        b.append(String.format("\\x%02x", c));
      } else {
        b.append((char) c);
      }
    }
    if (bytes.length > max) {
      b.append("... (").append(bytes.length).append(" bytes)");
    }
    return b.toString();
  }

  // ---- the mutator --------------------------------------------------------------------

  /** Valid requests and the ways to break them. Deterministic for a given Random. */
  static final class Mutator {
    private Mutator() {}

    private static final String[] HOSTS = {"test.local", "example.com:8080", "a.b.c", "127.0.0.1"};
    private static final String[] EXTRA = {"User-Agent: fuzz/1.0", "Accept: */*", "Accept-Encoding: gzip, br",
        "Cookie: a=b; c=d", "X-Trace: 0123456789abcdef", "Cache-Control: no-cache", "Accept-Language: en;q=0.8",
        "Content-Type: application/octet-stream", "If-None-Match: \"xyz\"", "X-Empty:", "Connection: keep-alive"};

    static byte[] variant(Random rng) {
      String request = seed(rng);
      int mutations = 1 + rng.nextInt(3);
      for (int i = 0; i < mutations; i++) {
        request = mutate(request, rng);
      }
      return request.getBytes(StandardCharsets.ISO_8859_1);
    }

    static String seed(Random rng) {
      return switch (rng.nextInt(9)) {
        case 0, 1 -> get(rng, "GET");
        case 2 -> get(rng, "HEAD");
        case 3 -> post(rng);
        case 4 -> chunked(rng);
        case 5 -> get(rng, "GET") + (rng.nextBoolean() ? post(rng) : get(rng, "GET"));
        case 6 -> (rng.nextBoolean() ? post(rng) : chunked(rng)) + get(rng, "GET");
        case 7 -> "GET /old HTTP/1.0\r\nHost: test.local\r\n" + (rng.nextBoolean() ? "Connection: keep-alive\r\n" : "")
            + "\r\n";
        default -> rng.nextBoolean() ? "OPTIONS * HTTP/1.1\r\nHost: test.local\r\n\r\n"
            : "GET http://test.local/abs?x=1 HTTP/1.1\r\nHost: test.local\r\n\r\n";
      };
    }

    private static String fields(Random rng) {
      StringBuilder b = new StringBuilder("Host: " + HOSTS[rng.nextInt(HOSTS.length)] + "\r\n");
      int n = rng.nextInt(4);
      for (int i = 0; i < n; i++) {
        b.append(EXTRA[rng.nextInt(EXTRA.length)]).append("\r\n");
      }
      return b.toString();
    }

    private static String path(Random rng) {
      return "/f/" + Integer.toString(rng.nextInt(1 << 20), 36) + (rng.nextBoolean() ? "?q=" + rng.nextInt(100) : "");
    }

    private static String get(Random rng, String method) {
      return method + " " + path(rng) + " HTTP/1.1\r\n" + fields(rng) + "\r\n";
    }

    private static String body(Random rng) {
      return rng.nextBoolean() ? EMBEDDED : "hello=" + "x".repeat(rng.nextInt(40));
    }

    private static String post(Random rng) {
      String body = body(rng);
      return "POST " + path(rng) + " HTTP/1.1\r\n" + fields(rng) + "Content-Length: " + body.length() + "\r\n\r\n"
          + body;
    }

    private static String chunked(Random rng) {
      StringBuilder b = new StringBuilder("POST " + path(rng) + " HTTP/1.1\r\n" + fields(rng)
          + "Transfer-Encoding: chunked\r\n\r\n");
      int chunks = 1 + rng.nextInt(3);
      for (int i = 0; i < chunks; i++) {
        String data = i == 0 && rng.nextBoolean() ? EMBEDDED : "chunk" + i;
        b.append(Integer.toHexString(data.length())).append(rng.nextInt(5) == 0 ? ";ext=1" : "").append("\r\n")
            .append(data).append("\r\n");
      }
      b.append("0\r\n");
      if (rng.nextInt(4) == 0) {
        b.append("X-Trailer: t\r\n");
      }
      return b.append("\r\n").toString();
    }

    private static String mutate(String r, Random rng) {
      if (r.isEmpty()) {
        return r;
      }
      return switch (rng.nextInt(20)) {
        case 0 -> replaceAt(r, rng.nextInt(r.length()), String.valueOf((char) rng.nextInt(256)));
        case 1 -> {
          int at = rng.nextInt(r.length());
          yield replaceAt(r, at, String.valueOf((char) (r.charAt(at) ^ (1 << rng.nextInt(8)))));
        }
        case 2 -> insertAt(r, rng.nextInt(r.length() + 1), "\0");
        case 3 -> rng.nextBoolean() ? insertAt(r, rng.nextInt(r.length() + 1), "\r") : replaceOne(r, "\r\n", "\r", rng);
        case 4 -> rng.nextBoolean() ? insertAt(r, rng.nextInt(r.length() + 1), "\n") : replaceOne(r, "\r\n", "\n", rng);
        case 5 -> insertAt(r, rng.nextInt(r.length() + 1), rng.nextBoolean() ? " " : "\t");
        case 6 -> whitespaceAtLine(r, rng);
        case 7 -> addField(r, rng, pick(rng, "Content-Length: 5", "Content-Length: 0", "Content-Length: 1000",
            "Content-Length: " + contentLength(r)));
        case 8 -> addField(r, rng, pick(rng, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked, identity",
            "Transfer-Encoding: Chunked", "Transfer-Encoding: identity", "Transfer-Encoding: xchunked",
            "Transfer-Encoding:  chunked", "Transfer-Encoding: chunked\t", "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: \"chunked\""));
        case 9 -> mangleName(r, rng);
        case 10 -> replaceOne(r, "HTTP/1.1", pick(rng, "HTTP/1.0", "HTTP/2.0", "HTTP/1.10", "http/1.1", "HTTP/1.1 ",
            "HTTP/0.9", "HTTP/1", "HTTP/1.2", "HTTP/11", "HTTP/1.1\0", " HTTP/1.1", "HTTP /1.1"), rng);
        case 11 -> mangleMethod(r, rng);
        case 12 -> r.substring(0, rng.nextInt(r.length()));
        case 13 -> mangleChunkSize(r, rng);
        case 14 -> addField(r, rng, pick(rng, "Connection: content-length", "Connection: host",
            "Connection: transfer-encoding", "Connection: close, Content-Length", "Connection: keep-alive, host",
            "Keep-Alive: timeout=5", "Upgrade: h2c", "TE: trailers", "Proxy-Connection: keep-alive"));
        case 15 -> addField(r, rng, pick(rng, "Host: other.example", "Host:", "Host: a b", "Host: a\0b",
            "Expect: 100-continue", "Expect: nothing"));
        case 16 -> replaceOne(r, "Content-Length: ", pick(rng, "Content-Length: +", "Content-Length: -",
            "Content-Length:  ", "Content-Length: 0", "Content-Length: 5 ", "Content-Length: 1,",
            "Content-Length: 99999999999999999999", "Content-Length: 0x"), rng);
        case 17 -> deleteLine(r, rng);
        case 18 -> duplicateLine(r, rng);
        default -> replaceOne(r, "Host", pick(rng, "host", "HOST", "Hos t", "Host ", " Host", "Ho\0st"), rng);
      };
    }

    @SafeVarargs
    private static <T> T pick(Random rng, T... options) {
      return options[rng.nextInt(options.length)];
    }

    private static int contentLength(String r) {
      int end = r.indexOf("\r\n\r\n");
      return end < 0 ? 0 : Math.max(0, r.length() - end - 4);
    }

    private static String replaceAt(String r, int at, String with) {
      return r.substring(0, at) + with + r.substring(at + 1);
    }

    private static String insertAt(String r, int at, String what) {
      return r.substring(0, at) + what + r.substring(at);
    }

    /** Replaces one occurrence of {@code what}, picked at random. */
    private static String replaceOne(String r, String what, String with, Random rng) {
      List<Integer> at = occurrences(r, what);
      if (at.isEmpty()) {
        return r;
      }
      int i = at.get(rng.nextInt(at.size()));
      return r.substring(0, i) + with + r.substring(i + what.length());
    }

    private static List<Integer> occurrences(String r, String what) {
      List<Integer> at = new ArrayList<>();
      for (int i = r.indexOf(what); i >= 0; i = r.indexOf(what, i + 1)) {
        at.add(i);
      }
      return at;
    }

    /** Line starts (after a CRLF), which are where fields begin. */
    private static List<Integer> lineStarts(String r) {
      List<Integer> starts = new ArrayList<>();
      for (int i : occurrences(r, "\r\n")) {
        starts.add(i + 2);
      }
      return starts;
    }

    /** Space or tab at a line start (obs-fold), before a colon, or after a value. */
    private static String whitespaceAtLine(String r, Random rng) {
      String ws = rng.nextBoolean() ? " " : "\t";
      switch (rng.nextInt(3)) {
        case 0 -> {
          List<Integer> starts = lineStarts(r);
          return starts.isEmpty() ? r : insertAt(r, starts.get(rng.nextInt(starts.size())), ws);
        }
        case 1 -> {
          List<Integer> colons = occurrences(r, ":");
          return colons.isEmpty() ? r : insertAt(r, colons.get(rng.nextInt(colons.size())), ws);
        }
        default -> {
          List<Integer> ends = occurrences(r, "\r\n");
          return ends.isEmpty() ? r : insertAt(r, ends.get(rng.nextInt(ends.size())), ws);
        }
      }
    }

    /** Adds a field line right after the first request line (or a random one). */
    private static String addField(String r, Random rng, String line) {
      List<Integer> starts = lineStarts(r);
      if (starts.isEmpty()) {
        return r;
      }
      int at = rng.nextBoolean() ? starts.get(0) : starts.get(rng.nextInt(starts.size()));
      return insertAt(r, at, line + "\r\n");
    }

    /** Drops a whole line (a field, the blank line, a chunk-size line). */
    private static String deleteLine(String r, Random rng) {
      List<Integer> starts = lineStarts(r);
      if (starts.isEmpty()) {
        return r;
      }
      int start = starts.get(rng.nextInt(starts.size()));
      int end = r.indexOf("\r\n", start);
      return end < 0 ? r.substring(0, start) : r.substring(0, start) + r.substring(end + 2);
    }

    /** Repeats a line (a field twice, a chunk line twice). */
    private static String duplicateLine(String r, Random rng) {
      List<Integer> starts = lineStarts(r);
      if (starts.isEmpty()) {
        return r;
      }
      int start = starts.get(rng.nextInt(starts.size()));
      int end = r.indexOf("\r\n", start);
      if (end < 0) {
        return r;
      }
      return r.substring(0, end + 2) + r.substring(start, end + 2) + r.substring(end + 2);
    }

    private static String mangleName(String r, Random rng) {
      String name = pick(rng, "Content-Length", "Transfer-Encoding", "Host");
      String mangled = pick(rng, name.toLowerCase(Locale.ROOT), name.toUpperCase(Locale.ROOT), name.replace('-', '_'),
          name + " ", " " + name, name.substring(0, name.length() - 1) + "\0" + name.charAt(name.length() - 1),
          name + "\t", "X-" + name, name.replace("-", ""), name.substring(1));
      return replaceOne(r, name + ":", mangled + ":", rng);
    }

    private static String mangleMethod(String r, Random rng) {
      String method = pick(rng, "GET", "POST", "HEAD");
      String mangled = pick(rng, method.toLowerCase(Locale.ROOT), "CONNECT", "PROPFIND", "G ET", method + "\t",
          method + " ", " " + method, method.charAt(0) + "\0" + method.substring(1), method + "X", "PRI", "");
      List<Integer> starts = new ArrayList<>(List.of(0));
      starts.addAll(lineStarts(r));
      for (int s : starts) {
        if (r.startsWith(method + " ", s) && rng.nextBoolean()) {
          return r.substring(0, s) + mangled + r.substring(s + method.length());
        }
      }
      return r;
    }

    private static String mangleChunkSize(String r, Random rng) {
      int body = r.indexOf("Transfer-Encoding: chunked\r\n");
      if (body < 0) {
        return r;
      }
      int start = r.indexOf("\r\n\r\n", body);
      if (start < 0) {
        return r;
      }
      start += 4;
      int end = r.indexOf("\r\n", start);
      if (end < 0) {
        return r;
      }
      String size = r.substring(start, end);
      String mangled = pick(rng, "-1", "0x" + size, size + " ", " " + size, size + "\0", size.toUpperCase(Locale.ROOT),
          "000" + size, "ffffffffffffffffff", size + ";", size + "; a=\"b\r\nc\"", "0", "g", "", size + "\t",
          Integer.toHexString(Integer.parseInt(size.split(";")[0].trim().isEmpty() ? "0" : safeHex(size), 16) + 1));
      return r.substring(0, start) + mangled + r.substring(end);
    }

    private static String safeHex(String size) {
      String digits = size.split(";")[0].trim();
      return digits.matches("[0-9a-fA-F]{1,7}") ? digits : "0";
    }
  }

  // ---- the recording back-end ---------------------------------------------------------

  /**
   * A raw HTTP/1.1 server that parses what it receives as strictly as RFC 9112 allows and
   * records each departure from it: NUL, a bare CR or LF, obs-fold, a field name that is not
   * a token, controls in a value, a method Sluice does not pass on, a version other than
   * HTTP/1.1, a target with characters RFC 3986 does not allow, no Host or several,
   * duplicate or conflicting Content-Length and Transfer-Encoding, hop-by-hop fields, a
   * malformed chunked body, bytes after a request's framed end before its response, and a
   * request without Sluice's own X-Forwarded-For and Via (bytes Sluice did not frame itself).
   * It answers each request that passes with a small 200.
   */
  static final class Recorder implements AutoCloseable {
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
        "PATCH");
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "te",
        "trailer", "upgrade", "proxy-authorization");
    private static final byte[] OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OK_HEAD = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    final AtomicLong received = new AtomicLong();
    private final ServerSocket listener;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();

    Recorder() throws IOException {
      listener = new ServerSocket(0, 512, InetAddress.getByName("127.0.0.1"));
      threads.submit(this::acceptLoop);
    }

    int port() {
      return listener.getLocalPort();
    }

    private void acceptLoop() {
      while (!listener.isClosed()) {
        try {
          Socket s = listener.accept();
          open.add(s);
          threads.submit(() -> serve(s));
        } catch (IOException closed) {
          return;
        }
      }
    }

    /** Thrown when the connection ended in the middle of a request: not a violation, Sluice gave it up. */
    private static final class CutOff extends IOException {
      CutOff() {
        super("cut off");
      }
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
        OutputStream out = s.getOutputStream();
        while (true) {
          ByteArrayOutputStream raw = new ByteArrayOutputStream();
          String problem;
          boolean head;
          try {
            byte[] headBytes = readHead(in, raw);
            if (headBytes == null) {
              return; // closed between requests
            }
            Request request = new Request();
            problem = checkHead(headBytes, request);
            if (problem == null) {
              problem = readBody(in, raw, request);
            }
            if (problem == null && in.available() > 0) {
              problem = "bytes beyond the request's framed end before its response: "
                  + escape(in.readNBytes(Math.min(in.available(), 200)), 200);
            }
            head = "HEAD".equals(request.method);
          } catch (CutOff cut) {
            return;
          }
          if (problem != null) {
            violations.add(problem + "\n    received: " + escape(raw.toByteArray(), 600));
            return; // close: nothing more on this connection can be trusted
          }
          received.incrementAndGet();
          out.write(head ? OK_HEAD : OK);
          out.flush();
        }
      } catch (IOException e) {
        // Sluice closed the connection
      } finally {
        open.remove(s);
      }
    }

    /** The head up to and with its blank line, or null at a close before any byte. */
    private static byte[] readHead(InputStream in, ByteArrayOutputStream raw) throws IOException {
      int b;
      int matched = 0; // of \r\n\r\n
      boolean any = false;
      while ((b = in.read()) != -1) {
        any = true;
        raw.write(b);
        if (raw.size() > 256 * 1024) {
          throw new IOException("head too long");
        }
        matched = switch (matched) {
          case 0, 2 -> b == '\r' ? matched + 1 : 0;
          case 1, 3 -> b == '\n' ? matched + 1 : (b == '\r' ? 1 : 0);
          default -> 0;
        };
        if (matched == 4) {
          return raw.toByteArray();
        }
      }
      if (!any) {
        return null;
      }
      throw new CutOff();
    }

    private static final class Request {
      String method;
      long contentLength = -1;
      boolean chunked;
    }

    /** Null when the head is strictly valid; else what is wrong with it. */
    static String checkHead(byte[] head, Request request) {
      for (int i = 0; i < head.length; i++) {
        int c = head[i] & 0xff;
        if (c == 0) {
          return "NUL in the head at " + i;
        }
        if (c == '\r' && (i + 1 >= head.length || head[i + 1] != '\n')) {
          return "bare CR in the head at " + i;
        }
        if (c == '\n' && (i == 0 || head[i - 1] != '\r')) {
          return "bare LF in the head at " + i;
        }
      }
      String text = new String(head, 0, head.length - 4, StandardCharsets.ISO_8859_1);
      String[] lines = text.split("\r\n", -1);
      String[] requestLine = lines[0].split(" ", -1);
      if (requestLine.length != 3) {
        return "request line not method SP target SP version: " + lines[0];
      }
      if (!METHODS.contains(requestLine[0])) {
        return "method not passed on: " + requestLine[0];
      }
      request.method = requestLine[0];
      String target = requestLine[1];
      if (!(target.startsWith("/") || (target.equals("*") && request.method.equals("OPTIONS")))) {
        return "target not in origin form: " + target;
      }
      for (int i = 0; i < target.length(); i++) {
        char c = target.charAt(i);
        boolean ok = Character.isLetterOrDigit(c) && c < 0x80 || "-._~!$&'()*+,;=:@/?%".indexOf(c) >= 0;
        if (!ok) {
          return "character RFC 3986 does not allow in the target: " + target;
        }
        if (c == '%' && !(i + 2 < target.length() && isHex(target.charAt(i + 1)) && isHex(target.charAt(i + 2)))) {
          return "bad percent-encoding in the target: " + target;
        }
      }
      if (!requestLine[2].equals("HTTP/1.1")) {
        return "version not HTTP/1.1: " + requestLine[2];
      }
      Map<String, List<String>> fields = new TreeMap<>();
      for (int i = 1; i < lines.length; i++) {
        String line = lines[i];
        if (line.isEmpty()) {
          return "empty line inside the head";
        }
        if (line.charAt(0) == ' ' || line.charAt(0) == '\t') {
          return "obs-fold: " + line;
        }
        int colon = line.indexOf(':');
        if (colon <= 0) {
          return "field line without a name and colon: " + line;
        }
        String name = line.substring(0, colon);
        for (int j = 0; j < name.length(); j++) {
          char c = name.charAt(j);
          if (!(c < 0x80 && Character.isLetterOrDigit(c) || "!#$%&'*+-.^_`|~".indexOf(c) >= 0)) {
            return "field name not a token: '" + name + "'";
          }
        }
        String value = line.substring(colon + 1);
        if (value.startsWith(" ")) {
          value = value.substring(1);
        }
        if (!value.isEmpty() && (value.charAt(0) == ' ' || value.charAt(0) == '\t'
            || value.charAt(value.length() - 1) == ' ' || value.charAt(value.length() - 1) == '\t')) {
          return "whitespace around a field value: " + line;
        }
        for (int j = 0; j < value.length(); j++) {
          char c = value.charAt(j);
          if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return "control character in a field value: " + line;
          }
        }
        fields.computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(value);
      }
      for (String hop : HOP_BY_HOP) {
        if (fields.containsKey(hop)) {
          return "hop-by-hop field forwarded: " + hop;
        }
      }
      if (fields.getOrDefault("host", List.of()).size() != 1) {
        return "not exactly one Host: " + fields.get("host");
      }
      List<String> lengths = fields.getOrDefault("content-length", List.of());
      List<String> codings = fields.getOrDefault("transfer-encoding", List.of());
      if (lengths.size() > 1) {
        return "several Content-Length: " + lengths;
      }
      if (codings.size() > 1) {
        return "several Transfer-Encoding: " + codings;
      }
      if (!lengths.isEmpty() && !codings.isEmpty()) {
        return "Content-Length and Transfer-Encoding together";
      }
      if (!lengths.isEmpty()) {
        String cl = lengths.get(0);
        if (!cl.matches("[0-9]{1,15}")) {
          return "Content-Length not a number: '" + cl + "'";
        }
        request.contentLength = Long.parseLong(cl);
      }
      if (!codings.isEmpty()) {
        if (!codings.get(0).equals("chunked")) {
          return "Transfer-Encoding other than chunked: '" + codings.get(0) + "'";
        }
        request.chunked = true;
      }
      if (fields.getOrDefault("x-forwarded-for", List.of()).size() != 1) {
        return "not exactly one X-Forwarded-For: bytes Sluice did not frame itself?";
      }
      List<String> via = fields.getOrDefault("via", List.of());
      if (via.size() != 1 || !via.get(0).endsWith(" sluice")) {
        return "no Via of Sluice's own: bytes Sluice did not frame itself? " + via;
      }
      return null;
    }

    private static boolean isHex(char c) {
      return Character.digit(c, 16) >= 0 && c < 0x80;
    }

    /** Reads the body its head frames; null when it matches its framing exactly. */
    private static String readBody(InputStream in, ByteArrayOutputStream raw, Request request) throws IOException {
      if (request.contentLength > 0) {
        copy(in, raw, request.contentLength);
        return null;
      }
      if (!request.chunked) {
        return null;
      }
      while (true) {
        String sizeLine = line(in, raw);
        if (!sizeLine.matches("[0-9a-f]{1,8}")) {
          return "chunk-size line not lower-case hex digits alone: '" + sizeLine + "'";
        }
        long size = Long.parseLong(sizeLine, 16);
        if (size == 0) {
          String end = line(in, raw);
          return end.isEmpty() ? null : "trailer or junk after the last chunk: '" + end + "'";
        }
        copy(in, raw, size);
        String crlf = line(in, raw);
        if (!crlf.isEmpty()) {
          return "chunk data longer than its size: '" + crlf + "'";
        }
      }
    }

    private static void copy(InputStream in, ByteArrayOutputStream raw, long n) throws IOException {
      for (long i = 0; i < n; i++) {
        int b = in.read();
        if (b == -1) {
          throw new CutOff();
        }
        raw.write(b);
      }
    }

    /** A line ended by CRLF (without it); a bare CR or LF in it is kept, so that the check sees it. */
    private static String line(InputStream in, ByteArrayOutputStream raw) throws IOException {
      StringBuilder b = new StringBuilder();
      int c;
      while ((c = in.read()) != -1) {
        raw.write(c);
        if (c == '\n' && b.length() > 0 && b.charAt(b.length() - 1) == '\r') {
          b.setLength(b.length() - 1);
          return b.toString();
        }
        b.append((char) c);
        if (b.length() > 4096) {
          return b.toString();
        }
      }
      throw new CutOff();
    }

    @Override
    public void close() throws IOException {
      listener.close();
      for (Socket s : open) {
        s.close();
      }
      threads.shutdownNow();
    }
  }
}
