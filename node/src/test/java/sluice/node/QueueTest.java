package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import sluice.node.testing.TestBackend;

/** The pool's FIFO: order, its max, its timeout, and refusing new connections. */
class QueueTest {
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  private Future<RawHttp.Response> sendAsync(RawHttp http, String target, String id) {
    return clients.submit(() -> {
      http.send("GET", target, null, "X-Echo-Id: " + id);
      return http.read();
    });
  }

  @Test
  void requestsAreServedInTheOrderTheyArrived() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, Duration.ofSeconds(60), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        List<RawHttp> connections = new ArrayList<>();
        List<Future<RawHttp.Response>> responses = new ArrayList<>();
        int n = 12;
        for (int i = 0; i < n; i++) {
          RawHttp http = RawHttp.connect(node.httpPort());
          connections.add(http);
          responses.add(sendAsync(http, "/order", Integer.toString(i)));
          int queued = i; // the first is on the back-end, the rest wait
          Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.accepted() == queued + 1);
        }
        backend.releaseResponses();
        for (int i = 0; i < n; i++) {
          assertEquals(200, responses.get(i).get(30, TimeUnit.SECONDS).status());
        }
        List<String> order = backend.requests().stream()
            .map(r -> r.header("X-Echo-Id").orElseThrow()).toList();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          expected.add(Integer.toString(i));
        }
        assertEquals(expected, order);
        assertEquals(1, backend.maxInFlight());
        for (RawHttp http : connections) {
          http.close();
        }
      }
    }
  }

  @Test
  void aFullQueueAnswers503WithRetryAfter() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(2, Duration.ofSeconds(60), 2), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        List<Future<RawHttp.Response>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) { // one on the back-end, two waiting
          held.add(sendAsync(RawHttp.connect(node.httpPort()), "/held", "h" + i));
          int accepted = i + 1;
          Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.accepted() == accepted);
          if (i == 0) {
            assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
          }
        }
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          RawHttp.Response full = http.get("/over");
          assertEquals(503, full.status());
          assertTrue(full.header("Retry-After").isPresent(), "Retry-After present");
          assertTrue(full.bodyText().contains("queue full"), full.bodyText());
        }
        backend.releaseResponses();
        for (Future<RawHttp.Response> f : held) {
          assertEquals(200, f.get(30, TimeUnit.SECONDS).status());
        }
        PoolStatus status = Nodes.status(node);
        assertEquals(1, status.rejectedFull());
        assertEquals(3, status.served());
        assertEquals(status.accepted(), status.ended());
      }
    }
  }

  @Test
  void aRequestThatWaitsPastTheTimeoutGets503() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, Duration.ofMillis(300), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        Future<RawHttp.Response> first = sendAsync(RawHttp.connect(node.httpPort()), "/held", "first");
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          long start = System.nanoTime();
          RawHttp.Response late = http.get("/waits");
          long waitedMillis = (System.nanoTime() - start) / 1_000_000;
          assertEquals(503, late.status());
          assertTrue(late.bodyText().contains("queue timeout"), late.bodyText());
          assertTrue(late.header("Retry-After").isPresent());
          assertTrue(waitedMillis >= 300, "answered after " + waitedMillis + " ms, before the timeout");
          // the connection is still usable afterwards
          backend.releaseResponses();
          assertEquals(200, first.get(30, TimeUnit.SECONDS).status());
          assertEquals(200, http.get("/after").status());
        }
        PoolStatus status = Nodes.status(node);
        assertEquals(1, status.expired());
        assertEquals(status.accepted(), status.ended());
      }
    }
  }

  @Test
  void aboveTheThresholdNewConnectionsAreRefusedAndEstablishedOnesServed() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, Duration.ofSeconds(60), 2), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        RawHttp established = RawHttp.connect(node.httpPort());
        assertEquals(200, established.get("/warm").status());
        backend.holdResponses();
        List<Future<RawHttp.Response>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) { // one on the back-end, three waiting: above 2
          held.add(sendAsync(RawHttp.connect(node.httpPort()), "/held", "h" + i));
          int accepted = i + 2;
          Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.accepted() == accepted);
          if (i == 0) {
            assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
          }
        }
        assertEquals(3, Nodes.status(node).queueLength());
        try (RawHttp refused = RawHttp.connect(node.httpPort())) {
          assertTrue(refused.closedByPeer(5_000), "a new connection is closed at once");
        }
        // the established connection is still served: its request joins the queue
        Future<RawHttp.Response> fromEstablished = sendAsync(established, "/established", "e");
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.queueLength() == 4);
        backend.releaseResponses();
        assertEquals(200, fromEstablished.get(30, TimeUnit.SECONDS).status());
        for (Future<RawHttp.Response> f : held) {
          assertEquals(200, f.get(30, TimeUnit.SECONDS).status());
        }
        // drained: new connections are accepted again
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.queueLength() == 0);
        try (RawHttp again = RawHttp.connect(node.httpPort())) {
          assertEquals(200, again.get("/again").status());
        }
        established.close();
      }
    }
  }

  @Test
  void aRequestWhoseClientLeftWhileWaitingNeverReachesTheBackend() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 1,
          TestSettings.queue(100, Duration.ofSeconds(60), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        Future<RawHttp.Response> first = sendAsync(RawHttp.connect(node.httpPort()), "/first", "first");
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        try (RawHttp leaver = RawHttp.connect(node.httpPort())) {
          leaver.send("GET", "/leaver", null);
          Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.queueLength() == 1);
        } // the client closes its connection while its request waits
        Future<RawHttp.Response> stayer = sendAsync(RawHttp.connect(node.httpPort()), "/stayer", "stayer");
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.accepted() == 3);
        Thread.sleep(500); // let the node notice the closed connection (a FIN on loopback: milliseconds)
        backend.releaseResponses();
        assertEquals(200, first.get(30, TimeUnit.SECONDS).status());
        assertEquals(200, stayer.get(30, TimeUnit.SECONDS).status());
        assertEquals(List.of("/first", "/stayer"), backend.requests().stream().map(r -> r.path()).toList());
        PoolStatus status = Nodes.status(node);
        assertEquals(1, status.abandoned());
        assertEquals(status.accepted(), status.ended());
      }
    }
  }
}
