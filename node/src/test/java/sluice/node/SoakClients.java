package sluice.node;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import sluice.node.testing.TestBackend;

/**
 * The clients of {@link SoakTest}: normal ones that check every answer, and hostile ones
 * (slowloris, slow body, slow and non-reading readers, abrupt closes, malformed requests). Each
 * runs on its own thread until {@link #stop}; what they saw goes into {@link #counts}, and what
 * a normal client must never see into {@link #failures}.
 */
final class SoakClients {

  /**
   * A normal client waiting this long for an answer counts its connection as hung. It is a
   * liveness bound, far above the longest a correct node may take (queue timeout 2 s, then up to
   * three attempts of connect timeout 1 s and response timeout 1 s: about 8 s), not a
   * measure of speed.
   */
  static final int HANG_MILLIS = 30_000;

  private final int port;
  private volatile boolean running = true;
  private final List<Thread> threads = new ArrayList<>();
  private final List<NormalClient> normal = new ArrayList<>();
  private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final AtomicInteger failureCount = new AtomicInteger();

  SoakClients(int port) {
    this.port = port;
  }

  /** Starts every client; {@code tag} keeps echo ids of two runs apart. */
  SoakClients start(String tag, int normalClients) {
    for (int i = 0; i < normalClients; i++) {
      NormalClient c = new NormalClient(tag + i, i);
      normal.add(c);
      spawn("normal-" + i, c);
    }
    for (int i = 0; i < 8; i++) {
      spawn("slowloris-" + i, this::slowloris);
    }
    for (int i = 0; i < 2; i++) {
      spawn("slow-body-" + i, this::slowBody);
    }
    spawn("slow-reader", this::slowReader);
    spawn("non-reader", this::nonReader);
    for (int i = 0; i < 3; i++) {
      int first = i;
      spawn("abrupt-" + i, () -> abrupt(first));
    }
    spawn("malformed", this::malformed);
    return this;
  }

  /** Stops the clients and waits for them; true if every one ended (none is stuck). */
  boolean stop() throws InterruptedException {
    running = false;
    long deadline = System.nanoTime() + 2L * HANG_MILLIS * 1_000_000L;
    boolean all = true;
    for (Thread t : threads) {
      t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
      if (t.isAlive()) {
        all = false;
        fail("client thread " + t.getName() + " did not end");
        t.interrupt();
      }
    }
    return all;
  }

  long count(String key) {
    LongAdder a = counts.get(key);
    return a == null ? 0 : a.sum();
  }

  /** Every count, by key, sorted. */
  Map<String, Long> counts() {
    Map<String, Long> m = new TreeMap<>();
    counts.forEach((k, v) -> m.put(k, v.sum()));
    return m;
  }

  int failureCount() {
    return failureCount.get();
  }

  List<String> failures() {
    return List.copyOf(failures);
  }

  List<NormalClient> normalClients() {
    return normal;
  }

