package sluice.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.ClusterSettings;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.QueueSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.settings.TcpSettings;
import sluice.node.testing.TcpTestBackend;
import sluice.node.testing.TcpTestBackend.Mode;

/**
 * L4: TCP listeners in front of real TCP back-ends that count their own connections; real
 * client sockets. The limit, bytes intact both ways, FIFO admission, the queue's timeout and
 * max (the client is reset), a back-end down and back, half-close both ways, and a client that
 * reads nothing.
 */
class TcpRelayTest {
  private final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void stopThreads() {
    threads.shutdownNow();
  }

  /** Pre-open 0 (nothing to pre-open in L4), the idle timeout, connect timeout 2 s, backoff 100 ms to 1 s. */
  static ConnectionSettings connections(Duration idleTimeout) {
    return new ConnectionSettings(0, idleTimeout, Duration.ofSeconds(2), Duration.ofSeconds(10),
        Duration.ofMillis(100), Duration.ofSeconds(1), 64 * 1024);
  }

  /** One TCP pool "db" of the given back-ends behind one TCP listener on a free port; idle timeout 30 s. */
  static SluiceSettings tcpPool(QueueSettings queue, int limit, int... ports) {
    return tcpPool(queue, connections(Duration.ofSeconds(30)), limit, ports);
  }

  static SluiceSettings tcpPool(QueueSettings queue, ConnectionSettings connections, int limit, int... ports) {
    return tcpPool(1, queue, connections, limit, ports);
  }

  static SluiceSettings tcpPool(int eventLoops, QueueSettings queue, ConnectionSettings connections, int limit,
      int... ports) {
    List<BackendSettings> backends = new ArrayList<>();
    for (int port : ports) {
      backends.add(TestSettings.backend(port, limit));
    }
    PoolSettings db = TestSettings.pool("db", backends, queue, connections);
    Map<String, PoolSettings> pools = new LinkedHashMap<>();
    pools.put("db", db);
    return new SluiceSettings(TestSettings.http(), ClusterSettings.single("127.0.0.1", 0), pools, List.of(),
        Optional.empty(), Duration.ofMillis(100), Duration.ofMillis(500), Duration.ZERO, eventLoops, TestSettings.admin(),
        Duration.ofSeconds(2), List.of(new TcpSettings("127.0.0.1", 0, "127.0.0.1:0", "db")));
  }

  /**
   * Starts a node and waits until every back-end has its limit and a valid lease. (An L4
   * back-end actor keeps no slots while no client waits, so its grant may still be 0.)
   */
  static SluiceNode start(SluiceSettings settings) {
    SluiceNode node = SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"));
    try {
      Nodes.awaitStatus(node, Duration.ofSeconds(30),
          s -> s.backends().stream().allMatch(b -> b.limit() > 0 && b.leaseValid()));
    } catch (AssertionError e) {
      node.close();
      throw e;
    }
    return node;
  }

  static Socket connect(SluiceNode node) throws IOException {
    Socket s = new Socket();
    s.connect(node.tcpAddresses().get(0), 5_000);
    s.setSoTimeout(60_000);
    return s;
  }

