package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

import sluice.node.settings.ConnectionSettings;
import sluice.node.testing.TestBackend;

/** What clients see when a back-end closes connections, dies mid-response, or is down. */
class BackendFailureTest {
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  private static ConnectionSettings quickRetry() {
    return new ConnectionSettings(1, Duration.ofSeconds(30), Duration.ofSeconds(1), Duration.ofSeconds(5),
        Duration.ofMillis(50), Duration.ofMillis(200), 64 * 1024);
  }

  @Test
  void aBackendClosingKeptAliveConnectionsIsInvisibleToClients() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.closeAfterEachResponse(true);
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings)) {
        List<Future<Integer>> results = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
          results.add(clients.submit(() -> {
            int ok = 0;
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < 50; i++) {
                RawHttp.Response r = http.get("/k?i=" + i);
                assertEquals(200, r.status(), () -> "got " + r.status() + ": " + r.bodyText());
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
        assertEquals(400, ok);
        assertTrue(backend.maxInFlight() <= 4);
        PoolStatus status = Nodes.status(node);
        assertEquals(400, status.served());
        assertEquals(0, status.badGateway());
      }
    }
  }

  /** Each connection carries one request and is closed by the back-end's Connection: close. */
  @Test
  void aBackendThatClosesEveryConnectionIsStillHeldToItsLimit() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.announceCloseAfterEachResponse(true).delay(Duration.ofMillis(1));
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings)) {
        List<Future<Integer>> results = new ArrayList<>();
        for (int c = 0; c < 16; c++) {
          results.add(clients.submit(() -> {
            int ok = 0;
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < 40; i++) {
                RawHttp.Response r = http.get("/c?i=" + i);
                assertEquals(200, r.status(), () -> "got " + r.status() + ": " + r.bodyText());
                assertTrue(r.header("Connection").isEmpty(), "the back-end's close is not the client's");
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
        assertEquals(640, ok);
        assertTrue(backend.maxInFlight() <= 4, "back-end saw " + backend.maxInFlight() + " in flight");
        // (its count of open connections may briefly show a fifth: it counts a connection it closed
        // itself until its own thread has seen the close, while Sluice already opened the next)
        PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.inProgress() == 0);
        assertEquals(640, status.served());
        assertEquals(0, status.backends().get(0).inFlight(), "nothing counted in flight once all is answered");
      }
    }
  }

  @Test
  void aBugInTheBackendActorRestartsItAndItsClientGets502NotAHang() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        Future<RawHttp.Response> held = clients.submit(() -> RawHttp.connect(node.httpPort()).get("/held"));
        assertTrue(backend.awaitInFlight(1, Duration.ofSeconds(10)));
        // work that is not an HTTP exchange makes the back-end actor fail: a stand-in for a bug
        node.queue("web").tell(new sluice.node.queue.QueueActor.Enqueue(new sluice.node.queue.TestWork("not HTTP")));
        RawHttp.Response r = held.get(10, TimeUnit.SECONDS);
        assertEquals(502, r.status(), r.bodyText());
        assertTrue(r.bodyText().contains("restarted"), r.bodyText());
        backend.behaveNormally();
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          int status;
          do {
            status = http.get("/after-restart").status();
          } while (status != 200 && System.nanoTime() < deadline);
          assertEquals(200, status, "the restarted actor serves again");
        }
      }
    }
  }

  @Test
  void aBackendDyingMidResponseGives502ToThatClientOnly() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.dieMidResponse("/die").delay(Duration.ofMillis(2));
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings)) {
        List<Future<Integer>> others = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
          others.add(clients.submit(() -> {
            int ok = 0;
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < 50; i++) {
                if (http.get("/fine").status() == 200) {
                  ok++;
                }
              }
            }
            return ok;
          }));
        }
        for (int i = 0; i < 3; i++) {
          try (RawHttp http = RawHttp.connect(node.httpPort())) {
            RawHttp.Response r = http.get("/die");
            assertEquals(502, r.status(), r.bodyText());
            // the client's own connection to Sluice survives
            assertEquals(200, http.get("/fine").status());
          }
        }
        for (Future<Integer> f : others) {
          assertEquals(50, f.get(60, TimeUnit.SECONDS));
        }
        PoolStatus status = Nodes.status(node);
        assertEquals(3, status.badGateway());
        assertEquals(status.accepted(), status.ended());
      }
    }
  }

  @Test
  void aBackendClosingBeforeAnsweringIsRetriedOnceThen502() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.dieBeforeResponse("/never");
      var settings = TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        RawHttp.Response r = http.get("/never");
        assertEquals(502, r.status(), r.bodyText());
        assertEquals(2, backend.requests().stream().filter(q -> q.path().equals("/never")).count(),
            "an idempotent request is sent twice at most");
        assertEquals(200, http.get("/ok").status());
      }
    }
  }

  @Test
  void aBackendThatIsDownGives503AndTrafficResumesWhenItComesBack() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(10_000, Duration.ofMillis(500), 10_000), quickRetry());
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(200, http.get("/before").status());
        backend.stop();
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> !s.backends().get(0).up()
            || s.backends().get(0).connections() == 0);
        RawHttp.Response down = http.get("/while-down");
        assertTrue(down.status() == 503 || down.status() == 502, "got " + down.status());
        assertTrue(down.bodyText().contains("back-end") || down.bodyText().contains("queue timeout"), down.bodyText());
        backend.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int status;
        do {
          status = http.get("/after").status();
        } while (status != 200 && System.nanoTime() < deadline);
        assertEquals(200, status, "traffic resumes once the back-end is back");
        Nodes.awaitStatus(node, Duration.ofSeconds(5), s -> s.backends().get(0).up());
      }
    }
  }

  @Test
  void noResponseWithinTheResponseTimeoutGives504() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var connections = new ConnectionSettings(1, Duration.ofSeconds(30), Duration.ofSeconds(1),
          Duration.ofMillis(300), Duration.ofMillis(50), Duration.ofMillis(200), 64 * 1024);
      var settings = TestSettings.onePool(backend.port(), 2,
          TestSettings.queue(10_000, Duration.ofSeconds(30), 10_000), connections);
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        backend.holdResponses();
        RawHttp.Response r = http.get("/slow");
        assertEquals(504, r.status(), r.bodyText());
        backend.behaveNormally();
        assertEquals(200, http.get("/ok").status());
        PoolStatus status = Nodes.status(node);
        assertEquals(1, status.gatewayTimeout());
      }
    }
  }

  @Test
  void oneBackendDownTheOtherServes() throws Exception {
    try (TestBackend a = TestBackend.started(); TestBackend b = TestBackend.started()) {
      var settings = TestSettings.node(TestSettings.pool("web",
          List.of(TestSettings.backend(a.port(), 2), TestSettings.backend(b.port(), 2)),
          TestSettings.queue(10_000, Duration.ofSeconds(5), 10_000), quickRetry()));
      try (SluiceNode node = Nodes.start(settings); RawHttp http = RawHttp.connect(node.httpPort())) {
        assertEquals(200, http.get("/warm").status());
        // a back-end counts a request served just after the client has read the response
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (a.served() + b.served() < 1 && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        a.stop();
        long servedByB = b.served();
        for (int i = 0; i < 20; i++) {
          RawHttp.Response r = http.get("/x" + i);
          assertEquals(200, r.status(), () -> r.bodyText());
        }
        assertTrue(b.awaitServed(servedByB + 20, Duration.ofSeconds(5)));
        assertEquals(servedByB + 20, b.served(), "the other back-end served all");
      }
    }
  }
}