  private void spawn(String name, Runnable body) {
    Thread t = new Thread(() -> {
      try {
        body.run();
      } catch (RuntimeException e) {
        fail(name + " died: " + e);
      }
    }, "soak-" + name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
  }

  private void add(String key) {
    counts.computeIfAbsent(key, k -> new LongAdder()).increment();
  }

  private void fail(String what) {
    failureCount.incrementAndGet();
    if (failures.size() < 50) {
      failures.add(what);
    }
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- normal clients ------------------------------------------------------------------------

  /** Sends well-formed requests one after another and checks that each gets exactly one answer. */
  final class NormalClient implements Runnable {
    final String name;
    private final Random random;
    long sent;
    long answered;
    long missing;
    long hung;
    long wrong;
    long extra;
    long ok;
    long connections;

    NormalClient(String name, long seed) {
      this.name = name;
      this.random = new Random(seed);
    }

    @Override
    public void run() {
      Wire wire = null;
      long n = 0;
      while (running) {
        try {
          if (wire == null) {
            wire = Wire.open(port);
            connections++;
            add("normal.connections");
          }
        } catch (IOException e) {
          fail(name + ": cannot connect: " + e);
          pause(100);
          continue;
        }
        n++;
        String echoId = name + "-" + n;
        String target = "/echo?c=" + name + "&n=" + n;
        String method = "GET";
        byte[] body = new byte[0];
        boolean chunked = false;
        int kind = random.nextInt(10);
        if (kind < 3) {
          method = "POST";
          body = TestBackend.pattern(n, random.nextInt(4097));
        } else if (kind == 3) {
          method = "POST";
          body = TestBackend.pattern(n, 1 + random.nextInt(3000));
          chunked = true;
        }
        boolean close = random.nextInt(10) == 0;
        StringBuilder head = new StringBuilder(method).append(' ').append(target)
            .append(" HTTP/1.1\r\nHost: test.local\r\nX-Echo-Id: ").append(echoId).append("\r\n");
        if (close) {
          head.append("Connection: close\r\n");
        }
        if (chunked) {
          head.append("Transfer-Encoding: chunked\r\n");
        } else if (method.equals("POST")) {
          head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        try {
          wire.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
          if (chunked) {
            int half = body.length / 2;
            wire.write(chunk(body, 0, half));
            wire.write(chunk(body, half, body.length));
            wire.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
          } else {
            wire.write(body);
          }
        } catch (IOException e) {
          // the node closed a kept-alive connection that was not idle: a request that cannot be sent
          missing++;
          fail(name + ": could not send request " + n + " (local port " + wire.localPort() + "): " + e);
          wire.abort();
          wire = null;
          continue;
        }
        sent++;
        add("normal.sent");
        Wire.Response r;
        try {
          r = wire.read(HANG_MILLIS, method);
        } catch (SocketTimeoutException e) {
          hung++;
          fail(name + ": no answer to request " + n + " within " + HANG_MILLIS + " ms");
          wire.abort();
          wire = null;
          continue;
        } catch (IOException e) {
          missing++;
          fail(name + ": no answer to request " + n + " (" + method + " " + target + ", local port " + wire.localPort()
              + ", " + (chunked ? "chunked" : "length") + ", " + body.length + " bytes, close " + close + "): " + e);
          wire.abort();
          wire = null;
          continue;
        }
        answered++;
        add("normal.status." + r.status());
        check(r, method, target, body, echoId);
        if (close || r.closes()) {
          try {
            int more = wire.readByte(HANG_MILLIS);
            if (more != -1) {
              extra++;
              fail(name + ": bytes after the answer to request " + n + ", which closed the connection");
            }
          } catch (SocketTimeoutException e) {
            hung++;
            fail(name + ": the connection stayed open after an answer that closed it");
          } catch (IOException reset) {
            // closed, with a reset: fine
          }
          wire.abort();
          wire = null;
        }
      }
      if (wire != null) {
        try {
          // nothing may follow the last answer: a second answer to one request would be here
          if (wire.readByte(300) != -1) {
            extra++;
            fail(name + ": bytes after the last answer");
          }
        } catch (SocketTimeoutException expected) {
          // nothing came: right
        } catch (IOException e) {
          // closed: nothing extra
        }
        wire.abort();
      }
    }

    private void check(Wire.Response r, String method, String target, byte[] body, String echoId) {
      switch (r.status()) {
        case 200 -> {
          byte[] expected = TestBackend.echoBody(method, target, body, echoId);
          if (!Arrays.equals(expected, r.body()) || !echoId.equals(r.header("x-echo-id"))) {
            wrong++;
            fail(name + ": answer to " + echoId + " is not its own: " + new String(r.body(), StandardCharsets.UTF_8)
                + " (X-Echo-Id " + r.header("x-echo-id") + ")");
          } else {
            ok++;
          }
        }
        case 502, 503, 504 -> { }
        default -> {
          wrong++;
          fail(name + ": status " + r.status() + " for " + echoId + ": " + new String(r.body(), StandardCharsets.UTF_8));
        }
      }
    }
  }

  private static byte[] chunk(byte[] body, int from, int to) {
    if (from == to) {
      return new byte[0];
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes((Integer.toHexString(to - from) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.write(body, from, to - from);
    out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    return out.toByteArray();
  }

  // ---- hostile clients -----------------------------------------------------------------------

  /** Drips a request head a byte at a time; the node's head deadline must cut it off. */
  private void slowloris() {
    byte[] head = ("GET /echo?slowloris HTTP/1.1\r\nHost: test.local\r\nX-Slow: " + "x".repeat(200) + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    while (running) {
      add("slowloris.connections");
      try (Wire wire = Wire.open(port)) {
        int i = 0;
        for (; i < head.length && running; i++) {
          wire.write(new byte[] {head[i]});
          pause(100);
          if (wire.available() > 0) {
            Wire.Response r = wire.read(HANG_MILLIS, "GET");
            add("slowloris.status." + r.status());
            break;
          }
        }
        if (i == head.length) {
          add("slowloris.head-completed"); // the head deadline did not cut it off
        }
      } catch (IOException e) {
        add("slowloris.cut");
      }
    }
  }

  /** Sends a body slowly: 16 KiB in 256-byte pieces, one every 50 ms. */
  private void slowBody() {
    int length = 16 * 1024;
    while (running) {
      add("slow-body.requests");
      try (Wire wire = Wire.open(port)) {
        wire.write(("POST /echo?slowbody HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + length + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        boolean early = false;
        for (int sent = 0; sent < length; sent += 256) {
          wire.write(TestBackend.pattern(sent, 256));
          pause(50);
          if (wire.available() > 0) {
            early = true;
            break;
          }
        }
        Wire.Response r = wire.read(HANG_MILLIS, "POST");
        add("slow-body.status." + r.status() + (early ? ".early" : ""));
      } catch (SocketTimeoutException e) {
        fail("slow body: no answer and no close within " + HANG_MILLIS + " ms");
      } catch (IOException e) {
        add("slow-body.cut");
      }
    }
  }

  /** Asks for 1 MiB and reads 2 KiB every 100 ms, for 5 s, then resets the connection. */
  private void slowReader() {
    while (running) {
      add("slow-reader.requests");
      try (Wire wire = Wire.open(port)) {
        wire.write("GET /big?bytes=1048576 HTTP/1.1\r\nHost: test.local\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        byte[] buf = new byte[2048];
        long until = System.nanoTime() + 5_000_000_000L;
        while (running && System.nanoTime() < until) {
          if (wire.readSome(buf, HANG_MILLIS) < 0) {
            add("slow-reader.ended");
            break;
          }
          pause(100);
        }
        wire.abort();
      } catch (IOException e) {
        add("slow-reader.cut");
      }
    }
  }

  /** Asks for 4 MiB and reads none of it; resets the connection after 6 s. */
  private void nonReader() {
    while (running) {
      add("non-reader.requests");
      try (Wire wire = Wire.open(port)) {
        wire.write("GET /big?bytes=4194304 HTTP/1.1\r\nHost: test.local\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        for (int i = 0; i < 60 && running; i++) {
          pause(100);
        }
        wire.abort();
      } catch (IOException e) {
        add("non-reader.cut");
      }
    }
  }

  /** Resets its connection (SO_LINGER 0) at one of four points, in turn. */
  private void abrupt(int first) {
    int point = first;
    while (running) {
      point = (point + 1) % 4;
      try (Wire wire = Wire.open(port)) {
        switch (point) {
          case 0 -> {
            add("abrupt.mid-head");
            wire.write("GET /echo?abrupt HTTP/1.1\r\nHost: te".getBytes(StandardCharsets.ISO_8859_1));
          }
          case 1 -> {
            add("abrupt.mid-body");
            wire.write(("POST /echo?abrupt HTTP/1.1\r\nHost: test.local\r\nContent-Length: 1000\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
            wire.write(TestBackend.pattern(0, 300));
          }
          case 2 -> {
            add("abrupt.before-answer");
            wire.write("GET /echo?abrupt HTTP/1.1\r\nHost: test.local\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
          }
          default -> {
            add("abrupt.mid-answer");
            wire.write("GET /big?bytes=262144 HTTP/1.1\r\nHost: test.local\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1));
            wire.readSome(new byte[1000], HANG_MILLIS);
          }
        }
        wire.abort();
      } catch (IOException e) {
        add("abrupt.cut");
      }
      pause(20);
    }
  }

  /** A malformed request and the status the node must answer it with (0: any error, or a close). */
  record Bad(String name, byte[] bytes, int status) {
    static Bad of(String name, String text, int status) {
      return new Bad(name, text.getBytes(StandardCharsets.ISO_8859_1), status);
    }
  }

  static List<Bad> badRequests() {
    String host = "Host: test.local\r\n";
    List<Bad> bad = new ArrayList<>();
    bad.add(Bad.of("two spaces", "GET /malformed/a  HTTP/1.1\r\n" + host + "\r\n", 400));
    bad.add(Bad.of("angle brackets in target", "GET /malformed/<b> HTTP/1.1\r\n" + host + "\r\n", 400));
    bad.add(Bad.of("bare LF", "GET /malformed/c HTTP/1.1\nHost: test.local\n\n", 400));
    bad.add(Bad.of("obsolete line folding", "GET /malformed/d HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", 400));
    bad.add(Bad.of("no Host", "GET /malformed/e HTTP/1.1\r\n\r\n", 400));
    bad.add(Bad.of("two Content-Length", "POST /malformed/f HTTP/1.1\r\n" + host
        + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400));
    bad.add(Bad.of("Content-Length and Transfer-Encoding", "POST /malformed/g HTTP/1.1\r\n" + host
        + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400));
    bad.add(Bad.of("signed Content-Length", "POST /malformed/h HTTP/1.1\r\n" + host + "Content-Length: +3\r\n\r\nabc",
        400));
    bad.add(Bad.of("body above max-body-size", "POST /malformed/i HTTP/1.1\r\n" + host
        + "Content-Length: 2000000\r\n\r\n", 413));
    bad.add(Bad.of("long target", "GET /malformed/" + "j".repeat(9000) + " HTTP/1.1\r\n" + host + "\r\n", 414));
    StringBuilder many = new StringBuilder("GET /malformed/k HTTP/1.1\r\n" + host);
    for (int i = 0; i < 101; i++) {
      many.append("X-H").append(i).append(": v\r\n");
    }
    bad.add(Bad.of("too many fields", many + "\r\n", 431));
    bad.add(Bad.of("unknown method", "BREW /malformed/l HTTP/1.1\r\n" + host + "\r\n", 501));
    bad.add(Bad.of("HTTP/2.0", "GET /malformed/m HTTP/2.0\r\n" + host + "\r\n", 505));
    bad.add(Bad.of("Expect other than 100-continue", "GET /malformed/n HTTP/1.1\r\n" + host + "Expect: tea\r\n\r\n",
        417));
    // the head is fine (it is queued, maybe sent); the chunked body is not
    bad.add(Bad.of("malformed chunk size", "POST /chunked-bad HTTP/1.1\r\n" + host
        + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 0));
    return bad;
  }

  /** Sends the malformed requests in turn; each must be answered with its status and closed. */
  private void malformed() {
    List<Bad> bad = badRequests();
    int i = 0;
    while (running) {
      Bad b = bad.get(i++ % bad.size());
      add("malformed.sent");
      try (Wire wire = Wire.open(port)) {
        wire.write(b.bytes());
        Wire.Response r = wire.read(HANG_MILLIS, "GET");
        if (b.status() != 0 && r.status() != b.status()) {
          fail("malformed request (" + b.name() + ") got " + r.status() + ", not " + b.status());
        }
        add("malformed.status." + r.status());
        if (wire.readByte(HANG_MILLIS) != -1) {
          fail("malformed request (" + b.name() + "): bytes after its answer");
        }
      } catch (SocketTimeoutException e) {
        fail("malformed request (" + b.name() + "): no answer and no close within " + HANG_MILLIS + " ms");
      } catch (IOException e) {
        if (b.status() != 0) {
          fail("malformed request (" + b.name() + "): connection closed without its " + b.status() + ": " + e);
        }
        add("malformed.closed");
      }
      pause(20);
    }
  }

  // ---- the wire --------------------------------------------------------------------------------

  /** One client connection, written and read by hand. */
  static final class Wire implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private Wire(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
      this.out = socket.getOutputStream();
    }

    static Wire open(int port) throws IOException {
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress("127.0.0.1", port), HANG_MILLIS);
        s.setTcpNoDelay(true);
        s.setSoTimeout(HANG_MILLIS);
        return new Wire(s);
      } catch (IOException e) {
        s.close();
        throw e;
      }
    }

    record Response(int status, Map<String, String> headers, byte[] body) {
      String header(String name) {
        return headers.get(name);
      }

      boolean closes() {
        return headers.getOrDefault("connection", "").toLowerCase(Locale.ROOT).contains("close");
      }
    }

    void write(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    int localPort() {
      return socket.getLocalPort();
    }

    int available() throws IOException {
      return in.available();
    }

    int readByte(int timeoutMillis) throws IOException {
      socket.setSoTimeout(timeoutMillis);
      return in.read();
    }

    int readSome(byte[] buf, int timeoutMillis) throws IOException {
      socket.setSoTimeout(timeoutMillis);
      return in.read(buf);
    }

    /** Reads one whole response (headers lower-cased; the first of each name). */
    Response read(int timeoutMillis, String method) throws IOException {
      socket.setSoTimeout(timeoutMillis);
      String statusLine = line();
      if (statusLine == null) {
        throw new EOFException("connection closed before a response");
      }
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
        throw new IOException("not a status line: " + statusLine);
      }
      int status = Integer.parseInt(parts[1]);
      Map<String, String> headers = new TreeMap<>();
      String line;
      while (!(line = requireLine()).isEmpty()) {
        int colon = line.indexOf(':');
        headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
      }
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      if (method.equals("HEAD") || status == 204 || status == 304 || status / 100 == 1) {
        return new Response(status, headers, body.toByteArray());
      }
      String te = headers.get("transfer-encoding");
      if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
        while (true) {
          String size = requireLine();
          int semi = size.indexOf(';');
          int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
          if (n == 0) {
            while (!requireLine().isEmpty()) {
              // trailers
            }
            break;
          }
          body.write(in.readNBytes(n));
          requireLine();
        }
      } else if (headers.containsKey("content-length")) {
        int n = Integer.parseInt(headers.get("content-length"));
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
          throw new EOFException("body cut off after " + b.length + " of " + n + " bytes");
        }
        body.write(b);
      } else {
        body.write(in.readAllBytes());
      }
      return new Response(status, headers, body.toByteArray());
    }

    private String requireLine() throws IOException {
      String l = line();
      if (l == null) {
        throw new EOFException("connection closed inside a response");
      }
      return l;
    }

    private String line() throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream(64);
      int c;
      while ((c = in.read()) != -1) {
        if (c == '\n') {
          byte[] bytes = b.toByteArray();
          int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
          return new String(bytes, 0, len, StandardCharsets.ISO_8859_1);
        }
        b.write(c);
      }
      return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }

    /** Closes with a reset (SO_LINGER 0): an abrupt close. */
    void abort() {
      try {
        socket.setSoLinger(true, 0);
      } catch (IOException ignored) {
        // closing anyway
      }
      close();
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closed
      }
    }
  }
}
