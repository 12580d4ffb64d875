package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.SluiceSettings;
import sluice.node.testing.TestBackend;

/**
 * While every back-end of a pool is down, waiting and new requests get 503 with Retry-After
 * at once (within the connect timeout), not at the queue timeout, which these tests set to
 * 30 s; traffic flows again when a back-end is back.
 *
 * <p>The bound of 15 s on the time to the answer only tells the two mechanisms apart (an
 * answer at the queue timeout would take 30 s); it is not a performance figure.
 */
class NoBackendUpTest {
  private static final Duration QUEUE_TIMEOUT = Duration.ofSeconds(30);
  private static final long BEFORE_QUEUE_TIMEOUT_NANOS = QUEUE_TIMEOUT.toNanos() / 2;
  private static final String REASON = "no back-end of pool web is up";

  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  private static ConnectionSettings connections(int preOpen, Duration connectTimeout) {
    return new ConnectionSettings(preOpen, Duration.ofSeconds(30), connectTimeout, Duration.ofSeconds(10),
        Duration.ofMillis(50), Duration.ofMillis(200), 64 * 1024);
  }

  /** A port of 127.0.0.1 on which nothing listens (it was free a moment ago). */
  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  /**
   * Starts a node and waits until each back-end actor holds its lease, with slots for its
   * pre-opened connection if it has one (so that it has tried to connect, or will with the
   * first request); {@link Nodes#start} also waits for pre-opened connections, which a
   * back-end that is down never has.
   */
  private static SluiceNode start(SluiceSettings settings) {
    SluiceNode node = SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"));
    boolean preOpens = settings.pools().get("web").connections().preOpen() > 0;
    try {
      Nodes.awaitStatus(node, Duration.ofSeconds(30),
          s -> s.backends().stream().allMatch(b -> b.leaseValid() && (b.granted() > 0 || !preOpens)));
    } catch (AssertionError e) {
      node.close();
      throw e;
    }
    return node;
  }

  private static void assertNoBackendUp(RawHttp.Response r) {
    assertEquals(503, r.status(), r.bodyText());
    assertTrue(r.bodyText().contains(REASON), r.bodyText());
    assertTrue(r.header("Retry-After").isPresent(), "a 503 says when to retry");
  }

