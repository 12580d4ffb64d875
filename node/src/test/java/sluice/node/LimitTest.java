package sluice.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

import sluice.node.testing.TestBackend;

/** A back-end never sees more requests in flight, or more connections, than its limit. */
class LimitTest {

  @Test
  void twoHundredClientsThroughLimitEightUseAtMostEightConnections() throws Exception {
    twoHundredClientsThroughLimitEight(1);
  }

  /** With two event loops each loop has its own queue and connections; the limit holds over both. */
  @Test
  void theLimitHoldsOverTwoEventLoops() throws Exception {
    twoHundredClientsThroughLimitEight(2);
  }

  private void twoHundredClientsThroughLimitEight(int loops) throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.delay(Duration.ofMillis(2));
      var settings = TestSettings.withEventLoops(TestSettings.onePool(backend.port(), 8,
          TestSettings.queue(10_000, Duration.ofSeconds(60), 10_000), TestSettings.connections()), loops);
      try (SluiceNode node = Nodes.start(settings)) {
        int clients = 200;
        int perClient = 10;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<Integer>> results = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
          int client = c;
          results.add(pool.submit(() -> {
            int ok = 0;
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < perClient; i++) {
                String id = client + "-" + i;
                byte[] body = ("payload " + id).getBytes(StandardCharsets.UTF_8);
                String target = "/items/" + id + "?q=" + i;
                http.send("POST", target, body, "X-Echo-Id: " + id);
                RawHttp.Response response = http.read();
                assertEquals(200, response.status(), () -> "request " + id);
                assertArrayEquals(TestBackend.echoBody("POST", target, body, id), response.body(),
                    () -> "body of request " + id);
                assertEquals(id, response.header("X-Echo-Id").orElse(null));
                ok++;
              }
            }
            return ok;
          }));
        }
        int ok = 0;
        for (Future<Integer> f : results) {
          ok += f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertEquals(clients * perClient, ok);
        // the back-end counts a response served just after writing it: the client may be faster
        assertTrue(backend.awaitServed(clients * perClient, Duration.ofSeconds(5)), "served " + backend.served());
        assertEquals(clients * perClient, backend.served());
        assertTrue(backend.maxInFlight() <= 8, "back-end saw " + backend.maxInFlight() + " in flight");
        assertTrue(backend.maxInFlight() >= 2, "the limit was used: " + backend.maxInFlight());
        if (loops == 1) {
          assertTrue(backend.connectionsAccepted() <= 8, "back-end saw " + backend.connectionsAccepted() + " connections");
        } else {
          // slots may move between the loops, a connection closed on one and opened on the other
          assertTrue(backend.maxConnectionsOpen() <= 8, "back-end saw " + backend.maxConnectionsOpen() + " open at once");
        }
        PoolStatus status = Nodes.status(node);
        assertEquals(clients * perClient, status.accepted());
        assertEquals(status.accepted(), status.ended() + status.inProgress());
        assertEquals(clients * perClient, status.served());
      }
    }
  }

  @Test
  void twoBackendsEachHeldToItsOwnLimit() throws Exception {
    try (TestBackend four = TestBackend.started(); TestBackend eight = TestBackend.started()) {
      four.delay(Duration.ofMillis(5));
      eight.delay(Duration.ofMillis(5));
      var settings = TestSettings.node(TestSettings.pool("web",
          List.of(TestSettings.backend(four.port(), 4), TestSettings.backend(eight.port(), 8)),
          TestSettings.queue(10_000, Duration.ofSeconds(60), 10_000), TestSettings.connections()));
      try (SluiceNode node = Nodes.start(settings)) {
        ExecutorService pool = Executors.newFixedThreadPool(64);
        List<Future<?>> results = new ArrayList<>();
        for (int c = 0; c < 64; c++) {
          results.add(pool.submit(() -> {
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              for (int i = 0; i < 20; i++) {
                assertEquals(200, http.get("/x").status());
              }
            }
            return null;
          }));
        }
        for (Future<?> f : results) {
          f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertTrue(four.maxInFlight() <= 4, "limit 4 back-end saw " + four.maxInFlight());
        assertTrue(eight.maxInFlight() <= 8, "limit 8 back-end saw " + eight.maxInFlight());
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (four.served() + eight.served() < 64 * 20 && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        assertTrue(four.served() > 0 && eight.served() > 0, four.served() + " / " + eight.served());
        assertEquals(64 * 20, four.served() + eight.served());
        assertTrue(four.connectionsAccepted() <= 4 && eight.connectionsAccepted() <= 8);
      }
    }
  }
}
