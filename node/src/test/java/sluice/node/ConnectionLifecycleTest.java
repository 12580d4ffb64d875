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
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.backend.BackendEntity;
import sluice.node.settings.ConnectionSettings;
import sluice.node.testing.TestBackend;
import sluice.protocol.LimitDecision;

/** Back-end connections: pre-opened, closed when idle too long, and when the limit drops only idle ones. */
class ConnectionLifecycleTest {
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  @Test
  void preOpensThenClosesIdleConnectionsDownToThePreOpenCount() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var connections = new ConnectionSettings(2, Duration.ofMillis(400), Duration.ofSeconds(1), Duration.ofSeconds(10),
          Duration.ofMillis(50), Duration.ofMillis(500), 64 * 1024);
      var settings = TestSettings.onePool(backend.port(), 6,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), connections);
      try (SluiceNode node = Nodes.start(settings)) {
        assertTrue(backend.awaitConnectionsOpen(2, Duration.ofSeconds(10)), "two connections pre-opened");
        assertEquals(0, backend.requests().size());
        backend.holdResponses();
        List<Future<RawHttp.Response>> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
          RawHttp http = RawHttp.connect(node.httpPort());
          held.add(clients.submit(() -> http.get("/busy")));
        }
        assertTrue(backend.awaitInFlight(6, Duration.ofSeconds(10)), "six in flight: " + backend.inFlight());
        backend.releaseResponses();
        for (Future<RawHttp.Response> f : held) {
          assertEquals(200, f.get(10, TimeUnit.SECONDS).status());
        }
        assertEquals(6, backend.connectionsOpen());
        // idle for longer than the idle timeout: back to the pre-open count
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).connections() == 2);
        assertTrue(backend.awaitConnectionsOpen(2, Duration.ofSeconds(5)));
        assertEquals(2, backend.connectionsOpen());
      }
    }
  }

  @Test
  void whenTheLimitDropsBusyConnectionsFinishAndOnlyThenClose() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        backend.holdResponses();
        List<Future<RawHttp.Response>> held = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          RawHttp http = RawHttp.connect(node.httpPort());
          held.add(clients.submit(() -> http.get("/req" + held.size())));
        }
        assertTrue(backend.awaitInFlight(4, Duration.ofSeconds(10)));
        // the controller's decision, as the entity gets it: limit 4 -> 2
        ClusterSharding.get(node.system())
            .entityRefFor(BackendEntity.TYPE_KEY, "127.0.0.1:" + backend.port())
            .tell(new LimitDecision("127.0.0.1:" + backend.port(), 2, "test lowers the limit"));
        Nodes.awaitStatus(node, Duration.ofSeconds(10), s -> s.backends().get(0).limit() == 2);
        assertEquals(4, backend.inFlight(), "busy connections are not cut");
        assertEquals(4, backend.connectionsOpen());
        backend.resetMaxima();
        backend.releaseResponses();
        for (Future<RawHttp.Response> f : held) {
          assertEquals(200, f.get(10, TimeUnit.SECONDS).status(), "every request is answered");
        }
        assertTrue(backend.maxInFlight() <= 4);
        // the connections above the new limit close once idle; what stays is one or two (when the
        // queued requests were served faster than the second slot came back, one connection took
        // them all), and the back-end sees as many as Sluice holds
        Nodes.await(() -> {
          int open = backend.connectionsOpen();
          return open >= 1 && open <= 2 && open == Nodes.status(node).backends().get(0).connections();
        }, "the back-end holds the one or two connections Sluice keeps");
        // from now on at most 2 in flight
        backend.resetMaxima();
        List<Future<RawHttp.Response>> more = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          RawHttp http = RawHttp.connect(node.httpPort());
          more.add(clients.submit(() -> http.get("/after")));
        }
        for (Future<RawHttp.Response> f : more) {
          assertEquals(200, f.get(10, TimeUnit.SECONDS).status());
        }
        assertTrue(backend.maxInFlight() <= 2, "in flight after the drop: " + backend.maxInFlight());
      }
    }
  }
}