  @Test
  void theOnlyBackendKnownDownGives503WithRetryAfterBeforeTheQueueTimeout() throws Exception {
    var settings = TestSettings.onePool(closedPort(), 4, TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000),
        connections(1, Duration.ofSeconds(1)));
    try (SluiceNode node = start(settings)) {
      // the pre-opened connection was refused: the back-end is known down
      Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> !s.backends().get(0).up());
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        for (int i = 0; i < 3; i++) {
          long start = System.nanoTime();
          RawHttp.Response r = http.get("/down-" + i);
          long took = System.nanoTime() - start;
          assertNoBackendUp(r);
          assertTrue(took < BEFORE_QUEUE_TIMEOUT_NANOS, "answered by the queue timeout, not at once: "
              + took / 1_000_000 + " ms");
        }
      }
      PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.inProgress() == 0);
      assertEquals(3, status.noBackendUp());
      assertEquals(0, status.expired());
      assertEquals(status.accepted(), status.ended(), "every accepted request counted once: " + status);
    }
  }

  /**
   * A 503 sent while the client is still sending its body: the node answers, sends FIN and
   * reads the rest of the body before closing, so the client can send all of it and read the
   * answer (a close with unread bytes would make the kernel reset the connection).
   */
  @Test
  void aClientStillSendingItsBodyCanFinishAndReadsThe503() throws Exception {
    var settings = TestSettings.onePool(closedPort(), 4, TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000),
        connections(1, Duration.ofSeconds(1)));
    try (SluiceNode node = start(settings)) {
      Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> !s.backends().get(0).up());
      int length = 4 * 1024 * 1024; // above the request buffer: the request is queued, and refused, at its head
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        http.write("POST /upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + length + "\r\n\r\n");
        Thread.sleep(300); // the 503 and the FIN are on their way while the body is not
        byte[] part = new byte[64 * 1024];
        for (int sent = 0; sent < length; sent += part.length) {
          http.write(part); // a reset would fail this
        }
        RawHttp.Response r = http.read();
        assertNoBackendUp(r);
        assertEquals("close", r.header("Connection").orElse(""), "the connection ends after the answer");
      }
    }
  }

  @Test
  void aRequestThatFindsTheBackendDownItselfGets503() throws Exception {
    // nothing pre-opened: the back-end is not known down until the first request tries it
    var settings = TestSettings.onePool(closedPort(), 4, TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000),
        connections(0, Duration.ofSeconds(1)));
    try (SluiceNode node = start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
      assertTrue(Nodes.status(node).backends().get(0).up(), "not tried yet: not known down");
      long start = System.nanoTime();
      RawHttp.Response r = http.get("/first");
      long took = System.nanoTime() - start;
      assertNoBackendUp(r);
      assertTrue(took < BEFORE_QUEUE_TIMEOUT_NANOS, took / 1_000_000 + " ms");
      assertFalse(Nodes.status(node).backends().get(0).up());
    }
  }

  /** A back-end that accepts no connection (its accept queue is full): connects time out. */
  @Test
  void aBackendWhoseConnectsTimeOutGives503AfterTheConnectTimeout() throws Exception {
    try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      List<Socket> fillers = new ArrayList<>();
      try {
        // never accepted: a backlog of 1 holds two, and Linux drops the SYNs beyond that
        for (int i = 0; i < 4; i++) {
          Socket s = new Socket();
          try {
            s.connect(new InetSocketAddress("127.0.0.1", full.getLocalPort()), 200);
          } catch (IOException timedOut) {
            // the queue is full already
          }
          fillers.add(s);
        }
        var settings = TestSettings.onePool(full.getLocalPort(), 4, TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000),
            connections(0, Duration.ofMillis(500)));
        try (SluiceNode node = start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
          long start = System.nanoTime();
          RawHttp.Response r = http.get("/black-hole");
          long took = System.nanoTime() - start;
          assertNoBackendUp(r);
          assertTrue(took < BEFORE_QUEUE_TIMEOUT_NANOS, took / 1_000_000 + " ms");
          assertFalse(Nodes.status(node).backends().get(0).up());
        }
      } finally {
        for (Socket s : fillers) {
          s.close();
        }
      }
    }
  }

  @Test
  void requestsWaitingWhenTheBackendDiesGet503AndItServesAgainWhenRestarted() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1, TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000),
          connections(1, Duration.ofSeconds(1)));
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        List<Future<RawHttp.Response>> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          int n = i;
          answers.add(clients.submit(() -> {
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              return http.get("/wait-" + n);
            }
          }));
        }
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.queueLength() == 3);
        long start = System.nanoTime();
        backend.stop();
        for (Future<RawHttp.Response> f : answers) {
          // the one the back-end held is sent again on a new connection, which is refused: it
          // never got an answer, so it gets the same 503
          assertNoBackendUp(f.get(BEFORE_QUEUE_TIMEOUT_NANOS, TimeUnit.NANOSECONDS));
        }
        assertTrue(System.nanoTime() - start < BEFORE_QUEUE_TIMEOUT_NANOS);
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          assertNoBackendUp(http.get("/while-down"));
          backend.behaveNormally();
          backend.start(); // the same port
          long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          RawHttp.Response r;
          do {
            r = http.get("/after");
          } while (r.status() != 200 && System.nanoTime() < deadline);
          assertEquals(200, r.status(), "traffic resumes once the back-end is back: " + r.bodyText());
          for (int i = 0; i < 10; i++) {
            assertEquals(200, http.get("/after-" + i).status());
          }
        }
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.inProgress() == 0);
        assertTrue(status.noBackendUp() >= 5, status.toString());
        assertEquals(0, status.badGateway());
        assertEquals(0, status.expired());
        assertEquals(status.accepted(), status.ended(), status.toString());
        assertTrue(status.backends().get(0).up());
      }
    }
  }

  @Test
  void aPoolOfTwoWithOneDownServesEverythingFromTheOther() throws Exception {
    try (TestBackend live = TestBackend.started()) {
      var settings = TestSettings.node(TestSettings.pool("web",
          List.of(TestSettings.backend(closedPort(), 2), TestSettings.backend(live.port(), 2)),
          TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000), connections(1, Duration.ofSeconds(1))));
      try (SluiceNode node = start(settings)) {
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> !s.backends().get(0).up());
        List<Future<Integer>> results = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
          results.add(clients.submit(() -> {
            int ok = 0;
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < 25; i++) {
                RawHttp.Response r = http.get("/x" + i);
                assertEquals(200, r.status(), r::bodyText);
                ok++;
              }
            }
            return ok;
          }));
        }
        int ok = 0;
        for (Future<Integer> f : results) {
          ok += f.get(60, TimeUnit.SECONDS);
        }
        assertEquals(100, ok);
        assertTrue(live.awaitServed(100, Duration.ofSeconds(5)));
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.inProgress() == 0);
        assertEquals(0, status.noBackendUp());
        assertEquals(100, status.served());
        assertFalse(status.backends().get(0).up());
      }
    }
  }

  @Test
  void onEveryEventLoopTheQueueRefusesWhileDownAndServesOnceBack() throws Exception {
    int port = closedPort();
    var settings = TestSettings.withEventLoops(TestSettings.onePool(port, 4,
        TestSettings.queue(10_000, QUEUE_TIMEOUT, 10_000), connections(0, Duration.ofSeconds(1))), 2);
    try (SluiceNode node = start(settings)) {
      List<RawHttp> conns = new ArrayList<>();
      try {
        for (int i = 0; i < 6; i++) {
          conns.add(RawHttp.connect(node.httpPort())); // spread over both loops
        }
        for (RawHttp http : conns) {
          assertNoBackendUp(http.get("/down"));
        }
        try (TestBackend backend = new TestBackend(port).start()) {
          for (RawHttp http : conns) {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            RawHttp.Response r;
            do {
              r = http.get("/back");
            } while (r.status() != 200 && System.nanoTime() < deadline);
            assertEquals(200, r.status(), r.bodyText());
          }
        }
      } finally {
        for (RawHttp http : conns) {
          http.close();
        }
      }
    }
  }
}
