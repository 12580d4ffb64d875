package sluice.node;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

import sluice.node.settings.BackendSettings;
import sluice.node.testing.TestBackend;
import sluice.protocol.LimitSpec;

/**
 * The default algorithm through the whole node: a back-end that does not thrash (one thread
 * per connection, a fixed 10 ms per request) under 64 clients must see its limit opened up
 * from the initial 8, and never more requests in flight than the limit in force.
 */
class AutoLimitTest {

  @Test
  void autoOpensTheLimitOfABackendThatDoesNotThrash() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      backend.delay(Duration.ofMillis(10));
      var spec = new LimitSpec("auto", 1, 64, 8, Map.of());
      var settings = TestSettings.node(TestSettings.pool("web",
          List.of(new BackendSettings("127.0.0.1:" + backend.port(), "127.0.0.1", backend.port(), spec)),
          TestSettings.queue(10_000, Duration.ofSeconds(60), 10_000), TestSettings.connections()));
      try (SluiceNode node = Nodes.start(settings)) {
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          Thread t = new Thread(() -> {
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              while (!stop.get()) {
                if (http.get("/work").status() != 200) {
                  throw new IllegalStateException("non-200");
                }
              }
            } catch (Exception e) {
              throw new RuntimeException(e);
            }
          });
          t.start();
          clients.add(t);
        }
        int highest = 0;
        try {
          long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
          while (System.nanoTime() < deadline && highest < 24) {
            Thread.sleep(200);
            PoolStatus status = Nodes.status(node);
            highest = Math.max(highest, status.backends().get(0).limit());
          }
        } finally {
          stop.set(true);
          for (Thread t : clients) {
            t.join();
          }
        }
        assertTrue(highest >= 24, "auto opened the limit from 8 to " + highest);
        assertTrue(backend.maxInFlight() <= 64, "never above the max bound: " + backend.maxInFlight());
      }
    }
  }
}
