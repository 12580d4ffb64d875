package sluice.node.testing;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * A real, deliberately simple HTTP/1.1 back-end on 127.0.0.1 for integration tests: blocking
 * sockets, one thread per connection, HTTP parsed by hand, so a test controls exactly what it
 * does and counts exactly what it saw.
 *
 * <p>Answers: by default 200, {@code text/plain}, with the body {@link #echoBody}: {@code "<method>
 * <target> <body length> <sha-256 of body, hex>\n"}, plus {@code "X-Echo-Id: <value>\n"} when the
 * request has that header (which is also copied to the response). Special paths: {@code
 * /big?bytes=N} streams N bytes of {@link #pattern} with Content-Length; {@code
 * /chunked?chunks=K&size=S} sends K chunks of S pattern bytes with Transfer-Encoding: chunked;
 * {@code /headers} lists the request's headers, {@code "name: value\n"} each, in order. Every
 * response carries {@code X-Request-Seq} (the request's arrival number) and {@code
 * X-Backend-Port}.
 *
 * <p>Behaviours, switchable at any time from any thread: {@link #delay}, {@link
 * #holdResponses}/{@link #releaseResponses}, {@link #closeAfterEachResponse}, {@link
 * #dieMidResponse}, {@link #dieBeforeResponse}. Reading the request always comes first, so even a
 * request the back-end then fails on is recorded whole.
 *
 * <p>Invariants: a request is in flight from when its head has been read until its response was
 * fully written or its connection closed; it then counts as {@code served} (whole response
 * written) or {@code aborted} (connection closed first, on purpose or not). A connection is open
 * from accept until its socket is closed. All counters and the request log change under {@code
 * lock}, which is notified on every change, so {@code await...} methods wait without polling.
 * After {@link #stop()} returns, no connection is open and nothing is in flight.
 */
public final class TestBackend implements AutoCloseable {

  /** One header line as received, name in its original case. */
  public record Header(String name, String value) {}

  /**
   * A request as received. {@code body} is the decoded body (chunks joined); do not modify it.
   *
   * @param seq        arrival number, from 1, in the order heads were read
   * @param connection the number of the connection it came on, from 1, in accept order
   */
  public record RecordedRequest(
      long seq, long connection, String method, String target, String version,
      List<Header> headers, byte[] body) {

    /** The first value of the header {@code name}, case-insensitively. */
    public Optional<String> header(String name) {
      return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value)
          .findFirst();
    }

    /** Every value of the header {@code name}, in order. */
    public List<String> headers(String name) {
      return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value)
          .toList();
    }

    /** The target without its query. */
    public String path() {
      int q = target.indexOf('?');
      return q < 0 ? target : target.substring(0, q);
    }

    public String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return "#" + seq + " " + method + " " + target + " " + version + " (" + body.length
          + " body bytes, connection " + connection + ")";
    }
  }

  private static final String HOST = "127.0.0.1";
  private static final int MAX_HEAD_BYTES = 64 * 1024;
  private static final int WRITE_CHUNK = 8 * 1024;
  private static final Duration STOP_WAIT = Duration.ofSeconds(10);

  private final Object lock = new Object();

  // behaviours: read by connection threads at each request
  private volatile Duration delay = Duration.ZERO;
  private volatile boolean closeAfterEachResponse;
  private volatile boolean announceClose;
  private volatile Predicate<RecordedRequest> dieMidResponse = r -> false;
  private volatile Predicate<RecordedRequest> dieBeforeResponse = r -> false;
  private volatile boolean dieWithReset = true;

  // guarded by lock
  private boolean held;
  private int port;
  private ServerSocket listener;
  private Thread acceptor;
  private final Set<Connection> open = new HashSet<>();
  private final List<RecordedRequest> requests = new ArrayList<>();
  private long nextSeq = 1;
  private long connectionsAccepted;
  private int maxConnectionsOpen;
  private int inFlight;
  private int maxInFlight;
  private long served;
  private long aborted;

  /** A back-end that will listen on a free port of 127.0.0.1 when started. */
  public TestBackend() {
    this(0);
  }

  /** A back-end that will listen on {@code 127.0.0.1:port} when started (0: a free port). */
  public TestBackend(int port) {
    this.port = port;
  }

  /** A new back-end on a free port, already started. */
  public static TestBackend started() {
    return new TestBackend().start();
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle

  /** Starts listening; after {@link #stop()}, comes back on the same port. Returns this. */
  public TestBackend start() {
    synchronized (lock) {
      if (listener != null) {
        return this;
      }
      try {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getByName(HOST), port), 512);
        port = s.getLocalPort();
        listener = s;
      } catch (IOException e) {
        throw new UncheckedIOException("test back-end cannot listen on " + HOST + ":" + port, e);
      }
      ServerSocket s = listener;
      acceptor = new Thread(() -> acceptLoop(s), "test-backend-" + port + "-accept");
      acceptor.setDaemon(true);
      acceptor.start();
      return this;
    }
  }

  /**
   * The back-end dies: closes the listening socket and every connection, in flight or idle.
   * Returns once every connection thread has finished; counters and the request log are kept.
   */
  public void stop() {
    List<Thread> threads = new ArrayList<>();
    long deadline = System.nanoTime() + STOP_WAIT.toNanos();
    Thread accepting;
    synchronized (lock) {
      if (listener == null) {
        return;
      }
      closeQuietly(listener);
      listener = null;
      accepting = acceptor;
    }
    // the listening socket is gone only once the acceptor has left accept(): until then the JDK
    // keeps it open and it can still take a connection. A client that sees its connection close
    // below and connects again must be refused, as by a process that has exited, not accepted
    // and then closed (that made NoBackendUpTest's retried request a 502 about once in ten runs)
    join(accepting, deadline);
    synchronized (lock) {
      for (Connection c : open) {
        closeQuietly(c.socket);
        c.thread.interrupt(); // out of a delay or a hold
        threads.add(c.thread);
      }
      lock.notifyAll();
    }
    for (Thread t : threads) {
      if (!join(t, deadline)) {
        return;
      }
    }
  }

  /** Waits for {@code t} until the deadline; false if interrupted. */
  private static boolean join(Thread t, long deadlineNanos) {
    try {
      t.join(Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000));
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public void close() {
    stop();
  }

  public boolean isRunning() {
    synchronized (lock) {
      return listener != null;
    }
  }

  /** The port it listens on (the one it will listen on again after a stop). */
  public int port() {
    synchronized (lock) {
      return port;
    }
  }

  /** {@code "127.0.0.1:port"}, as a back-end address in Sluice settings. */
  public String address() {
    return HOST + ":" + port();
  }

  public URI uri(String pathAndQuery) {
    return URI.create("http://" + address() + pathAndQuery);
  }

  // ---------------------------------------------------------------------------------------------
  // Behaviours

  /** Waits this long after reading a request before answering it. */
  public TestBackend delay(Duration value) {
    delay = Objects.requireNonNull(value);
    return this;
  }

  /** Requests read from now on wait (after any delay) until {@link #releaseResponses()}. */
  public TestBackend holdResponses() {
    synchronized (lock) {
      held = true;
    }
    return this;
  }

  /** Lets held requests and those to come be answered. */
  public TestBackend releaseResponses() {
    synchronized (lock) {
      held = false;
      lock.notifyAll();
    }
    return this;
  }

  /**
   * Closes the connection after each response, without announcing it by {@code Connection:
   * close}: the back-end closing a kept-alive connection between requests.
   */
  public TestBackend closeAfterEachResponse(boolean value) {
    closeAfterEachResponse = value;
    return this;
  }

  /** Answers every request with {@code Connection: close} and closes the connection after it. */
  public TestBackend announceCloseAfterEachResponse(boolean value) {
    announceClose = value;
    return this;
  }

  /**
   * For matching requests, writes a 200 head with {@code Content-Length: 1000} and 10 body bytes,
   * then closes the socket (with a reset unless {@link #dieWithReset} is false).
   */
  public TestBackend dieMidResponse(Predicate<RecordedRequest> which) {
    dieMidResponse = Objects.requireNonNull(which);
    return this;
  }

  /** {@link #dieMidResponse(Predicate)} for requests whose path (no query) is {@code path}. */
  public TestBackend dieMidResponse(String path) {
    return dieMidResponse(r -> r.path().equals(path));
  }

  /** For matching requests, closes the connection without writing a byte of the response. */
  public TestBackend dieBeforeResponse(Predicate<RecordedRequest> which) {
    dieBeforeResponse = Objects.requireNonNull(which);
    return this;
  }

  /** {@link #dieBeforeResponse(Predicate)} for requests whose path (no query) is {@code path}. */
  public TestBackend dieBeforeResponse(String path) {
    return dieBeforeResponse(r -> r.path().equals(path));
  }

  /** Whether dying closes with a TCP reset (SO_LINGER 0, the default) or an orderly FIN. */
  public TestBackend dieWithReset(boolean value) {
    dieWithReset = value;
    return this;
  }

  /** Back to answering every request at once and normally (releases held responses). */
  public TestBackend behaveNormally() {
    delay = Duration.ZERO;
    closeAfterEachResponse = false;
    announceClose = false;
    dieMidResponse = r -> false;
    dieBeforeResponse = r -> false;
    dieWithReset = true;
    return releaseResponses();
  }

  // ---------------------------------------------------------------------------------------------
  // What it saw

  public int inFlight() {
    synchronized (lock) {
      return inFlight;
    }
  }

  /** The most requests in flight at once since creation or {@link #resetMaxima()}. */
  public int maxInFlight() {
    synchronized (lock) {
      return maxInFlight;
    }
  }

  /** Requests whose response was fully written. */
  public long served() {
    synchronized (lock) {
      return served;
    }
  }

  /** Requests whose connection closed before the whole response was written. */
  public long aborted() {
    synchronized (lock) {
      return aborted;
    }
  }

  /** TCP connections accepted over the whole life, across stops and starts. */
  public long connectionsAccepted() {
    synchronized (lock) {
      return connectionsAccepted;
    }
  }

  public int connectionsOpen() {
    synchronized (lock) {
      return open.size();
    }
  }

  /** The most TCP connections open at once since creation or {@link #resetMaxima()}. */
  public int maxConnectionsOpen() {
    synchronized (lock) {
      return maxConnectionsOpen;
    }
  }

  /** Sets both maxima back to the current values. */
  public void resetMaxima() {
    synchronized (lock) {
      maxInFlight = inFlight;
      maxConnectionsOpen = open.size();
    }
  }

  /** Every request read whole so far, in arrival order. */
  public List<RecordedRequest> requests() {
    synchronized (lock) {
      List<RecordedRequest> copy = new ArrayList<>(requests);
      copy.sort(Comparator.comparingLong(RecordedRequest::seq));
      return copy;
    }
  }

  /** The last request read whole, if any. */
  public Optional<RecordedRequest> lastRequest() {
    List<RecordedRequest> all = requests();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  public boolean awaitInFlight(int n, Duration timeout) {
    return await(() -> inFlight == n, timeout);
  }

  public boolean awaitServed(long n, Duration timeout) {
    return await(() -> served == n, timeout);
  }

  public boolean awaitConnectionsOpen(int n, Duration timeout) {
    return await(() -> open.size() == n, timeout);
  }

  /** Waits until at least {@code n} requests were read whole. */
  public boolean awaitRequests(int n, Duration timeout) {
    return await(() -> requests.size() >= n, timeout);
  }

  private boolean await(BooleanSupplier condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        try {
          lock.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return true;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Expected bodies, for byte-for-byte checks

  /** Byte {@code i} of the deterministic pattern: {@code a..z} then {@code 0..9}, repeated. */
  public static byte patternByte(long i) {
    int k = (int) (i % 36);
    return (byte) (k < 26 ? 'a' + k : '0' + (k - 26));
  }

  /** {@code length} bytes of the pattern starting at {@code offset}. */
  public static byte[] pattern(long offset, int length) {
    byte[] b = new byte[length];
    for (int i = 0; i < length; i++) {
      b[i] = patternByte(offset + i);
    }
    return b;
  }

  /** The default response body for a request, {@code echoId} being X-Echo-Id or null. */
  public static byte[] echoBody(String method, String target, byte[] body, String echoId) {
    String text = method + " " + target + " " + body.length + " " + sha256Hex(body) + "\n"
        + (echoId == null ? "" : "X-Echo-Id: " + echoId + "\n");
    return text.getBytes(StandardCharsets.UTF_8);
  }

  public static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Serving

  private void acceptLoop(ServerSocket s) {
    while (true) {
      Socket socket;
      try {
        socket = s.accept();
      } catch (IOException e) {
        return; // closed by stop()
      }
      synchronized (lock) {
        if (listener != s) {
          closeQuietly(socket);
          return;
        }
        long id = ++connectionsAccepted;
        Connection c = new Connection(id, socket);
        c.thread = new Thread(c::serve, "test-backend-" + port + "-conn-" + id);
        c.thread.setDaemon(true);
        open.add(c);
        maxConnectionsOpen = Math.max(maxConnectionsOpen, open.size());
        lock.notifyAll();
        c.thread.start();
      }
    }
  }

  /** What to do after a response. */
  private enum Next { KEEP_OPEN, CLOSE }

  private final class Connection {
    final long id;
    final Socket socket;
    Thread thread;

    Connection(long id, Socket socket) {
      this.id = id;
      this.socket = socket;
    }

    void serve() {
      try {
        socket.setTcpNoDelay(true);
        InputStream in = new BufferedInputStream(socket.getInputStream());
        OutputStream out = new BufferedOutputStream(socket.getOutputStream(), WRITE_CHUNK);
        while (true) {
          String requestLine = readLine(in, true);
          if (requestLine == null) {
            return; // the client closed between requests
          }
          if (requestLine.isEmpty()) {
            continue; // a stray CRLF between requests is allowed
          }
          if (serveOne(requestLine, in, out) == Next.CLOSE) {
            return;
          }
        }
      } catch (IOException | RuntimeException e) {
        // the connection is gone, or the request was unreadable; close it
      } finally {
        // the connection is over for this server once it has read its end or given up on it:
        // it stops counting before closing, as a server's own connection count would
        synchronized (lock) {
          open.remove(this);
          lock.notifyAll();
        }
        closeQuietly(socket);
      }
    }

    Next serveOne(String requestLine, InputStream in, OutputStream out) throws IOException {
      String[] parts = requestLine.split(" ", -1);
      List<Header> headers = readHeaders(in);
      long seq;
      synchronized (lock) {
        seq = nextSeq++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        lock.notifyAll();
      }
      boolean servedWhole = false;
      try {
        if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
          writeSimple(out, 400, "bad request line: " + requestLine + "\n", true);
          servedWhole = true;
          return Next.CLOSE;
        }
        String method = parts[0];
        String version = parts[2];
        RecordedRequest request = new RecordedRequest(seq, id, method, parts[1], version,
            List.copyOf(headers), null);
        boolean http10 = version.equals("HTTP/1.0");
        String connectionHeader = String.join(",", request.headers("Connection"))
            .toLowerCase(Locale.ROOT);
        boolean keepAlive = http10
            ? connectionHeader.contains("keep-alive") : !connectionHeader.contains("close");
        if (!http10 && request.header("Expect").orElse("").equalsIgnoreCase("100-continue")) {
          out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        }
        byte[] body = readBody(in, request);
        request = new RecordedRequest(seq, id, method, parts[1], version, request.headers(), body);
        synchronized (lock) {
          requests.add(request);
          lock.notifyAll();
        }

        waitBeforeAnswering();
        if (dieBeforeResponse.test(request)) {
          die();
          return Next.CLOSE;
        }
        if (dieMidResponse.test(request)) {
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n"
              + "X-Request-Seq: " + seq + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.write(pattern(0, 10));
          out.flush();
          die();
          return Next.CLOSE;
        }
        boolean closeAfter = !keepAlive || closeAfterEachResponse || announceClose;
        respond(request, out, keepAlive && !announceClose, http10);
        out.flush();
        servedWhole = true;
        return closeAfter ? Next.CLOSE : Next.KEEP_OPEN;
      } finally {
        synchronized (lock) {
          inFlight--;
          if (servedWhole) {
            served++;
          } else {
            aborted++;
          }
          lock.notifyAll();
        }
      }
    }

    void waitBeforeAnswering() throws IOException {
      try {
        Duration d = delay;
        if (!d.isZero()) {
          Thread.sleep(d.toMillis(), d.toNanosPart() % 1_000_000);
        }
        synchronized (lock) {
          while (held) {
            if (listener == null) {
              // stopped while holding: a stopped server answers nothing. (stop() closes the
              // connections only after the acceptor has left, and a notify in between woke this
              // thread, which then answered in full: a CI run saw the held request served)
              throw new IOException("stopped while holding the response");
            }
            lock.wait();
          }
        }
      } catch (InterruptedException e) {
        throw new IOException("stopped while waiting to answer", e);
      }
    }

    void die() throws IOException {
      if (dieWithReset) {
        socket.setSoLinger(true, 0);
      }
      socket.close();
    }

    void respond(RecordedRequest r, OutputStream out, boolean keepAlive, boolean http10)
        throws IOException {
      StringBuilder head = new StringBuilder("HTTP/1.1 200 OK\r\n");
      head.append("X-Request-Seq: ").append(r.seq()).append("\r\n");
      head.append("X-Backend-Port: ").append(port()).append("\r\n");
      Optional<String> echoId = r.header("X-Echo-Id");
      echoId.ifPresent(v -> head.append("X-Echo-Id: ").append(v).append("\r\n"));
      if (!keepAlive) {
        head.append("Connection: close\r\n");
      } else if (http10) {
        head.append("Connection: keep-alive\r\n");
      }
      boolean withBody = !r.method().equals("HEAD");
      String query = r.target().contains("?") ? r.target().substring(r.target().indexOf('?') + 1)
          : "";
      switch (r.path()) {
        case "/big" -> {
          long n = queryLong(query, "bytes", 0);
          head.append("Content-Type: application/octet-stream\r\nContent-Length: ").append(n);
          writeHead(out, head);
          if (withBody) {
            for (long offset = 0; offset < n; offset += WRITE_CHUNK) {
              out.write(pattern(offset, (int) Math.min(WRITE_CHUNK, n - offset)));
            }
          }
        }
        case "/chunked" -> {
          long chunks = queryLong(query, "chunks", 3);
          int size = (int) queryLong(query, "size", 16);
          head.append("Content-Type: application/octet-stream\r\n");
          boolean chunked = !http10;
          if (chunked) {
            head.append("Transfer-Encoding: chunked");
          } else {
            head.append("Content-Length: ").append(chunks * size); // HTTP/1.0 has no chunks
          }
          writeHead(out, head);
          if (withBody) {
            for (long k = 0; k < chunks; k++) {
              if (chunked) {
                out.write((Integer.toHexString(size) + "\r\n").getBytes(StandardCharsets.US_ASCII));
              }
              out.write(pattern(k * size, size));
              if (chunked) {
                out.write(CRLF);
              }
              out.flush(); // each chunk leaves on its own
            }
            if (chunked) {
              out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            }
          }
        }
        case "/headers" -> {
          StringBuilder text = new StringBuilder();
          for (Header h : r.headers()) {
            text.append(h.name()).append(": ").append(h.value()).append('\n');
          }
          writeWithBody(out, head, text.toString().getBytes(StandardCharsets.UTF_8), withBody);
        }
        default -> writeWithBody(
            out, head, echoBody(r.method(), r.target(), r.body(), echoId.orElse(null)), withBody);
      }
    }

    void writeWithBody(OutputStream out, StringBuilder head, byte[] body, boolean withBody)
        throws IOException {
      head.append("Content-Type: text/plain\r\nContent-Length: ").append(body.length);
      writeHead(out, head);
      if (withBody) {
        out.write(body);
      }
    }

    void writeSimple(OutputStream out, int status, String text, boolean close) throws IOException {
      byte[] body = text.getBytes(StandardCharsets.UTF_8);
      out.write(("HTTP/1.1 " + status + " Status\r\nContent-Type: text/plain\r\nContent-Length: "
          + body.length + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};

  private static void writeHead(OutputStream out, StringBuilder head) throws IOException {
    head.append("\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
  }

  private static long queryLong(String query, String name, long fallback) {
    for (String pair : query.split("&")) {
      if (pair.startsWith(name + "=")) {
        long v = Long.parseLong(pair.substring(name.length() + 1));
        if (v < 0) {
          throw new IllegalArgumentException(name + " must be >= 0");
        }
        return v;
      }
    }
    return fallback;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading HTTP/1.1 by hand

  /** A line without its CRLF (a bare LF is accepted), or null at EOF before any byte if allowed. */
  private static String readLine(InputStream in, boolean eofAllowed) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (eofAllowed && line.size() == 0) {
          return null;
        }
        throw new EOFException("connection closed inside a line");
      }
      if (b == '\n') {
        byte[] bytes = line.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
      }
      if (line.size() >= MAX_HEAD_BYTES) {
        throw new IOException("line longer than " + MAX_HEAD_BYTES + " bytes");
      }
      line.write(b);
    }
  }

  private static List<Header> readHeaders(InputStream in) throws IOException {
    List<Header> headers = new ArrayList<>();
    int total = 0;
    while (true) {
      String line = readLine(in, false);
      if (line.isEmpty()) {
        return headers;
      }
      total += line.length();
      if (total > MAX_HEAD_BYTES) {
        throw new IOException("head longer than " + MAX_HEAD_BYTES + " bytes");
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IOException("bad header line: " + line);
      }
      headers.add(new Header(line.substring(0, colon).trim(), line.substring(colon + 1).trim()));
    }
  }

  private static byte[] readBody(InputStream in, RecordedRequest r) throws IOException {
    List<String> te = r.headers("Transfer-Encoding");
    if (!te.isEmpty() && te.get(te.size() - 1).toLowerCase(Locale.ROOT).endsWith("chunked")) {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      while (true) {
        String sizeLine = readLine(in, false);
        int semi = sizeLine.indexOf(';');
        long size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
        if (size == 0) {
          while (!readLine(in, false).isEmpty()) {
            // trailers: read and dropped
          }
          return body.toByteArray();
        }
        body.write(readExactly(in, size));
        if (!readLine(in, false).isEmpty()) {
          throw new IOException("chunk data not followed by CRLF");
        }
      }
    }
    Optional<String> length = r.header("Content-Length");
    return length.isPresent() ? readExactly(in, Long.parseLong(length.get().trim())) : new byte[0];
  }

  private static byte[] readExactly(InputStream in, long n) throws IOException {
    if (n < 0 || n > Integer.MAX_VALUE - 8) {
      throw new IOException("body length out of range: " + n);
    }
    byte[] b = in.readNBytes((int) n);
    if (b.length != n) {
      throw new EOFException("connection closed after " + b.length + " of " + n + " body bytes");
    }
    return b;
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // closing anyway
    }
  }

  @Override
  public String toString() {
    return "TestBackend[" + address() + "]";
  }
}
