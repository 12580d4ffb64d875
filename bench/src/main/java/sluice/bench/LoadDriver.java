package sluice.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * HTTP/1.1 load over keep-alive connections, a few NIO threads for any number of connections.
 *
 * <p>Closed loop: each active connection sends its next request as soon as the previous response
 * is read; latency is from send to the end of the response. Open loop: requests are due at a
 * fixed rate whatever happens; a due request goes out on an idle connection or waits in the
 * driver's backlog, and its latency counts from when it was due (intended send time), so a slow
 * target cannot hide its queueing by slowing the driver down (no coordinated omission).
 *
 * <p>Connections beyond {@code activeConnections} are opened and then left idle (the "many
 * connections" case): they connect and never send a request. A connection that fails or that the
 * target closes is reopened after a short pause; the failure counts as an error.
 *
 * <p>Burst ({@link Config#burst}): instead of opening the connections first (at most 256 pending
 * connects per thread) and starting the load once all are open, every socket is created and
 * registered beforehand and then all connect() calls are issued together at the start of the run;
 * each connection sends its first request the moment it is connected and goes on in a closed
 * loop. The time from each connection's connect() call to the end of its first response goes into
 * a histogram of its own ({@link Burst}).
 *
 * <p>Short connections ({@link Config#shortConnections}, as {@code ab} without {@code -k}): each
 * active connection carries one HTTP/1.0 request and is closed as soon as its response has been
 * read, and a new connection is opened at once in its place; latency is the connection time, from
 * the connect() call to the end of the response, and goodput counts completed connections.
 *
 * <p>Invariants: a connection is in exactly one state of {@link Conn.State}; only its thread
 * touches it. The per-thread counters are merged after the threads have stopped.
 */
public final class LoadDriver {

  /**
   * What to run.
   *
   * @param targets           addresses; connection i goes to targets[i % targets.length]
   * @param connections       connections to open
   * @param activeConnections how many of them carry load (the rest stay open and idle)
   * @param ratePerSecond     0 for a closed loop, else the open-loop arrival rate
   * @param warmup            load that is not counted
   * @param measure           the counted window, after the warm-up
   * @param threads           NIO threads
   * @param burst             all connects at once at the start of the run, each connection's
   *                          first-response time recorded (closed loop, every connection active)
   * @param shortConnections  one HTTP/1.0 request per connection, closed after its response and
   *                          replaced at once by a new one (closed loop, every connection active)
   */
  public record Config(List<InetSocketAddress> targets, int connections, int activeConnections,
      double ratePerSecond, Duration warmup, Duration measure, int threads, boolean burst,
      boolean shortConnections) {
    public Config {
      if (activeConnections > connections || connections < 1 || threads < 1) {
        throw new IllegalArgumentException("bad driver config " + connections + "/" + activeConnections);
      }
      if (burst && (activeConnections != connections || ratePerSecond > 0)) {
        throw new IllegalArgumentException("a burst is a closed loop over all its connections");
      }
      if (shortConnections && (burst || activeConnections != connections || ratePerSecond > 0)) {
        throw new IllegalArgumentException("short connections are a closed loop over all its connections, no burst");
      }
    }

    public Config(List<InetSocketAddress> targets, int connections, int activeConnections,
        double ratePerSecond, Duration warmup, Duration measure, int threads, boolean burst) {
      this(targets, connections, activeConnections, ratePerSecond, warmup, measure, threads, burst, false);
    }

    public Config(List<InetSocketAddress> targets, int connections, int activeConnections,
        double ratePerSecond, Duration warmup, Duration measure, int threads) {
      this(targets, connections, activeConnections, ratePerSecond, warmup, measure, threads, false);
    }

    public static Config closed(List<InetSocketAddress> targets, int connections, Duration warmup,
        Duration measure) {
      return new Config(targets, connections, connections, 0, warmup, measure, 2);
    }

    /** {@code connections} connects issued at once, then a closed loop over all of them. */
    public static Config burst(List<InetSocketAddress> targets, int connections, Duration warmup,
        Duration measure) {
      return new Config(targets, connections, connections, 0, warmup, measure, 2, true);
    }

    /**
     * {@code connections} clients in a closed loop, each connection carrying one HTTP/1.0 request
     * (like {@code ab} without {@code -k}).
     */
    public static Config shortConnections(List<InetSocketAddress> targets, int connections, Duration warmup,
        Duration measure) {
      return new Config(targets, connections, connections, 0, warmup, measure, 2, false, true);
    }
  }

  /** Called on the driver's calling thread at the edges of the counted window and every second. */
  public interface Observer {
    default void measureStart() {}

    default void second(int secondOfRun) {}

    default void measureEnd() {}
  }

  /** One second of the run (counted from the start of the warm-up). */
  public record Second(int t, long ok, long errors, double p50Millis, double p99Millis) {}

  /**
   * The outcome. Rates are over the counted window; latencies are of 2xx responses completed in it.
   * {@code idleOpenAtEnd}: connections beyond {@code activeConnections} still open when the load
   * stopped; {@code idleFailures}: how often one of those failed or was closed by the target
   * (each is then reopened). {@code burst} is null unless {@link Config#burst}.
   */
  public record Result(double goodput, double errorsPerSecond, Map<String, Long> errorKinds,
      double p50Millis, double p90Millis, double p99Millis, double p999Millis, double maxMillis,
      long unfinished, int connected, double driverCpuCores, long backlogMax, List<Second> series,
      long idleOpenAtEnd, long idleFailures, Burst burst) {}

  /**
   * The first responses of a burst. First-response time: from a connection's connect() call to the
   * end of its first response (2xx only; a non-2xx first response or a connection that failed
   * before it counts in {@code firstFailed}). The percentiles are over all {@code connections}: a
   * connection without a first 2xx counts as longer than the run, so a percentile that falls on one
   * is NaN (and so is the max unless every connection had one).
   * {@code connectSpreadMillis}: from the first connect() call to the last;
   * {@code connectLoopCpuMillis}: CPU of the driver's threads while they issued the connects (on
   * loopback the kernel runs both ends of the handshake in the connecting thread).
   * {@code lastFirstMillis}: from the start of the run to the last first response (when the burst
   * had drained); {@code firstInWindow}: first responses that came only after the counted window
   * had begun (then the window overlaps the burst). {@code driverCpuCores}: CPU of the driver's
   * threads from the first connect to the last first response, over that time.
   */
  public record Burst(int connections, long firstOk, long firstFailed, double p50Millis,
      double p99Millis, double maxMillis, double connectSpreadMillis, double connectLoopCpuMillis,
      double lastFirstMillis, long firstInWindow, double driverCpuCores) {}

  private static final long CONNECT_RETRY_NANOS = 20_000_000L;
  private static final int MAX_PENDING_CONNECTS_PER_THREAD = 256;
  private static final Duration CONNECT_ALL_TIMEOUT = Duration.ofSeconds(60);
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private final Config config;
  private final byte[] request;

  public LoadDriver(Config config) {
    this.config = config;
    this.request = ((config.shortConnections() ? "GET / HTTP/1.0" : "GET / HTTP/1.1")
        + "\r\nHost: 127.0.0.1\r\nUser-Agent: sluice-bench\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
  }

  /** Opens the connections, runs warm-up and window, closes everything, returns the figures. */
  public Result run(Observer observer) throws InterruptedException {
    int threads = Math.min(config.threads(), config.connections());
    List<Worker> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      workers.add(new Worker(t, threads));
    }
    CountDownLatch connected = new CountDownLatch(threads);
    for (Worker w : workers) {
      w.connectedLatch = connected;
      w.thread = new Thread(w::runLoop, "driver-" + w.index);
      w.thread.setDaemon(true);
      w.thread.start();
    }
    connected.await(); // burst: every socket created and registered, none connected yet

    long start = System.nanoTime();
    long measureStart = start + config.warmup().toNanos();
    long measureEnd = measureStart + config.measure().toNanos();
    for (Worker w : workers) {
      w.begin(start, measureStart, measureEnd);
    }
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpuAtStart = 0;
    boolean started = false;
    int second = 0;
    while (true) {
      long now = System.nanoTime();
      if (!started && now >= measureStart) {
        started = true;
        cpuAtStart = os.getProcessCpuTime();
        observer.measureStart();
      }
      if (now >= measureEnd) {
        break;
      }
      long nextSecond = start + (second + 1) * 1_000_000_000L;
      long wake = Math.min(nextSecond, started ? measureEnd : measureStart);
      Thread.sleep(Math.max(1, (wake - now) / 1_000_000L));
      if (System.nanoTime() >= nextSecond) {
        second++;
        observer.second(second);
      }
    }
    long cpuUsed = os.getProcessCpuTime() - cpuAtStart;
    observer.measureEnd();
    for (Worker w : workers) {
      w.stopping = true;
      w.selector.wakeup();
    }
    for (Worker w : workers) {
      w.thread.join();
    }
    int open = workers.stream().mapToInt(w -> w.connectedCount).sum();
    return merge(workers, open, cpuUsed / (double) config.measure().toNanos());
  }

  private Result merge(List<Worker> workers, int open, double cpuCores) {
    Histogram all = new Histogram(3);
    Map<String, Long> kinds = new TreeMap<>();
    long ok = 0;
    long errors = 0;
    long unfinished = 0;
    long backlogMax = 0;
    int seconds = (int) ((config.warmup().toNanos() + config.measure().toNanos()) / 1_000_000_000L) + 1;
    List<Second> series = new ArrayList<>();
    for (Worker w : workers) {
      all.add(w.latency);
      ok += w.okInWindow;
      errors += w.errorsInWindow;
      unfinished += w.inFlightAtEnd;
      backlogMax = Math.max(backlogMax, w.backlogMax);
      w.errorKinds.forEach((k, v) -> kinds.merge(k, v, Long::sum));
    }
    for (int s = 0; s < seconds; s++) {
      Histogram h = new Histogram(2);
      long okS = 0;
      long errS = 0;
      for (Worker w : workers) {
        okS += w.okPerSecond[s];
        errS += w.errorsPerSecond[s];
        if (w.perSecond[s] != null) {
          h.add(w.perSecond[s]);
        }
      }
      series.add(new Second(s, okS, errS, millis(h, 50), millis(h, 99)));
    }
    double window = config.measure().toNanos() / 1e9;
    long idleOpen = workers.stream().mapToLong(w -> w.idleOpenAtEnd).sum();
    long idleFailures = workers.stream().mapToLong(w -> w.idleFailures).sum();
    return new Result(ok / window, errors / window, kinds, millis(all, 50), millis(all, 90),
        millis(all, 99), millis(all, 99.9), all.getTotalCount() == 0 ? Double.NaN : all.getMaxValue() / 1000.0,
        unfinished, open, cpuCores, backlogMax, series, idleOpen, idleFailures,
        config.burst() ? mergeBurst(workers) : null);
  }

  private Burst mergeBurst(List<Worker> workers) {
    Histogram first = new Histogram(3);
    long ok = 0;
    long failed = 0;
    long inWindow = 0;
    long firstConnect = Long.MAX_VALUE;
    long lastConnect = Long.MIN_VALUE;
    long lastFirst = Long.MIN_VALUE;
    long cpuNanos = 0;
    long connectLoopCpu = 0;
    for (Worker w : workers) {
      connectLoopCpu += w.connectLoopCpuNanos;
      first.add(w.firstResponse);
      ok += w.firstOk;
      failed += w.firstFailed;
      inWindow += w.firstInWindow;
      firstConnect = Math.min(firstConnect, w.firstConnectAt);
      lastConnect = Math.max(lastConnect, w.lastConnectAt);
      if (w.firstOk + w.firstFailed > 0) {
        lastFirst = Math.max(lastFirst, w.lastFirstAt);
      }
      cpuNanos += w.burstCpuEndNanos - w.burstCpuStartNanos;
    }
    double drainedNanos = lastFirst == Long.MIN_VALUE ? Double.NaN : lastFirst - workers.get(0).start;
    double lastFirstMillis = drainedNanos / 1e6;
    double spanNanos = lastFirst == Long.MIN_VALUE ? Double.NaN : lastFirst - firstConnect;
    int n = config.connections();
    return new Burst(n, ok, failed, overAll(first, n, 50), overAll(first, n, 99), overAll(first, n, 100),
        (lastConnect - firstConnect) / 1e6, connectLoopCpu / 1e6, lastFirstMillis, inWindow,
        cpuNanos / spanNanos);
  }

  /**
   * The percentile of {@code h} over {@code n} values of which only {@code h.getTotalCount()} are in
   * it, the rest longer than anything in it: NaN if the percentile falls on one of the rest.
   */
  static double overAll(Histogram h, int n, double percentile) {
    long rank = Math.max(1, (long) Math.ceil(percentile / 100 * n));
    if (rank > h.getTotalCount()) {
      return Double.NaN;
    }
    return h.getValueAtPercentile(100.0 * rank / h.getTotalCount()) / 1000.0;
  }

  private static double millis(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(percentile) / 1000.0;
  }

  // ---------------------------------------------------------------------------------------------

  /** One NIO thread and the connections it owns. */
  private final class Worker {
    final int index;
    final int stride;
    final Selector selector;
    final List<Conn> conns = new ArrayList<>();
    final ArrayDeque<Conn> idle = new ArrayDeque<>();
    final ArrayDeque<Conn> toConnect = new ArrayDeque<>();
    final ArrayDeque<long[]> reconnects = new ArrayDeque<>(); // {dueNanos, connIndex}
    final ArrayDeque<Conn> reopenNow = new ArrayDeque<>(); // short connections: done, a new one goes at once
    final ArrayDeque<Long> backlog = new ArrayDeque<>(); // open loop: intended send times waiting
    final Histogram latency = new Histogram(3);
    final Histogram firstResponse = new Histogram(3); // burst: connect() to end of first response
    final Histogram[] perSecond;
    final long[] okPerSecond;
    final long[] errorsPerSecond;
    final Map<String, Long> errorKinds = new TreeMap<>();
    Thread thread;
    CountDownLatch connectedLatch;
    volatile boolean stopping;
    volatile long start;
    volatile long measureStart;
    volatile long measureEnd;
    volatile boolean running;
    int pendingConnects;
    int connectedCount;
    long okInWindow;
    long errorsInWindow;
    long inFlightAtEnd;
    long backlogMax;
    long intervalNanos;
    long nextDue;
    long idleOpenAtEnd;
    long idleFailures;
    // burst
    long firstOk;
    long firstFailed;
    long firstInWindow;
    long firstConnectAt = Long.MAX_VALUE;
    long lastConnectAt = Long.MIN_VALUE;
    long lastFirstAt;
    long burstCpuStartNanos;
    long burstCpuEndNanos;
    long connectLoopCpuNanos;

    Worker(int index, int stride) {
      this.index = index;
      this.stride = stride;
      try {
        this.selector = Selector.open();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      int seconds = (int) ((config.warmup().toNanos() + config.measure().toNanos()) / 1_000_000_000L) + 1;
      perSecond = new Histogram[seconds];
      okPerSecond = new long[seconds];
      errorsPerSecond = new long[seconds];
      for (int i = index; i < config.connections(); i += stride) {
        Conn c = new Conn(i, config.targets().get(i % config.targets().size()), i < config.activeConnections());
        conns.add(c);
        toConnect.add(c);
      }
    }

    void begin(long start, long measureStart, long measureEnd) {
      this.measureStart = measureStart;
      this.measureEnd = measureEnd;
      this.start = start;
      running = true;
      selector.wakeup();
    }

    void runLoop() {
      try {
        if (config.burst()) {
          for (Conn c : conns) {
            c.prepare();
          }
        } else if (config.shortConnections()) {
          toConnect.clear(); // each connection is opened when the load starts and after each response
        } else {
          connectAll();
          connectedCount = (int) conns.stream().filter(c -> c.state != Conn.State.CLOSED).count();
        }
        connectedLatch.countDown();
        while (!running) {
          selector.select(5);
          selector.selectedKeys().clear();
        }
        boolean open = config.ratePerSecond() > 0;
        if (open) {
          intervalNanos = Math.max(1, (long) (stride * 1e9 / config.ratePerSecond()));
          nextDue = start + index * intervalNanos / stride;
        }
        if (config.burst()) {
          burstCpuStartNanos = THREADS.getCurrentThreadCpuTime();
          burstCpuEndNanos = burstCpuStartNanos;
          for (Conn c : conns) {
            c.firstPending = true;
            c.connect(); // a connection sends its first request as soon as it is connected
          }
          connectLoopCpuNanos = THREADS.getCurrentThreadCpuTime() - burstCpuStartNanos;
        }
        if (config.shortConnections()) {
          for (Conn c : conns) {
            c.open(); // it sends its request as soon as it is connected
          }
        }
        for (Conn c : conns) {
          if (c.active && c.state == Conn.State.IDLE && !config.burst()) {
            if (open) {
              idle.add(c);
            } else {
              c.send(System.nanoTime());
            }
          }
        }
        while (!stopping) {
          long now = System.nanoTime();
          long waitNanos = open ? nextDue - now : 50_000_000L;
          if (!reconnects.isEmpty()) {
            waitNanos = Math.min(waitNanos, reconnects.peek()[0] - now);
          }
          if (waitNanos >= 1_000_000L) {
            selector.select(waitNanos / 1_000_000L); // epoll waits whole milliseconds
          } else if (waitNanos > 0) {
            LockSupport.parkNanos(waitNanos); // the last sub-millisecond stretch, then look at I/O
            selector.selectNow();
          } else {
            selector.selectNow();
          }
          handleKeys();
          Conn next;
          while ((next = reopenNow.poll()) != null) {
            next.open();
          }
          now = System.nanoTime();
          while (!reconnects.isEmpty() && reconnects.peek()[0] <= now) {
            conns.get((int) reconnects.poll()[1]).open();
          }
          if (open) {
            while (nextDue <= now) {
              backlog.add(nextDue);
              nextDue += intervalNanos;
            }
            backlogMax = Math.max(backlogMax, backlog.size());
            dispatchBacklog();
          }
        }
        for (Conn c : conns) {
          if (c.state == Conn.State.WAITING) {
            inFlightAtEnd++;
          }
          if (!c.active && c.state == Conn.State.IDLE) {
            idleOpenAtEnd++;
          }
          if ((config.burst() || config.shortConnections()) && c.everConnected) {
            connectedCount++;
          }
          c.close();
        }
        inFlightAtEnd += backlog.size();
      } catch (IOException | RuntimeException e) {
        e.printStackTrace();
        connectedLatch.countDown();
      } finally {
        try {
          selector.close();
        } catch (IOException ignored) {
          // done anyway
        }
      }
    }

    void connectAll() throws IOException {
      long deadline = System.nanoTime() + CONNECT_ALL_TIMEOUT.toNanos();
      while ((!toConnect.isEmpty() || pendingConnects > 0) && System.nanoTime() < deadline) {
        while (!toConnect.isEmpty() && pendingConnects < MAX_PENDING_CONNECTS_PER_THREAD) {
          toConnect.poll().open();
        }
        selector.select(10);
        handleKeys();
        long now = System.nanoTime();
        while (!reconnects.isEmpty() && reconnects.peek()[0] <= now) {
          conns.get((int) reconnects.poll()[1]).open();
        }
      }
    }

    void handleKeys() {
      Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
      while (keys.hasNext()) {
        SelectionKey key = keys.next();
        keys.remove();
        if (!key.isValid()) {
          continue;
        }
        Conn c = (Conn) key.attachment();
        if (key.isConnectable()) {
          c.onConnectable();
        } else if (key.isWritable()) {
          c.onWritable();
        } else if (key.isReadable()) {
          c.onReadable();
        }
      }
    }

    void dispatchBacklog() {
      while (!backlog.isEmpty() && !idle.isEmpty()) {
        Conn c = idle.poll();
        if (c.state == Conn.State.IDLE) {
          c.send(backlog.poll());
        }
      }
    }

    void recordOk(long startNanos, long endNanos) {
      long micros = Math.max(1, (endNanos - startNanos) / 1000);
      int s = second(endNanos);
      if (s >= 0 && s < okPerSecond.length) {
        okPerSecond[s]++;
        if (perSecond[s] == null) {
          perSecond[s] = new Histogram(2);
        }
        perSecond[s].recordValue(micros);
      }
      if (endNanos >= measureStart && endNanos < measureEnd) {
        okInWindow++;
        latency.recordValue(micros);
      }
    }

    void recordError(String kind, long endNanos) {
      if (!running) {
        errorKinds.merge("connect: " + kind, 1L, Long::sum);
        return;
      }
      int s = second(endNanos);
      if (s >= 0 && s < errorsPerSecond.length) {
        errorsPerSecond[s]++;
      }
      if (endNanos >= measureStart && endNanos < measureEnd) {
        errorsInWindow++;
        errorKinds.merge(kind, 1L, Long::sum);
      }
    }

    int second(long nanos) {
      return (int) Math.floorDiv(nanos - start, 1_000_000_000L);
    }

    /** One client connection. */
    final class Conn {
      enum State { CONNECTING, IDLE, WAITING, CLOSED }

      final int id;
      final InetSocketAddress target;
      final boolean active;
      final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
      final ByteBuffer out = ByteBuffer.wrap(request);
      SocketChannel ch;
      SelectionKey key;
      State state = State.CLOSED;
      long sentAt;
      long connectAt;
      /** Short connections: the connect() call of the connection now open, where its latency starts. */
      long openedAt;
      boolean everConnected;
      boolean firstPending; // burst: the first response of this connection is still to come
      // response parsing
      boolean inHead;
      long bodyRemaining;
      boolean chunked;
      boolean chunkData;
      boolean trailers;
      boolean closeAfter;
      int status;

      Conn(int id, InetSocketAddress target, boolean active) {
        this.id = id;
        this.target = target;
        this.active = active;
      }

      void open() {
        in.clear(); // nothing of an earlier connection's bytes belongs to the new one
        openedAt = System.nanoTime();
        prepare();
        if (ch != null) {
          connect();
        }
      }

      /** A socket, non-blocking and registered, not connected yet (null on failure). */
      void prepare() {
        try {
          ch = SocketChannel.open();
          ch.configureBlocking(false);
          ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
          key = ch.register(selector, 0, this);
        } catch (IOException e) {
          if (ch != null) {
            try {
              ch.close();
            } catch (IOException ignored) {
              // failed anyway
            }
          }
          ch = null;
          failed("socket " + e.getClass().getSimpleName());
        }
      }

      void connect() {
        if (ch == null) {
          return; // prepare failed; a reopen is scheduled
        }
        try {
          state = State.CONNECTING;
          pendingConnects++;
          connectAt = System.nanoTime();
          firstConnectAt = Math.min(firstConnectAt, connectAt);
          lastConnectAt = Math.max(lastConnectAt, connectAt);
          if (ch.connect(target)) {
            connected();
          } else {
            key.interestOps(SelectionKey.OP_CONNECT);
          }
        } catch (IOException e) {
          failed("connect " + e.getClass().getSimpleName());
        }
      }

      void onConnectable() {
        try {
          ch.finishConnect();
          connected();
        } catch (IOException e) {
          failed("connect " + e.getClass().getSimpleName());
        }
      }

      void connected() {
        pendingConnects--;
        everConnected = true;
        state = State.IDLE;
        key.interestOps(SelectionKey.OP_READ); // an idle connection notices being closed
        becomeIdle();
      }

      void becomeIdle() {
        state = State.IDLE;
        if (!running || !active) {
          return;
        }
        if (config.ratePerSecond() > 0) {
          if (!backlog.isEmpty()) {
            send(backlog.poll());
          } else {
            idle.add(this);
          }
        } else {
          send(config.shortConnections() ? openedAt : System.nanoTime());
        }
      }

      void send(long startNanos) {
        sentAt = startNanos;
        state = State.WAITING;
        inHead = true; // the previous response was read whole: nothing of it is left in `in`
        out.clear();
        try {
          ch.write(out);
          key.interestOps(out.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
        } catch (IOException e) {
          failed("write " + e.getClass().getSimpleName());
        }
      }

      void onWritable() {
        try {
          ch.write(out);
          if (!out.hasRemaining()) {
            key.interestOps(SelectionKey.OP_READ);
          }
        } catch (IOException e) {
          failed("write " + e.getClass().getSimpleName());
        }
      }

      void onReadable() {
        try {
          int n = ch.read(in);
          if (n < 0) {
            failed(state == State.WAITING ? "closed by peer mid-request" : "idle closed by peer");
            return;
          }
          if (state != State.WAITING) {
            in.clear(); // unsolicited bytes on an idle connection
            return;
          }
          in.flip();
          parse();
          in.compact();
        } catch (IOException e) {
          failed("read " + e.getClass().getSimpleName());
        }
      }

      /** Consumes what it can of the response in {@code in}; completes it when whole. */
      void parse() {
        while (true) {
          if (inHead) {
            int end = headEnd();
            if (end < 0) {
              return;
            }
            String head = new String(in.array(), in.position(), end - in.position(), StandardCharsets.ISO_8859_1);
            in.position(end + 4);
            readHead(head);
            inHead = false;
            if (status == 100) {
              inHead = true;
              continue;
            }
          } else if (chunked) {
            if (!parseChunk()) {
              return;
            }
            if (!chunked) {
              complete();
              return;
            }
          } else {
            int take = (int) Math.min(bodyRemaining, in.remaining());
            in.position(in.position() + take);
            bodyRemaining -= take;
            if (bodyRemaining > 0) {
              return;
            }
            complete();
            return;
          }
        }
      }

      /** One step of chunked decoding; false if more bytes are needed. Sets chunked=false at the end. */
      boolean parseChunk() {
        while (true) {
          if (chunkData) {
            int take = (int) Math.min(bodyRemaining, in.remaining());
            in.position(in.position() + take);
            bodyRemaining -= take;
            if (bodyRemaining > 0) {
              return false;
            }
            chunkData = false;
          }
          int eol = lineEnd();
          if (eol < 0) {
            return false;
          }
          String line = new String(in.array(), in.position(), eol - in.position(), StandardCharsets.ISO_8859_1).trim();
          in.position(eol + 2);
          if (trailers) {
            if (line.isEmpty()) {
              chunked = false;
              trailers = false;
              return true;
            }
            continue;
          }
          if (line.isEmpty()) {
            continue; // the CRLF after a chunk's data
          }
          int semi = line.indexOf(';');
          long size = Long.parseLong(semi < 0 ? line : line.substring(0, semi), 16);
          if (size == 0) {
            trailers = true;
          } else {
            bodyRemaining = size;
            chunkData = true;
          }
        }
      }

      void readHead(String head) {
        int sp = head.indexOf(' ');
        status = Integer.parseInt(head.substring(sp + 1, sp + 4));
        bodyRemaining = 0;
        chunked = false;
        closeAfter = head.startsWith("HTTP/1.0");
        for (String line : head.split("\r\n")) {
          int colon = line.indexOf(':');
          if (colon <= 0) {
            continue;
          }
          String name = line.substring(0, colon).trim();
          String value = line.substring(colon + 1).trim();
          if (name.equalsIgnoreCase("Content-Length")) {
            bodyRemaining = Long.parseLong(value);
          } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
            chunked = value.toLowerCase().contains("chunked");
          } else if (name.equalsIgnoreCase("Connection")) {
            String v = value.toLowerCase();
            closeAfter = v.contains("close") || (closeAfter && !v.contains("keep-alive"));
          }
        }
      }

      void complete() {
        long now = System.nanoTime();
        if (status >= 200 && status < 300) {
          recordOk(sentAt, now);
        } else {
          recordError("HTTP " + status, now);
        }
        if (firstPending) {
          firstDone(now, status >= 200 && status < 300);
        }
        if (config.shortConnections()) {
          close(); // done with it: the next connection of this client opens at once
          if (!stopping) {
            reopenNow.add(this);
          }
        } else if (closeAfter) {
          close();
          scheduleReconnect();
        } else {
          becomeIdle();
        }
      }

      int headEnd() {
        byte[] b = in.array();
        for (int i = in.position(); i + 3 < in.limit(); i++) {
          if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
            return i;
          }
        }
        return -1;
      }

      int lineEnd() {
        byte[] b = in.array();
        for (int i = in.position(); i + 1 < in.limit(); i++) {
          if (b[i] == '\r' && b[i + 1] == '\n') {
            return i;
          }
        }
        return -1;
      }

      /** The end of a burst connection's first exchange, a response or a failure. */
      void firstDone(long now, boolean ok) {
        firstPending = false;
        if (ok) {
          firstOk++;
          firstResponse.recordValue(Math.max(1, (now - connectAt) / 1000));
        } else {
          firstFailed++;
        }
        if (now >= measureStart) {
          firstInWindow++;
        }
        lastFirstAt = Math.max(lastFirstAt, now);
        burstCpuEndNanos = THREADS.getCurrentThreadCpuTime();
      }

      void failed(String kind) {
        boolean wasWaiting = state == State.WAITING;
        if (state == State.CONNECTING) {
          pendingConnects--;
        }
        if (!active) {
          idleFailures++;
        }
        if (firstPending) {
          firstDone(System.nanoTime(), false);
        }
        close();
        if (wasWaiting || running) {
          recordError(kind, System.nanoTime());
        }
        scheduleReconnect();
      }

      void scheduleReconnect() {
        if (!stopping) {
          reconnects.add(new long[] {System.nanoTime() + CONNECT_RETRY_NANOS, id / stride});
        }
      }

      void close() {
        if (state == State.CLOSED) {
          return;
        }
        state = State.CLOSED;
        if (key != null) {
          key.cancel();
        }
        try {
          ch.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
  }
}