  static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    in.transferTo(out);
    return out.toByteArray();
  }

  static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Sends {@code data} (then FIN) from another thread while reading the echo; returns what came back. */
  private byte[] echo(SluiceNode node, byte[] data) throws Exception {
    try (Socket s = connect(node)) {
      Future<?> writer = threads.submit(() -> {
        OutputStream out = s.getOutputStream();
        for (int off = 0; off < data.length; off += 16 * 1024) {
          out.write(data, off, Math.min(16 * 1024, data.length - off));
        }
        s.shutdownOutput();
        return null;
      });
      byte[] back = readAll(s.getInputStream());
      writer.get(60, TimeUnit.SECONDS);
      return back;
    }
  }

  @Test
  void twoHundredClientsThroughLimitEightKeepTheLimitAndEveryByte() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(1000, Duration.ofSeconds(120), 1000), 8, backend.port());
      try (SluiceNode node = start(settings)) {
        int clients = 200;
        List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
          int size = i % 20 == 0 ? 3 * 1024 * 1024 + i : 32 * 1024 + i * 97; // ten of a few MB
          long seed = i;
          results.add(threads.submit(() -> {
            byte[] sent = randomBytes(size, seed);
            byte[] back = echo(node, sent);
            return TcpTestBackend.sha256(sent).equals(TcpTestBackend.sha256(back)) && back.length == sent.length;
          }));
        }
        int intact = 0;
        for (Future<Boolean> r : results) {
          if (r.get(180, TimeUnit.SECONDS)) {
            intact++;
          }
        }
        assertEquals(clients, intact, "clients whose echo came back byte for byte");
        assertEquals(clients, backend.accepted(), "one back-end connection per client");
        // the back-end counts a connection until its own FIN; Sluice holds the slot a little longer,
        // until both sides have closed, so the back-end may see fewer than 8 at once, never more
        int most = backend.maxConcurrent();
        System.out.printf("200 clients, limit 8: the back-end held at most %d connections at once%n", most);
        assertTrue(most <= 8, "the back-end's own count of connections at once: " + most);
        assertTrue(most > 1, "the back-end served clients concurrently: " + most);
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.served() == clients);
        assertEquals(0, status.queueLength());
        assertEquals(0, status.inProgress());
      }
    }
  }

  @Test
  void onTwoEventLoopsTheLimitHoldsOverBoth() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(2, TestSettings.queue(1000, Duration.ofSeconds(120), 1000),
          connections(Duration.ofSeconds(30)), 8, backend.port());
      try (SluiceNode node = start(settings)) {
        int clients = 100;
        List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
          int size = 64 * 1024 + i * 101;
          long seed = 1000 + i;
          results.add(threads.submit(() -> {
            byte[] sent = randomBytes(size, seed);
            return Arrays.equals(sent, echo(node, sent));
          }));
        }
        for (Future<Boolean> r : results) {
          assertTrue(r.get(180, TimeUnit.SECONDS), "an echo came back byte for byte");
        }
        int most = backend.maxConcurrent();
        assertTrue(most <= 8, "the back-end's own count of connections at once, over both loops: " + most);
        assertEquals(clients, backend.accepted());
      }
    }
  }

  @Test
  void clientsAreAdmittedInTheOrderTheyConnected() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.REPLY_AFTER_EOF)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 1, backend.port());
      try (SluiceNode node = start(settings)) {
        Socket first = connect(node); // holds the one slot: it sends no FIN yet
        first.getOutputStream().write("first".getBytes(StandardCharsets.US_ASCII));
        awaitTrue(() -> backend.accepted() == 1, "the first client reached the back-end");
        int n = 15;
        List<Socket> waiting = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          Socket s = connect(node);
          // it writes and half-closes at once; Sluice does not read it while it waits
          s.getOutputStream().write(("client-" + i).getBytes(StandardCharsets.US_ASCII));
          s.shutdownOutput();
          waiting.add(s);
          int queued = i + 1;
          Nodes.awaitStatus(node, Duration.ofSeconds(10), st -> st.queueLength() == queued);
        }
        first.shutdownOutput();
        assertTrue(new String(readAll(first.getInputStream()), StandardCharsets.US_ASCII).startsWith("ok 5 "));
        first.close();
        for (int i = 0; i < n; i++) {
          String reply = new String(readAll(waiting.get(i).getInputStream()), StandardCharsets.US_ASCII);
          byte[] sent = ("client-" + i).getBytes(StandardCharsets.US_ASCII);
          assertEquals("ok " + sent.length + " " + TcpTestBackend.sha256(sent) + "\n", reply);
          waiting.get(i).close();
        }
        List<String> expected = new ArrayList<>(List.of("first"));
        for (int i = 0; i < n; i++) {
          expected.add("client-" + i);
        }
        assertEquals(expected, backend.received(), "the order the back-end saw the clients in");
        assertEquals(1, backend.maxConcurrent());
      }
    }
  }

  @Test
  void aClientWaitingPastTheQueueTimeoutIsReset() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofMillis(300), 100), 1, backend.port());
      try (SluiceNode node = start(settings); Socket holder = connect(node)) {
        awaitTrue(() -> backend.accepted() == 1, "the first client holds the slot");
        try (Socket late = connect(node)) {
          late.getOutputStream().write("never relayed".getBytes(StandardCharsets.US_ASCII));
          IOException e = assertThrows(IOException.class, () -> late.getInputStream().read());
          assertReset(e);
        }
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.expired() == 1);
        assertEquals(0, status.queueLength());
        assertEquals(1, backend.accepted(), "the timed-out client never reached the back-end");
        // the holder is still relayed
        holder.getOutputStream().write("still here".getBytes(StandardCharsets.US_ASCII));
        holder.shutdownOutput();
        assertEquals("still here", new String(readAll(holder.getInputStream()), StandardCharsets.US_ASCII));
      }
    }
  }

  @Test
  void aClientAboveQueueMaxIsReset() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(1, Duration.ofSeconds(60), 1), 1, backend.port());
      try (SluiceNode node = start(settings); Socket holder = connect(node)) {
        awaitTrue(() -> backend.accepted() == 1, "the first client holds the slot");
        Socket second = connect(node);
        Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.queueLength() == 1);
        assertResetWithoutAByte(node);
        assertEquals(1, Nodes.status(node).rejectedFull());
        holder.close();
        second.getOutputStream().write("second".getBytes(StandardCharsets.US_ASCII));
        second.shutdownOutput();
        assertEquals("second", new String(readAll(second.getInputStream()), StandardCharsets.US_ASCII));
        second.close();
      }
    }
  }

  @Test
  void aboveTheRefuseThresholdNewClientsAreResetAtOnceAndHttpIsNotGated() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(10, Duration.ofSeconds(60), 0), 1, backend.port());
      try (SluiceNode node = start(settings); Socket holder = connect(node)) {
        awaitTrue(() -> backend.accepted() == 1, "the first client holds the slot");
        try (Socket waiting = connect(node)) {
          Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.queueLength() == 1); // above 0
          assertResetWithoutAByte(node);
          assertEquals(2, Nodes.status(node).accepted(), "the reset client never joined the queue");
          // the TCP pool's threshold gates its own listener, not the HTTP one (which has no pool here)
          try (RawHttp http = RawHttp.connect(node.httpPort())) {
            http.send("GET", "/", null);
            assertEquals(404, http.read().status());
          }
          holder.close();
          waiting.getOutputStream().write("after".getBytes(StandardCharsets.US_ASCII));
          waiting.shutdownOutput();
          assertEquals("after", new String(readAll(waiting.getInputStream()), StandardCharsets.US_ASCII));
        }
      }
    }
  }

  @Test
  void aClientThatResetsWhileItWaitsIsDroppedUnsent() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 1, backend.port());
      try (SluiceNode node = start(settings)) {
        Socket holder = connect(node);
        awaitTrue(() -> backend.accepted() == 1, "the first client holds the slot");
        Socket leaving = connect(node);
        leaving.getOutputStream().write("gone before its turn".getBytes(StandardCharsets.US_ASCII));
        Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.queueLength() == 1);
        leaving.setSoLinger(true, 0);
        leaving.close(); // a reset: the client is gone
        holder.close();
        byte[] next = randomBytes(5_000, 3);
        assertArrayEquals(next, echo(node, next));
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.inProgress() == 0);
        assertEquals(1, status.abandoned(), "dropped unsent: " + status);
        assertEquals(2, backend.accepted(), "the client that left never reached the back-end");
      }
    }
  }

  @Test
  void aBackendThatResetsTheConnectionResetsItsClient() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.RESET_AFTER_READ)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 1, backend.port());
      try (SluiceNode node = start(settings); Socket s = connect(node)) {
        s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
        IOException e = assertThrows(IOException.class, () -> s.getInputStream().read());
        assertReset(e);
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), st -> st.inProgress() == 0);
        assertEquals(1, status.badGateway(), "counted as the back-end's failure: " + status);
        assertEquals(0, status.served());
      }
    }
  }

  @Test
  void aRelayIdleForTheIdleTimeoutIsClosedAndItsSlotFreed() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100),
          connections(Duration.ofMillis(300)), 1, backend.port());
      try (SluiceNode node = start(settings); Socket idle = connect(node)) {
        idle.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
        assertEquals('x', idle.getInputStream().read());
        // nothing more either way: Sluice resets the client and ends the back-end connection
        IOException e = assertThrows(IOException.class, () -> idle.getInputStream().read());
        assertReset(e);
        awaitTrue(() -> backend.current() == 0, "the back-end saw its connection end");
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), st -> st.inProgress() == 0);
        assertEquals(1, status.gatewayTimeout(), "counted as an idle timeout: " + status);
        byte[] next = randomBytes(1_000, 4);
        assertArrayEquals(next, echo(node, next), "the slot is free for the next client");
      }
    }
  }

  @Test
  void aDownBackendIsRetriedAndTheOtherServesMeanwhile() throws Exception {
    int deadPort = freePort();
    try (TcpTestBackend live = TcpTestBackend.start(Mode.ECHO)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 2, live.port(), deadPort);
      try (SluiceNode node = start(settings)) {
        for (int i = 0; i < 10; i++) {
          byte[] sent = randomBytes(10_000, i);
          assertArrayEquals(sent, echo(node, sent));
        }
        assertEquals(10, live.accepted());
        PoolStatus.BackendStatus dead = Nodes.status(node).backends().get(1);
        assertFalse(dead.up(), "the back-end that refuses connections is down: " + dead);

        try (TcpTestBackend back = TcpTestBackend.start(Mode.ECHO, deadPort, 0)) {
          long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
          int i = 0;
          while (back.accepted() == 0 && System.nanoTime() < deadline) {
            byte[] sent = randomBytes(1_000, 100 + i++);
            assertArrayEquals(sent, echo(node, sent));
          }
          assertTrue(back.accepted() > 0, "the back-end that came back was retried and served a client");
          Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.backends().get(1).up());
        }
      }
    }
  }

  @Test
  void queuedClientsWaitWhileTheOnlyBackendIsDownAndGoWhenItIsBack() throws Exception {
    TcpTestBackend first = TcpTestBackend.start(Mode.ECHO);
    int port = first.port();
    var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 4, port);
    try (SluiceNode node = start(settings)) {
      byte[] before = randomBytes(20_000, 99);
      assertArrayEquals(before, echo(node, before));
      first.close(); // the port is closed now

      List<Future<byte[]>> replies = new ArrayList<>();
      List<byte[]> sent = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        byte[] data = randomBytes(50_000, i);
        sent.add(data);
        replies.add(threads.submit(() -> echo(node, data)));
      }
      Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> !s.backends().get(0).up() && s.queueLength() == 3);
      try (TcpTestBackend again = TcpTestBackend.start(Mode.ECHO, port, 0)) { // and open again
        for (int i = 0; i < 3; i++) {
          assertArrayEquals(sent.get(i), replies.get(i).get(30, TimeUnit.SECONDS));
        }
        assertEquals(3, again.accepted());
        assertTrue(Nodes.status(node).backends().get(0).up());
      }
    } finally {
      first.close();
    }
  }

  @Test
  void aClientThatHalfClosesStillGetsTheReply() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.REPLY_AFTER_EOF)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 2, backend.port());
      try (SluiceNode node = start(settings); Socket s = connect(node)) {
        byte[] request = randomBytes(300_000, 7);
        s.getOutputStream().write(request);
        s.shutdownOutput(); // the back-end answers only once it has seen this FIN
        String reply = new String(readAll(s.getInputStream()), StandardCharsets.US_ASCII);
        assertEquals("ok " + request.length + " " + TcpTestBackend.sha256(request) + "\n", reply);
      }
    }
  }

  @Test
  void aBackendThatHalfClosesFirstStillGetsWhatTheClientSends() throws Exception {
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.GREET_FIRST)) {
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 2, backend.port());
      try (SluiceNode node = start(settings); Socket s = connect(node)) {
        // the back-end's greeting and its FIN come first; the client goes on sending after both
        assertEquals("hello\n", new String(readAll(s.getInputStream()), StandardCharsets.US_ASCII));
        byte[] data = randomBytes(1_000_000, 8);
        s.getOutputStream().write(data);
        s.shutdownOutput();
        awaitTrue(() -> backend.received().size() == 1, "the back-end read to the client's FIN");
        assertEquals(data.length + " " + TcpTestBackend.sha256(data), backend.received().get(0));
        Nodes.awaitStatus(node, Duration.ofSeconds(5), st -> st.served() == 1 && st.inProgress() == 0);
      }
    }
  }

  /**
   * A client that reads nothing: the back-end's writes block once the socket buffers and Sluice's
   * bounded buffers in between are full. The bound on what the back-end wrote is derived from
   * this machine's TCP buffer maxima (Sluice's two sockets autotune up to them) plus the small
   * fixed buffers of the test's own sockets and 1 MiB for Sluice's own; Sluice's own is also
   * measured directly, as the memory Netty's allocator (every buffer of the node) holds.
   */
  @Test
  void aClientThatReadsNothingDoesNotMakeSluiceBufferWithoutBound() throws Exception {
    int small = 64 * 1024;
    try (TcpTestBackend backend = TcpTestBackend.start(Mode.FLOOD, 0, small)) {
      long flood = 200L << 20;
      backend.floodBytes(flood);
      var settings = tcpPool(TestSettings.queue(100, Duration.ofSeconds(60), 100), 2, backend.port());
      try (SluiceNode node = start(settings); Socket s = new Socket()) {
        s.setReceiveBufferSize(small);
        s.connect(node.tcpAddresses().get(0), 5_000);
        s.setSoTimeout(60_000);
        long memoryBefore = allocatorMemory();
        awaitTrue(() -> backend.written() > 0, "the back-end started writing");
        long stalled = awaitStable(backend::written, Duration.ofSeconds(1), Duration.ofSeconds(60));
        long memoryStalled = allocatorMemory();
        System.out.printf("flood: %s memory in use %,d before, %,d while stalled%n", ByteBufAllocator.DEFAULT,
            memoryBefore, memoryStalled);
        long bound = maxOf("tcp_rmem") + maxOf("tcp_wmem") + 2L * small + 2L * s.getReceiveBufferSize() + (1 << 20);
        System.out.printf("flood: the back-end wrote %,d of %,d bytes before its writes blocked (bound %,d)%n",
            stalled, flood, bound);
        assertTrue(stalled < bound, "the back-end wrote " + stalled + " bytes to a client that reads nothing; bound "
            + bound);
        assertTrue(stalled < flood);
        // Sluice's own share: a water mark (64 KiB) and a read (up to 64 KiB) per direction, in the
        // allocator's chunks; 4 MiB is far above that and far below what an unbounded relay would hold
        long sluiceHeld = memoryStalled - memoryBefore;
        assertTrue(sluiceHeld < 4L << 20, "Sluice's buffers grew by " + sluiceHeld + " bytes while stalled");

        // now the client reads: everything arrives, in order
        InputStream in = s.getInputStream();
        byte[] buf = new byte[64 * 1024];
        long i = 0;
        long wrong = 0;
        int n;
        while ((n = in.read(buf)) > 0) {
          for (int k = 0; k < n; k++) {
            if (buf[k] != TcpTestBackend.pattern(i + k)) {
              wrong++;
            }
          }
          i += n;
        }
        assertEquals(flood, i, "bytes the client read");
        assertEquals(0, wrong, "bytes out of place");
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------

  /** A client that connects now is reset: during its connect already, or on its first read. */
  private static void assertResetWithoutAByte(SluiceNode node) throws IOException {
    Socket s;
    try {
      s = connect(node);
    } catch (SocketException e) {
      assertReset(e); // Sluice accepted and reset it before the connect call returned
      return;
    }
    try (s) {
      IOException e = assertThrows(IOException.class, () -> s.getInputStream().read());
      assertReset(e);
    }
  }

  private static void assertReset(IOException e) {
    assertTrue(e instanceof SocketException && String.valueOf(e.getMessage()).toLowerCase().contains("reset"),
        "expected a connection reset, got " + e);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      return s.getLocalPort();
    }
  }

  /** Heap and direct memory Netty's default allocator holds for buffers (all the node's buffers). */
  private static long allocatorMemory() {
    ByteBufAllocatorMetric m = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
    return m.usedHeapMemory() + m.usedDirectMemory();
  }

  /** The third field (max) of /proc/sys/net/ipv4/{name}. */
  private static long maxOf(String name) throws IOException {
    // read as a stream: /proc files report a size of 0
    String[] fields = Files.readAllLines(Path.of("/proc/sys/net/ipv4/" + name)).get(0).trim().split("\\s+");
    return Long.parseLong(fields[2]);
  }

  private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not in 20 s: " + what);
      }
      Thread.sleep(10);
    }
  }

  /** Waits until {@code value} has not changed for {@code still}; returns it. */
  private static long awaitStable(java.util.function.LongSupplier value, Duration still, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long last = value.getAsLong();
    long since = System.nanoTime();
    while (System.nanoTime() - since < still.toNanos()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("still changing after " + timeout + ": " + last);
      }
      Thread.sleep(20);
      long now = value.getAsLong();
      if (now != last) {
        last = now;
        since = System.nanoTime();
      }
    }
    return last;
  }
}
