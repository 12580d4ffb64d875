package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

import sluice.node.settings.BackendSettings;
import sluice.node.settings.Balance;
import sluice.node.settings.PoolSettings;
import sluice.node.testing.TestBackend;
import sluice.protocol.LimitSpec;

/**
 * A back-end reports its own load in a response header; the band algorithm holds that
 * load in its range. The test back-end echoes X-Echo-Id into its response, so the client
 * decides the load it "reports": 5, above the band [1, 2], so the limit must walk down.
 */
class ReportedLoadTest {

  private static int limitAfterLoad(Optional<String> loadHeader) throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      LimitSpec band = new LimitSpec("band", 1, 20, 8, Map.of("metric", "reported-load", "low", "1", "high", "2"));
      PoolSettings pool = new PoolSettings("web",
          List.of(new BackendSettings("127.0.0.1:" + backend.port(), "127.0.0.1", backend.port(), band)),
          Balance.ROUND_ROBIN, TestSettings.queue(1000, Duration.ofSeconds(30), 1000), TestSettings.connections(),
          loadHeader);
      try (SluiceNode node = Nodes.start(TestSettings.node(pool))) {
        AtomicBoolean stop = new AtomicBoolean();
        Thread load = new Thread(() -> {
          try (RawHttp http = RawHttp.connect(node.httpPort())) {
            while (!stop.get()) {
              assertEquals(200, http.get("/work", "X-Echo-Id: 5").status());
            }
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        load.start();
        try {
          PoolStatus status = Nodes.awaitStatus(node, Duration.ofSeconds(10), st -> st.backends().get(0).limit() > 0);
          assertEquals(8, status.backends().get(0).limit(), "band starts at its initial limit");
          long deadline = System.nanoTime() + Duration.ofSeconds(8).toNanos();
          while (System.nanoTime() < deadline && status.backends().get(0).limit() > 2) {
            Thread.sleep(100);
            status = Nodes.status(node);
          }
          return status.backends().get(0).limit();
        } finally {
          stop.set(true);
          load.join();
        }
      }
    }
  }

  @Test
  void bandLowersTheLimitWhileTheBackendReportsLoadAboveTheRange() throws Exception {
    int limit = limitAfterLoad(Optional.of("X-Echo-Id"));
    assertTrue(limit <= 2, "limit walked down from 8, is " + limit);
  }

  @Test
  void withoutTheHeaderConfiguredBandHasNothingToGoOn() throws Exception {
    assertEquals(8, limitAfterLoad(Optional.empty()));
  }
}
