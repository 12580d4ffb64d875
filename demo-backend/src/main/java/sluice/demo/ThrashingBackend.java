package sluice.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP/1.1 back-end that thrashes when handed too many requests at once: requests in service
 * share it under the Universal Scalability Law ({@link ThrashingParams}), so its throughput rises
 * up to a best concurrency and falls beyond it. The dispatcher's {@code --demo} mode and the bench
 * module put it behind Sluice to show what a concurrency limit buys.
 *
 * <p>Endpoints: any path answers 200 with a body of the configured size once its simulated
 * service is done. Not subject to service: {@code GET /stats} (JSON counters and parameters),
 * {@code POST /admin/params?s0=5ms&alpha=..&beta=..&body=..} (change any subset mid-run), {@code
 * POST /admin/reset-max} (maxInFlight back to the current inFlight).
 *
 * <p>Why a lean NIO server and not Pekko HTTP: the whole simulation is one event loop thread
 * that owns every connection and the processor-sharing state, so there are no locks and the
 * arrival, departure and timer events are handled in one order; the loop sleeps in {@code
 * select} until the next departure is due, with sub-millisecond precision (a final {@code
 * parkNanos} below 1 ms). Pekko's default scheduler ticks every 10 ms, which would blur a 2 ms
 * service time, and sharing the dispatcher's ActorSystem in demo mode would make the back-end
 * and the dispatcher compete on the same threads, distorting what the demo measures. One loop
 * thread also means the back-end uses at most one core, whatever the load. HTTP/1.1 here is what
 * a load test needs: keep-alive, HTTP/1.0, Connection: close, Content-Length and chunked request
 * bodies (read and discarded), Expect: 100-continue; pipelined requests wait their turn, as
 * behind most servers: a connection has at most one request in service.
 *
 * <p>Invariants: a connection is in exactly one state of {@link Conn.State}; only the loop thread
 * changes connections, the {@link ProcessorSharing} state and the counters. Other threads read
 * the counters (volatile, one writer) and hand changes to the loop as tasks.
 */
