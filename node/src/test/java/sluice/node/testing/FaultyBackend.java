package sluice.node.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A back-end that misbehaves on purpose, for soak tests: besides answering, it resets
 * connections, answers with a status line no HTTP parser can read, closes in the middle of a
 * response, stalls past any sensible response timeout, and can be killed and started again on
 * the same port. It counts what it saw, above all how many requests it had at once.
 *
 * <p>It serves every connection from one selector thread. That is what makes its count of
 * requests in flight exact: a request is in flight from the moment its head has been read until
 * its response was handed to the kernel whole, or its connection was seen closed. In each round
 * of the selector it first reads every ready connection, then ends the requests of connections
 * that closed, and only then starts the requests that arrived; so a dispatcher that closes one
 * connection and then sends a request on another is seen doing exactly that, in that order (on
 * loopback the close reaches this socket before the later request does), and a request counts
 * only beside the requests that really were still open at the dispatcher.
 *
 * <p>Answers: {@code GET|POST /echo...} with 200 and {@link TestBackend#echoBody} (with {@code
 * X-Echo-Id} copied), after a random delay; {@code /big?bytes=N} with N bytes of {@link
 * TestBackend#pattern}. With {@link #faults} on, each request instead meets one fault, drawn at
 * random from a seeded generator: see {@link Fault}. The counters are read from any thread.
 */
public final class FaultyBackend implements AutoCloseable {

  /** What happens to a request instead of an ordinary answer. */
  public enum Fault {
    /** answered as asked */
    NONE,
    /** the connection is reset (SO_LINGER 0) after the request was read, before a byte of answer */
    RESET_BEFORE_RESPONSE,
    /** an answer whose status line is not HTTP at all (the connection stays open) */
    GARBAGE_STATUS_LINE,
    /** a 200 head with Content-Length 1000, 10 body bytes, then the connection closes (reset or FIN) */
    CLOSE_MID_RESPONSE,
    /** the answer comes only after {@code stallMillis}: longer than the dispatcher's response timeout */
    STALL,
    /** answered, then the kept-alive connection is reset without warning */
    RESET_AFTER_RESPONSE
  }

  /** How often each fault is drawn, as fractions of requests; the rest are answered normally. */
  public record FaultRates(double resetBefore, double garbage, double midResponse, double stall, double resetAfter) {
    public static final FaultRates NONE = new FaultRates(0, 0, 0, 0, 0);
  }

  private static final String HOST = "127.0.0.1";
  private static final int MAX_HEAD = 64 * 1024;
  private static final int MAX_BODY = 4 * 1024 * 1024;
  private static final int WRITE_PIECE = 16 * 1024;
  private static final Set<String> KNOWN_PATHS = Set.of("/echo", "/big", "/chunked-bad");
  private static final String[] GARBAGE = {
      "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
      "SSH-2.0-NotHttp\r\n\r\n",
      "garbage \u00ff\u00fe\r\n\r\n",
  };

  private final int minDelayMillis;
  private final int maxDelayMillis;
  private final int stallMillis;
  private final Random random;
  private volatile FaultRates rates = FaultRates.NONE;
  private volatile int port;

  // the serving thread of the current life, and its stop flag
  private final Object life = new Object();
  private Thread thread;
  private volatile boolean killed;
  private Selector selector;

  // counters, written by the serving thread
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong answered = new AtomicLong();
  private final AtomicLong cutOff = new AtomicLong();
  private final AtomicLong connections = new AtomicLong();
  private final AtomicLong kills = new AtomicLong();
  private final AtomicLong unexpected = new AtomicLong();
  private final AtomicLong overlapping = new AtomicLong();
  private final AtomicLongArray faultCounts = new AtomicLongArray(Fault.values().length);
  private volatile int inFlight;
  private volatile int maxInFlight;
  private final List<String> unexpectedSamples = new ArrayList<>();

  /**
   * @param port           0: a free port, kept across restarts
   * @param minDelayMillis shortest time an ordinary answer takes
   * @param maxDelayMillis longest
   * @param stallMillis    how long a {@link Fault#STALL} holds its answer
   * @param seed           of the generator that draws delays and faults
   */
  public FaultyBackend(int port, int minDelayMillis, int maxDelayMillis, int stallMillis, long seed) {
    this.port = port;
    this.minDelayMillis = minDelayMillis;
    this.maxDelayMillis = maxDelayMillis;
    this.stallMillis = stallMillis;
    this.random = new Random(seed);
  }

  /** Faults drawn from now on. */
  public FaultyBackend faults(FaultRates value) {
    rates = value;
    return this;
  }

  public int port() {
    return port;
  }

  // ---- life --------------------------------------------------------------------------------

  /** Listens (again, on the same port after {@link #kill}). Returns this. */
  public FaultyBackend start() {
    synchronized (life) {
      if (thread != null) {
        return this;
      }
      ServerSocketChannel server;
      try {
        selector = Selector.open();
        server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        server.bind(new InetSocketAddress(InetAddress.getByName(HOST), port), 512);
        port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
      } catch (IOException e) {
        throw new UncheckedIOException("faulty back-end cannot listen on " + HOST + ":" + port, e);
      }
      killed = false;
      Selector s = selector;
      thread = new Thread(() -> serve(s, server), "faulty-backend-" + port);
      thread.setDaemon(true);
      thread.start();
      return this;
    }
  }

  /**
   * The back-end dies: the listener closes and every connection is reset, whatever is on it.
   * Returns once nothing is open; the counters stay.
   */
  public void kill() {
    Thread t;
    synchronized (life) {
      t = thread;
      if (t == null) {
        return;
      }
      killed = true;
      selector.wakeup();
      thread = null;
    }
    try {
      t.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (t.isAlive()) {
      throw new IllegalStateException("faulty back-end thread did not stop");
    }
    kills.incrementAndGet();
  }

  @Override
  public void close() {
    kill();
  }

  // ---- what it saw -------------------------------------------------------------------------

  /** Request heads read. */
  public long requests() {
    return requests.get();
  }

  /** Requests whose answer (ordinary, garbage, or cut off by design) was written whole. */
  public long answered() {
    return answered.get();
  }

  /** Requests that ended because their connection closed (by either side) before their answer was written. */
  public long cutOff() {
    return cutOff.get();
  }

  public long connectionsAccepted() {
    return connections.get();
  }

  public long kills() {
    return kills.get();
  }

  public int inFlight() {
    return inFlight;
  }

  /** The most requests in flight at once since creation. */
  public int maxInFlight() {
    return maxInFlight;
  }

  public long faultCount(Fault fault) {
    return faultCounts.get(fault.ordinal());
  }

  public Map<Fault, Long> faultCounts() {
    Map<Fault, Long> m = new EnumMap<>(Fault.class);
    for (Fault f : Fault.values()) {
      m.put(f, faultCount(f));
    }
    return m;
  }

  /**
   * Requests a dispatcher should never have passed on: not parseable, an unknown path, or a
   * request of the test's malformed clients (path {@code /malformed...}).
   */
  public long unexpected() {
    return unexpected.get();
  }

  public List<String> unexpectedSamples() {
    synchronized (unexpectedSamples) {
      return List.copyOf(unexpectedSamples);
    }
  }

  /** Times a request arrived on a connection whose previous request had not been answered yet. */
  public long overlapping() {
    return overlapping.get();
  }

  // ---- serving (the serving thread only) ---------------------------------------------------

  /** A request being read or answered on one connection. */
  private static final class Request {
    String method;
    String target;
    String echoId;
    boolean close;
    /** The body's length, or -1 for chunked. */
    long contentLength;
    Fault fault = Fault.NONE;
  }

  private final class Conn {
    final SocketChannel channel;
    final SelectionKey key;
    byte[] in = new byte[4096];
    int inLength;
    /** How much of {@code in} may be parsed this round (see {@link #serve}). */
    int parseable;
    /** The request in flight (head read, answer not written whole), or null. */
    Request current;
    /** Its head's length, while its body is still being read. */
    int headLength = -1;
    /** Where the current request ended in {@code in}, once it is whole. */
    int requestEnd;
    boolean waitingToAnswer;
    final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
    long bigOffset;
    long bigLength;
    /** What to do once the answer is out. */
    Fault afterWrite = Fault.NONE;
    boolean dead;
    boolean closed;

    Conn(SocketChannel channel, SelectionKey key) {
      this.channel = channel;
      this.key = key;
    }
  }

  private record Timer(long dueNanos, Conn conn, Request request) {}

  private void serve(Selector sel, ServerSocketChannel server) {
    List<Conn> open = new ArrayList<>();
    PriorityQueue<Timer> timers = new PriorityQueue<>((a, b) -> Long.compare(a.dueNanos, b.dueNanos));
    try {
      while (!killed) {
        long waitMillis = 0;
        if (!timers.isEmpty()) {
          waitMillis = Math.max(1, (timers.peek().dueNanos - System.nanoTime() + 999_999) / 1_000_000);
        }
        sel.select(waitMillis);
        if (killed) {
          break;
        }
        readReady(sel, server, open);
        // what has been read so far may start requests this round; what the second look
        // below reads waits for the next round. Any close that reached a socket before a byte
        // parsed now is seen by that second look at the latest, and ends its request first.
        for (Conn c : open) {
          c.parseable = c.inLength;
        }
        if (sel.selectNow() > 0) {
          readReady(sel, server, open);
        }
        for (Conn c : open) {
          if (c.dead && !c.closed) {
            closeConn(c, false);
          }
        }
        for (Conn c : open) {
          if (!c.dead && c.parseable > 0) {
            parse(c, timers);
          }
        }
        long now = System.nanoTime();
        while (!timers.isEmpty() && timers.peek().dueNanos <= now) {
          Timer t = timers.poll();
          if (!t.conn.dead && t.conn.current == t.request) {
            answer(t.conn, t.request);
          }
        }
        open.removeIf(c -> c.closed);
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("faulty back-end " + port + " stopped on " + e);
    } finally {
      for (Conn c : open) {
        if (!c.closed) {
          closeConn(c, true);
        }
      }
      try {
        server.close();
        sel.close();
      } catch (IOException ignored) {
        // dying anyway
      }
    }
  }

  /** Accepts, reads and writes whatever the selector found ready. */
  private void readReady(Selector sel, ServerSocketChannel server, List<Conn> open) throws IOException {
    for (SelectionKey key : sel.selectedKeys()) {
      if (!key.isValid()) {
        continue;
      }
      if (key.isAcceptable()) {
        accept(server, sel, open);
        continue;
      }
      Conn c = (Conn) key.attachment();
      if (key.isReadable()) {
        readAvailable(c);
      }
      if (key.isValid() && key.isWritable() && !c.dead) {
        writePending(c);
      }
    }
    sel.selectedKeys().clear();
  }

  private void accept(ServerSocketChannel server, Selector sel, List<Conn> open) throws IOException {
    SocketChannel ch;
    while ((ch = server.accept()) != null) {
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      SelectionKey key = ch.register(sel, SelectionKey.OP_READ);
      Conn c = new Conn(ch, key);
      key.attach(c);
      open.add(c);
      connections.incrementAndGet();
    }
  }

  private void readAvailable(Conn c) {
    try {
      while (true) {
        if (c.inLength == c.in.length) {
          if (c.in.length >= MAX_HEAD + MAX_BODY) {
            c.dead = true; // far more than any request of the test: treat as garbage
            note("more than " + c.in.length + " bytes unread");
            return;
          }
          c.in = Arrays.copyOf(c.in, c.in.length * 2);
        }
        int n = c.channel.read(ByteBuffer.wrap(c.in, c.inLength, c.in.length - c.inLength));
        if (n < 0) {
          c.dead = true;
          return;
        }
        if (n == 0) {
          return;
        }
        c.inLength += n;
      }
    } catch (IOException reset) {
      c.dead = true;
    }
  }

  /** Starts the request whose head has arrived, and schedules its answer once it is whole. */
  private void parse(Conn c, PriorityQueue<Timer> timers) {
    if (c.current != null && c.headLength < 0) {
      // bytes while a whole request waits for its answer: the dispatcher sent a second request
      overlapping.incrementAndGet();
      note("bytes of a second request before the first was answered");
      c.inLength = 0;
      c.parseable = 0;
      return;
    }
    if (c.current == null) {
      int end = indexOf(c.in, c.parseable, "\r\n\r\n");
      if (end < 0) {
        if (c.parseable > MAX_HEAD) {
          note("head longer than " + MAX_HEAD);
          c.dead = true;
          closeConn(c, true);
        }
        return;
      }
      Request r = readHead(new String(c.in, 0, end, StandardCharsets.ISO_8859_1));
      requests.incrementAndGet();
      if (r == null) {
        closeConn(c, true);
        return;
      }
      c.current = r;
      c.headLength = end + 4;
      inFlight++;
      if (inFlight > maxInFlight) {
        maxInFlight = inFlight;
      }
    }
    byte[] body = body(c);
    if (body == null) {
      return; // not all here yet
    }
    Request r = c.current;
    c.headLength = -1;
    if (c.inLength > c.requestEnd) {
      // the dispatcher sends one request at a time on a connection: nothing may follow it yet
      overlapping.incrementAndGet();
      note("bytes of a second request right behind " + r.method + " " + r.target);
    }
    c.inLength = 0;
    c.parseable = 0;
    c.waitingToAnswer = true;
    r.fault = drawFault();
    faultCounts.incrementAndGet(r.fault.ordinal());
    long delayNanos = (r.fault == Fault.STALL ? stallMillis
        : minDelayMillis + random.nextInt(maxDelayMillis - minDelayMillis + 1)) * 1_000_000L;
    c.out.clear();
    c.bigLength = 0;
    c.bigOffset = 0;
    c.afterWrite = Fault.NONE;
    // the ordinary answer is built now (the body is here); faults replace it when it is due
    if (r.target.startsWith("/big")) {
      c.bigLength = queryLong(r.target, "bytes");
      c.out.add(ascii("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
          + c.bigLength + "\r\n" + (r.close ? "Connection: close\r\n" : "") + "\r\n"));
    } else {
      byte[] echo = TestBackend.echoBody(r.method, r.target, body, r.echoId);
      c.out.add(ascii("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + echo.length + "\r\n"
          + (r.echoId == null ? "" : "X-Echo-Id: " + r.echoId + "\r\n")
          + (r.close ? "Connection: close\r\n" : "") + "\r\n"));
      c.out.add(ByteBuffer.wrap(echo));
    }
    timers.add(new Timer(System.nanoTime() + delayNanos, c, r));
  }

  private Request readHead(String head) {
    String[] lines = head.split("\r\n", -1);
    String[] parts = lines[0].split(" ", -1);
    if (parts.length != 3 || !(parts[2].equals("HTTP/1.1") || parts[2].equals("HTTP/1.0"))) {
      note("bad request line: " + lines[0]);
      return null;
    }
    Request r = new Request();
    r.method = parts[0];
    r.target = parts[1];
    int q = r.target.indexOf('?');
    String path = q < 0 ? r.target : r.target.substring(0, q);
    if (!KNOWN_PATHS.contains(path) || !(r.method.equals("GET") || r.method.equals("POST"))) {
      note("unexpected request: " + lines[0]);
    }
    r.close = parts[2].equals("HTTP/1.0");
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon <= 0) {
        note("bad header line: " + lines[i]);
        return null;
      }
      String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = lines[i].substring(colon + 1).trim();
      switch (name) {
        case "x-echo-id" -> r.echoId = value;
        case "connection" -> r.close = value.toLowerCase(Locale.ROOT).contains("close");
        case "content-length" -> {
          try {
            r.contentLength = r.contentLength < 0 ? -1 : Long.parseLong(value);
          } catch (NumberFormatException e) {
            note("bad Content-Length: " + value);
            return null;
          }
        }
        case "transfer-encoding" -> r.contentLength = value.toLowerCase(Locale.ROOT).endsWith("chunked") ? -1
            : r.contentLength;
        default -> { }
      }
    }
    if (r.contentLength > MAX_BODY) {
      note("body of " + r.contentLength + " bytes");
      return null;
    }
    return r;
  }

  /** The whole body of {@code c}'s current request, or null while it is still arriving. */
  private byte[] body(Conn c) {
    long framing = c.current.contentLength;
    int from = c.headLength;
    if (framing >= 0) {
      if (c.parseable - from < framing) {
        return null;
      }
      c.requestEnd = from + (int) framing;
      return Arrays.copyOfRange(c.in, from, c.requestEnd);
    }
    // chunked: size line, data, CRLF ... 0 CRLF (trailers) CRLF
    java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
    int at = from;
    while (true) {
      int eol = indexOf(c.in, at, c.parseable, "\r\n");
      if (eol < 0) {
        return null;
      }
      String sizeLine = new String(c.in, at, eol - at, StandardCharsets.ISO_8859_1);
      int semi = sizeLine.indexOf(';');
      int size;
      try {
        size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
      } catch (NumberFormatException e) {
        note("bad chunk size line: " + sizeLine);
        closeConn(c, true);
        return null;
      }
      at = eol + 2;
      if (size == 0) {
        int end = indexOf(c.in, at - 2, c.parseable, "\r\n\r\n");
        if (end < 0) {
          return null;
        }
        c.requestEnd = end + 4;
        return body.toByteArray();
      }
      if (c.parseable - at < size + 2) {
        return null;
      }
      body.write(c.in, at, size);
      at += size + 2;
    }
  }

  private Fault drawFault() {
    FaultRates f = rates;
    double x = random.nextDouble();
    if ((x -= f.resetBefore()) < 0) {
      return Fault.RESET_BEFORE_RESPONSE;
    }
    if ((x -= f.garbage()) < 0) {
      return Fault.GARBAGE_STATUS_LINE;
    }
    if ((x -= f.midResponse()) < 0) {
      return Fault.CLOSE_MID_RESPONSE;
    }
    if ((x -= f.stall()) < 0) {
      return Fault.STALL;
    }
    if ((x -= f.resetAfter()) < 0) {
      return Fault.RESET_AFTER_RESPONSE;
    }
    return Fault.NONE;
  }

  /** The request's time has come: its answer, or its fault. */
  private void answer(Conn c, Request r) {
    c.waitingToAnswer = false;
    switch (r.fault) {
      case RESET_BEFORE_RESPONSE -> {
        closeConn(c, true);
        return;
      }
      case GARBAGE_STATUS_LINE -> {
        c.out.clear();
        c.bigLength = 0;
        c.out.add(ascii(GARBAGE[random.nextInt(GARBAGE.length)]));
      }
      case CLOSE_MID_RESPONSE -> {
        c.out.clear();
        c.bigLength = 0;
        c.out.add(ascii("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"));
        c.out.add(ByteBuffer.wrap(TestBackend.pattern(0, 10)));
        c.afterWrite = Fault.CLOSE_MID_RESPONSE;
      }
      case RESET_AFTER_RESPONSE -> c.afterWrite = Fault.RESET_AFTER_RESPONSE;
      default -> { }
    }
    writePending(c);
  }

  /** Writes what the socket takes; when the answer is out whole, ends the request. */
  private void writePending(Conn c) {
    try {
      while (true) {
        ByteBuffer b = c.out.peekFirst();
        if (b == null) {
          if (c.bigOffset >= c.bigLength) {
            break;
          }
          int n = (int) Math.min(WRITE_PIECE, c.bigLength - c.bigOffset);
          b = ByteBuffer.wrap(TestBackend.pattern(c.bigOffset, n));
          c.bigOffset += n;
          c.out.add(b);
        }
        c.channel.write(b);
        if (b.hasRemaining()) {
          c.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
          return;
        }
        c.out.pollFirst();
      }
    } catch (IOException gone) {
      c.dead = true;
      return;
    }
    if (c.waitingToAnswer || c.current == null) {
      return; // nothing to write yet (or only the key's interest was stale)
    }
    c.key.interestOps(SelectionKey.OP_READ);
    Request r = c.current;
    c.current = null;
    inFlight--;
    answered.incrementAndGet();
    if (c.afterWrite == Fault.CLOSE_MID_RESPONSE) {
      closeConn(c, random.nextBoolean());
    } else if (c.afterWrite == Fault.RESET_AFTER_RESPONSE) {
      closeConn(c, true);
    } else if (r.close) {
      closeConn(c, false);
    }
  }

  /** Closes {@code c} (with a reset, or an orderly FIN); a request still on it was cut off. */
  private void closeConn(Conn c, boolean reset) {
    if (c.closed) {
      return;
    }
    c.closed = true;
    c.dead = true;
    if (c.current != null) {
      c.current = null;
      inFlight--;
      cutOff.incrementAndGet();
    }
    try {
      if (reset) {
        c.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
      }
      c.key.cancel();
      c.channel.close();
    } catch (IOException ignored) {
      // closed either way
    }
  }

  private void note(String what) {
    unexpected.incrementAndGet();
    synchronized (unexpectedSamples) {
      if (unexpectedSamples.size() < 20) {
        unexpectedSamples.add(what);
      }
    }
  }

  private static ByteBuffer ascii(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static long queryLong(String target, String name) {
    int q = target.indexOf('?');
    if (q >= 0) {
      for (String pair : target.substring(q + 1).split("&")) {
        if (pair.startsWith(name + "=")) {
          return Long.parseLong(pair.substring(name.length() + 1));
        }
      }
    }
    return 0;
  }

  private static int indexOf(byte[] b, int length, String what) {
    return indexOf(b, 0, length, what);
  }

  private static int indexOf(byte[] b, int from, int length, String what) {
    outer:
    for (int i = Math.max(0, from); i + what.length() <= length; i++) {
      for (int j = 0; j < what.length(); j++) {
        if (b[i + j] != what.charAt(j)) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Override
  public String toString() {
    return "FaultyBackend[" + HOST + ":" + port + "]";
  }
}