public final class ThrashingBackend implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ThrashingBackend.class);

  private static final int IN_BUFFER_BYTES = 16 * 1024;
  private static final byte[] CONTINUE_100 =
      "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);
  /**
   * Departures due this soon are handled now: a timed wait overshoots by at least this much
   * (Linux timer slack is 50 us; more in a VM), so waiting for them would only make them later.
   */
  private static final long EARLY_NANOS = 50_000L;

  private final String host;
  private final int requestedPort;
  private final ProcessorSharing<Conn> sharing;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final ArrayDeque<Conn> completed = new ArrayDeque<>();
  private final Set<Conn> open = new HashSet<>();

  private volatile ThrashingParams params;
  private volatile long served;
  private volatile int inFlight;
  private volatile int maxInFlight;
  private volatile int boundPort = -1;
  private volatile boolean running;

  private Responses responses;
  private Selector selector;
  private ServerSocketChannel server;
  private Thread loop;

  private ThrashingBackend(String host, int port, ThrashingParams params) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
    }
    this.host = host;
    this.requestedPort = port;
    this.params = params;
    this.sharing = new ProcessorSharing<>(params);
    this.responses = new Responses(params.bodyBytes());
  }

  /** A back-end that will listen on {@code host:port} (port 0 picks a free one) once started. */
  public static ThrashingBackend create(String host, int port, ThrashingParams params) {
    return new ThrashingBackend(host, port, params);
  }

  /** As {@link #create(String, int, ThrashingParams)}, with each parameter given. */
  public static ThrashingBackend create(
      String host, int port, Duration s0, double alpha, double beta, int bodyBytes) {
    return create(host, port, new ThrashingParams(s0, alpha, beta, bodyBytes));
  }

  /** Binds and starts serving; returns this. The bound port is then {@link #port()}. */
  public synchronized ThrashingBackend start() {
    if (running) {
      return this;
    }
    try {
      selector = Selector.open();
      server = ServerSocketChannel.open();
      server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      server.bind(new InetSocketAddress(host, requestedPort), 1024);
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
      boundPort = ((InetSocketAddress) server.getLocalAddress()).getPort();
    } catch (IOException e) {
      closeQuietly(server);
      closeQuietly(selector);
      throw new UncheckedIOException("thrashing back-end cannot bind " + host + ":" + requestedPort, e);
    }
    running = true;
    loop = new Thread(this::runLoop, "thrashing-backend-" + boundPort);
    loop.setDaemon(true);
    loop.start();
    log.info("thrashing back-end {}: listening, {}", id(), params);
    return this;
  }

  /** Closes the listening socket and every connection; requests in service get no answer. */
  public synchronized void stop() {
    if (!running) {
      return;
    }
    running = false;
    selector.wakeup();
    try {
      loop.join(CALL_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.info("thrashing back-end {}: stopped after {} served", id(), served);
  }

  @Override
  public void close() {
    stop();
  }

  /** Blocks until the back-end is stopped (for {@link #main}). */
  public void awaitStop() throws InterruptedException {
    Thread t;
    synchronized (this) {
      t = loop;
    }
    if (t != null) {
      t.join();
    }
  }

  public String host() {
    return host;
  }

  /** The bound port once started, else the requested one. */
  public int port() {
    return boundPort >= 0 ? boundPort : requestedPort;
  }

  public ThrashingParams params() {
    return params;
  }

  /** Best concurrency of the current parameters, {@code sqrt((1-alpha)/beta)}. */
  public double bestN() {
    return params.bestN();
  }

  /** Highest throughput of the current parameters, in requests per second. */
  public double peakThroughput() {
    return params.peakThroughput();
  }

  /** Changes the parameters mid-run; work already done by requests in service is kept. */
  public void setParams(ThrashingParams next) {
    callOnLoop(() -> applyParams(next));
  }

  /** Sets maxInFlight back to the number in service now. */
  public void resetMaxInFlight() {
    callOnLoop(() -> maxInFlight = inFlight);
  }

  public Stats stats() {
    return new Stats(served, inFlight, maxInFlight, params);
  }

  /**
   * Counters since start.
   *
   * @param served      requests whose service completed
   * @param inFlight    requests in service now
   * @param maxInFlight most requests in service at once since start or the last reset
   */
  public record Stats(long served, int inFlight, int maxInFlight, ThrashingParams params) {
    public String toJson() {
      return "{\"served\":" + served + ",\"inFlight\":" + inFlight + ",\"maxInFlight\":"
          + maxInFlight + "," + params.toJsonMembers() + "}";
    }
  }

  private String id() {
    return host + ":" + port();
  }

  // ---------------------------------------------------------------------------------------------
  // The event loop

  private void callOnLoop(Runnable action) {
    CompletableFuture<Void> done;
    synchronized (this) {
      if (!running) {
        action.run();
        return;
      }
      if (Thread.currentThread() == loop) {
        action.run();
        return;
      }
      done = new CompletableFuture<>();
      tasks.add(() -> {
        try {
          action.run();
          done.complete(null);
        } catch (RuntimeException e) {
          done.completeExceptionally(e);
        }
      });
      selector.wakeup();
    }
    try {
      done.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw (RuntimeException) e.getCause();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("thrashing back-end " + id() + " event loop is stuck", e);
    }
  }

  private void applyParams(ThrashingParams next) {
    sharing.changeParams(next, System.nanoTime(), completed::add);
    if (next.bodyBytes() != params.bodyBytes()) {
      responses = new Responses(next.bodyBytes());
    }
    params = next;
    inFlight = sharing.inService();
    log.info("thrashing back-end {}: params now {}", id(), next);
  }

  private void runLoop() {
    try {
      while (running) {
        Runnable task;
        while ((task = tasks.poll()) != null) {
          task.run();
        }
        sharing.advance(System.nanoTime() + EARLY_NANOS, completed::add);
        respondCompleted();
        waitForEvents();
        Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
          SelectionKey key = keys.next();
          keys.remove();
          if (!key.isValid()) {
            continue;
          }
          if (key.isAcceptable()) {
            accept();
          } else {
            Conn conn = (Conn) key.attachment();
            if (key.isWritable()) {
              conn.onWritable();
            } else if (key.isReadable()) {
              conn.onReadable();
            }
          }
          respondCompleted();
        }
      }
    } catch (IOException | RuntimeException e) {
      log.error("thrashing back-end {}: event loop failed, stopping", id(), e);
      running = false;
    } finally {
      for (Conn conn : open.toArray(new Conn[0])) {
        conn.close();
      }
      sharing.clear();
      completed.clear();
      inFlight = 0;
      closeQuietly(server);
      closeQuietly(selector);
      Runnable task;
      while ((task = tasks.poll()) != null) {
        task.run();
      }
    }
  }

  /** Waits for I/O, a task, or the next departure, whichever comes first. */
  private void waitForEvents() throws IOException {
    long next = sharing.nextCompletionNanos();
    if (next == Long.MAX_VALUE) {
      selector.select();
      return;
    }
    long waitNanos = next - EARLY_NANOS - System.nanoTime();
    if (waitNanos >= 1_000_000L) {
      selector.select(waitNanos / 1_000_000L); // epoll waits whole milliseconds: wakes early
    } else if (waitNanos > 0) {
      LockSupport.parkNanos(waitNanos); // the last sub-millisecond stretch, then look at I/O
      selector.selectNow();
    } else {
      selector.selectNow();
    }
  }

  private void accept() {
    while (true) {
      SocketChannel ch = null;
      try {
        ch = server.accept();
        if (ch == null) {
          return;
        }
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        Conn conn = new Conn(ch);
        conn.key = ch.register(selector, SelectionKey.OP_READ, conn);
        open.add(conn);
      } catch (IOException e) {
        log.warn("thrashing back-end {}: accept failed: {}", id(), e.toString());
        closeQuietly(ch);
        return;
      }
    }
  }

  private void respondCompleted() {
    Conn conn;
    while ((conn = completed.poll()) != null) {
      served++;
      conn.onServiceDone();
    }
    inFlight = sharing.inService();
  }

  private void admit(Conn conn) {
    int now = sharing.inService() + 1;
    if (now > maxInFlight) {
      maxInFlight = now;
    }
    inFlight = now;
    sharing.admit(conn, System.nanoTime(), completed::add);
  }

  // ---------------------------------------------------------------------------------------------
  // One client connection

  private final class Conn {
    enum State { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, SERVICE, WRITING, CLOSED }

    final SocketChannel ch;
    final byte[] buf = new byte[IN_BUFFER_BYTES];
    final ByteBuffer bufView = ByteBuffer.wrap(buf);
    SelectionKey key;
    int readPos;
    int writePos;
    State state = State.HEAD;
    long bodyRemaining;
    // the request being read or served
    String method;
    String target;
    boolean keepAlive;
    boolean http10;
    // the response being written
    ByteBuffer out;
    boolean closeAfterWrite;

    Conn(SocketChannel ch) {
      this.ch = ch;
    }

    void onReadable() {
      try {
        if (writePos == buf.length) {
          compact();
        }
        bufView.limit(buf.length).position(writePos);
        int n = ch.read(bufView);
        if (n < 0) {
          close();
          return;
        }
        writePos = bufView.position();
        process();
      } catch (IOException e) {
        close();
      }
    }

    void onWritable() {
      try {
        writeOut();
        if (state == State.HEAD) {
          process();
        }
      } catch (IOException e) {
        close();
      }
    }

    void onServiceDone() {
      if (state != State.SERVICE) {
        return; // closed while in service: the work was done, nobody to tell
      }
      Responses r = responses;
      byte[] bytes = !keepAlive ? r.close : http10 ? r.http10KeepAlive : r.keepAlive;
      int length = method.equals("HEAD") ? bytes.length - r.bodyBytes : bytes.length;
      send(ByteBuffer.wrap(bytes, 0, length), !keepAlive);
      if (state == State.HEAD && readPos < writePos) {
        try {
          process(); // a pipelined request was already read
        } catch (IOException e) {
          close();
        }
      }
    }

    /** Reads requests out of the buffer until one needs more bytes or goes into service. */
    void process() throws IOException {
      while (true) {
        switch (state) {
          case HEAD -> {
            int end = indexOfHeadEnd();
            if (end < 0) {
              needMore();
              return;
            }
            String head = new String(buf, readPos, end - readPos, StandardCharsets.ISO_8859_1);
            readPos = end + 4;
            if (!parseHead(head)) {
              return;
            }
          }
          case BODY, CHUNK_DATA -> {
            int n = (int) Math.min(bodyRemaining, writePos - readPos);
            readPos += n;
            bodyRemaining -= n;
            if (bodyRemaining > 0) {
              needMore();
              return;
            }
            if (state == State.BODY) {
              dispatch();
            } else {
              state = State.CHUNK_END;
            }
          }
          case CHUNK_SIZE -> {
            String line = readLine();
            if (line == null) {
              return;
            }
            int semi = line.indexOf(';');
            String hex = (semi >= 0 ? line.substring(0, semi) : line).trim();
            try {
              bodyRemaining = Long.parseLong(hex, 16);
            } catch (NumberFormatException e) {
              bodyRemaining = -1;
            }
            if (bodyRemaining < 0) {
              fail(400, "bad chunk size");
              return;
            }
            state = bodyRemaining == 0 ? State.TRAILERS : State.CHUNK_DATA;
          }
          case CHUNK_END -> {
            String line = readLine();
            if (line == null) {
              return;
            }
            if (!line.isEmpty()) {
              fail(400, "chunk not followed by CRLF");
              return;
            }
            state = State.CHUNK_SIZE;
          }
          case TRAILERS -> {
            String line = readLine();
            if (line == null) {
              return;
            }
            if (line.isEmpty()) {
              dispatch();
            }
          }
          case SERVICE, WRITING, CLOSED -> {
            return;
          }
        }
      }
    }

    /** Parses a request head; false if it was answered with an error. */
    boolean parseHead(String head) throws IOException {
      int lineEnd = head.indexOf("\r\n");
      String requestLine = lineEnd < 0 ? head : head.substring(0, lineEnd);
      int sp1 = requestLine.indexOf(' ');
      int sp2 = requestLine.lastIndexOf(' ');
      if (sp1 <= 0 || sp2 <= sp1) {
        fail(400, "bad request line");
        return false;
      }
      method = requestLine.substring(0, sp1);
      target = requestLine.substring(sp1 + 1, sp2);
      String version = requestLine.substring(sp2 + 1);
      if (!version.equals("HTTP/1.1") && !version.equals("HTTP/1.0")) {
        fail(505, "only HTTP/1.0 and HTTP/1.1");
        return false;
      }
      http10 = version.equals("HTTP/1.0");
      boolean connClose = false;
      boolean connKeepAlive = false;
      boolean chunked = false;
      boolean expectContinue = false;
      long contentLength = 0;
      int pos = lineEnd < 0 ? head.length() : lineEnd + 2;
      while (pos < head.length()) {
        int next = head.indexOf("\r\n", pos);
        if (next < 0) {
          next = head.length();
        }
        int colon = head.indexOf(':', pos);
        if (colon > pos && colon < next) {
          String name = head.substring(pos, colon).trim();
          String value = head.substring(colon + 1, next).trim();
          if (name.equalsIgnoreCase("Connection")) {
            String v = value.toLowerCase(Locale.ROOT);
            connClose |= v.contains("close");
            connKeepAlive |= v.contains("keep-alive");
          } else if (name.equalsIgnoreCase("Content-Length")) {
            try {
              contentLength = Long.parseLong(value);
            } catch (NumberFormatException e) {
              contentLength = -1;
            }
            if (contentLength < 0) {
              fail(400, "bad Content-Length");
              return false;
            }
          } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
            chunked = value.toLowerCase(Locale.ROOT).endsWith("chunked");
          } else if (name.equalsIgnoreCase("Expect")) {
            expectContinue = value.equalsIgnoreCase("100-continue");
          }
        }
        pos = next + 2;
      }
      keepAlive = http10 ? connKeepAlive && !connClose : !connClose;
      if (chunked) {
        state = State.CHUNK_SIZE;
      } else if (contentLength > 0) {
        state = State.BODY;
        bodyRemaining = contentLength;
      } else {
        dispatch();
        return true;
      }
      if (expectContinue && !http10 && writePos == readPos) {
        ch.write(ByteBuffer.wrap(CONTINUE_100)); // 25 bytes into an idle socket
      }
      return true;
    }

    /** The whole request is read: answer it now, or put it into service. */
    void dispatch() throws IOException {
      String path = target;
      if (path.startsWith("http://") || path.startsWith("https://")) {
        int slash = path.indexOf('/', path.indexOf("//") + 2);
        path = slash < 0 ? "/" : path.substring(slash);
      }
      int q = path.indexOf('?');
      String query = q < 0 ? "" : path.substring(q + 1);
      path = q < 0 ? path : path.substring(0, q);
      if (path.equals("/stats")) {
        if (method.equals("GET") || method.equals("HEAD")) {
          sendJson(200, stats().toJson());
        } else {
          fail(405, "use GET /stats");
        }
      } else if (path.startsWith("/admin/")) {
        admin(path, query);
      } else {
        state = State.SERVICE;
        key.interestOps(0); // pipelined requests wait in the socket
        admit(this);
      }
    }

    void admin(String path, String query) throws IOException {
      if (!method.equals("POST")) {
        fail(405, "use POST " + path);
        return;
      }
      switch (path) {
        case "/admin/params" -> {
          try {
            applyParams(paramsFromQuery(params, query));
          } catch (IllegalArgumentException e) {
            sendText(400, e.getMessage() + "\n", !keepAlive);
            return;
          }
          sendJson(200, stats().toJson());
        }
        case "/admin/reset-max" -> {
          maxInFlight = inFlight;
          sendJson(200, stats().toJson());
        }
        default -> sendText(404, "no such admin endpoint: " + path + "\n", !keepAlive);
      }
    }

    void fail(int status, String message) throws IOException {
      sendText(status, message + "\n", true);
    }

    void sendJson(int status, String json) throws IOException {
      sendSmall(status, "application/json", json + "\n", !keepAlive);
    }

    void sendText(int status, String text, boolean close) throws IOException {
      sendSmall(status, "text/plain; charset=utf-8", text, close);
    }

    void sendSmall(int status, String contentType, String body, boolean close) throws IOException {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      String head = "HTTP/1.1 " + status + " " + reason(status) + "\r\nContent-Type: " + contentType
          + "\r\nContent-Length: " + bytes.length + "\r\n"
          + (close ? "Connection: close\r\n" : http10 ? "Connection: keep-alive\r\n" : "")
          + "\r\n";
      byte[] headBytes = head.getBytes(StandardCharsets.ISO_8859_1);
      boolean withBody = !"HEAD".equals(method);
      ByteBuffer b = ByteBuffer.allocate(headBytes.length + (withBody ? bytes.length : 0));
      b.put(headBytes);
      if (withBody) {
        b.put(bytes);
      }
      b.flip();
      send(b, close);
    }

    void send(ByteBuffer response, boolean close) {
      out = response;
      closeAfterWrite = close;
      state = State.WRITING;
      try {
        writeOut();
      } catch (IOException e) {
        close();
      }
    }

    void writeOut() throws IOException {
      ch.write(out);
      if (out.hasRemaining()) {
        key.interestOps(SelectionKey.OP_WRITE);
        return;
      }
      out = null;
      if (closeAfterWrite) {
        close();
        return;
      }
      state = State.HEAD;
      key.interestOps(SelectionKey.OP_READ);
    }

    int indexOfHeadEnd() {
      for (int i = readPos; i + 3 < writePos; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
          return i;
        }
      }
      return -1;
    }

    /** The next CRLF-terminated line without its CRLF, or null (and more is read) if incomplete. */
    String readLine() throws IOException {
      for (int i = readPos; i + 1 < writePos; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
          String line = new String(buf, readPos, i - readPos, StandardCharsets.ISO_8859_1);
          readPos = i + 2;
          return line;
        }
      }
      needMore();
      return null;
    }

    void needMore() throws IOException {
      if (readPos == writePos) {
        readPos = 0;
        writePos = 0;
      } else if (readPos == 0 && writePos == buf.length) {
        fail(431, "request head or line longer than " + IN_BUFFER_BYTES + " bytes");
      }
    }

    void compact() {
      System.arraycopy(buf, readPos, buf, 0, writePos - readPos);
      writePos -= readPos;
      readPos = 0;
    }

    void close() {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED; // if it was in service, the work goes on and nobody hears of it
      open.remove(this);
      if (key != null) {
        key.cancel();
      }
      closeQuietly(ch);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Precomputed answers for the served requests

  private static final class Responses {
    final byte[] keepAlive;
    final byte[] http10KeepAlive;
    final byte[] close;
    final int bodyBytes;

    Responses(int bodyBytes) {
      byte[] body = new byte[bodyBytes];
      for (int i = 0; i < bodyBytes; i++) {
        body[i] = (byte) (i % 64 == 63 ? '\n' : 'a' + i % 26);
      }
      String head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + bodyBytes;
      keepAlive = concat(head + "\r\n\r\n", body);
      http10KeepAlive = concat(head + "\r\nConnection: keep-alive\r\n\r\n", body);
      close = concat(head + "\r\nConnection: close\r\n\r\n", body);
      this.bodyBytes = bodyBytes;
    }

    private static byte[] concat(String head, byte[] body) {
      byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
      byte[] all = new byte[h.length + body.length];
      System.arraycopy(h, 0, all, 0, h.length);
      System.arraycopy(body, 0, all, h.length, body.length);
      return all;
    }
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 431 -> "Request Header Fields Too Large";
      case 505 -> "HTTP Version Not Supported";
      default -> "Status";
    };
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception ignored) {
        // closing anyway
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Parsing parameters: the admin endpoint and the command line

  /** {@code base} with whatever of s0, alpha, beta, body the query string sets. */
  static ThrashingParams paramsFromQuery(ThrashingParams base, String query) {
    Map<String, String> values = new LinkedHashMap<>();
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      values.put(name, value);
    }
    return withValues(base, values);
  }

  private static ThrashingParams withValues(ThrashingParams base, Map<String, String> values) {
    ThrashingParams p = base;
    for (Map.Entry<String, String> e : values.entrySet()) {
      String v = e.getValue();
      p = switch (e.getKey()) {
        case "s0" -> p.withS0(parseDuration("s0", v));
        case "alpha" -> p.withAlpha(parseDouble("alpha", v));
        case "beta" -> p.withBeta(parseDouble("beta", v));
        case "body" -> p.withBodyBytes(parseInt("body", v, 0, ThrashingParams.MAX_BODY_BYTES));
        default -> throw new IllegalArgumentException(
            "unknown parameter '" + e.getKey() + "' (known: s0, alpha, beta, body)");
      };
    }
    return p;
  }

  /**
   * A duration such as {@code 5ms}, {@code 2.5ms}, {@code 500us}, {@code 1s}, {@code 0} or ISO-8601
   * {@code PT0.005S}.
   */
  static Duration parseDuration(String name, String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.startsWith("p")) {
        return Duration.parse(text.trim());
      }
      int unitAt = 0;
      while (unitAt < t.length() && (Character.isDigit(t.charAt(unitAt)) || t.charAt(unitAt) == '.')) {
        unitAt++;
      }
      BigDecimal number = new BigDecimal(t.substring(0, unitAt));
      String unit = t.substring(unitAt).trim();
      long nanosPerUnit = switch (unit) {
        case "ns" -> 1L;
        case "us", "µs" -> 1_000L;
        case "ms" -> 1_000_000L;
        case "s" -> 1_000_000_000L;
        case "" -> {
          if (number.signum() == 0) {
            yield 1L;
          }
          throw new IllegalArgumentException("no unit");
        }
        default -> throw new IllegalArgumentException("unknown unit");
      };
      return Duration.ofNanos(number.multiply(BigDecimal.valueOf(nanosPerUnit)).longValueExact());
    } catch (RuntimeException e) { // number, unit, range or ISO syntax
      throw badDuration(name, text);
    }
  }

  private static IllegalArgumentException badDuration(String name, String text) {
    return new IllegalArgumentException(
        name + " must be a duration >= 0 with a unit (ns, us, ms, s), e.g. 5ms; got '" + text + "'");
  }

  private static double parseDouble(String name, String text) {
    try {
      return Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number; got '" + text + "'");
    }
  }

  private static int parseInt(String name, String text, int min, int max) {
    int value;
    try {
      value = Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          name + " must be a whole number in [" + min + ", " + max + "]; got '" + text + "'");
    }
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          name + " must be in [" + min + ", " + max + "]; got " + value);
    }
    return value;
  }

  /** What the command line asks for. */
  record CommandLine(String host, int port, ThrashingParams params) {}

  static final String USAGE = """
      usage: ThrashingBackend [--host 127.0.0.1] [--port 9001] [--s0 2ms] [--alpha 0.04]
                              [--beta 0.0024] [--body 100]
        --host   address to bind (default 127.0.0.1)
        --port   port to bind, 0 picks a free one (default 9001)
        --s0     service time of one request alone: 5ms, 500us, 0 ... (default 2ms)
        --alpha  contention, in [0, 1] (default 0.04)
        --beta   coherency, in [0, 1] (default 0.0024); best N = sqrt((1-alpha)/beta)
        --body   response body size in bytes (default 100)
      """;

  /** Parses {@code --name value} or {@code --name=value} options; throws on anything wrong. */
  static CommandLine parseCommandLine(String[] args) {
    String host = "127.0.0.1";
    int port = 9001;
    Map<String, String> values = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + arg + "'");
      }
      String name = arg.substring(2);
      String value;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new IllegalArgumentException("--" + name + " needs a value");
      }
      switch (name) {
        case "host" -> host = value;
        case "port" -> port = parseInt("--port", value, 0, 65535);
        case "s0", "alpha", "beta", "body" -> values.put(name, value);
        default -> throw new IllegalArgumentException("unknown option --" + name);
      }
    }
    try {
      return new CommandLine(host, port, withValues(ThrashingParams.DEFAULTS, values));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--" + e.getMessage(), e);
    }
  }

  /** Runs a thrashing back-end until the process is stopped. */
  public static void main(String[] args) throws InterruptedException {
    if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
      System.out.print(USAGE);
      return;
    }
    CommandLine cl;
    try {
      cl = parseCommandLine(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }
    ThrashingBackend backend = create(cl.host(), cl.port(), cl.params());
    try {
      backend.start();
    } catch (UncheckedIOException e) {
      System.err.println("error: " + e.getMessage() + ": " + e.getCause().getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(backend::stop, "thrashing-backend-shutdown"));
    System.out.println("thrashing back-end on " + cl.host() + ":" + backend.port() + ", "
        + backend.params());
    backend.awaitStop();
  }
}
