package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.demo.ThrashingBackend;

/**
 * The load driver measures what it claims: latency never below the back-end's service time,
 * and in an open loop latency counts from the intended send time, so an overloaded back-end
 * shows queueing instead of hiding it (no coordinated omission).
 */
class LoadDriverTest {

  @Test
  void closedLoopCountsEveryResponseAndNoLatencyBelowTheServiceTime() throws Exception {
    // alpha = beta = 0: every request takes 5 ms however many are in service
    try (ThrashingBackend backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start()) {
      var target = List.of(new InetSocketAddress("127.0.0.1", backend.port()));
      LoadDriver.Result r = new LoadDriver(LoadDriver.Config.closed(target, 4, Duration.ofMillis(300),
          Duration.ofSeconds(1))).run(new LoadDriver.Observer() {});
      assertEquals(0, r.errorsPerSecond());
      assertEquals(4, r.connected());
      assertTrue(r.goodput() > 0, "responses counted: " + r.goodput());
      assertTrue(r.p50Millis() >= 5, "p50 " + r.p50Millis() + " ms is not below the 5 ms service time");
      // 4 connections, 5 ms each: at most 800 responses a second can exist
      assertTrue(r.goodput() <= 800 * 1.05, "no more responses than the back-end can give: " + r.goodput());
    }
  }

  @Test
  void openLoopLatencyCountsFromTheIntendedSendTime() throws Exception {
    // 2 connections, 50 ms each: at most 40 responses a second; 200 a second are due
    try (ThrashingBackend backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(50), 0, 0, 100).start()) {
      var target = List.of(new InetSocketAddress("127.0.0.1", backend.port()));
      var config = new LoadDriver.Config(target, 2, 2, 200, Duration.ZERO, Duration.ofSeconds(1), 1);
      LoadDriver.Result r = new LoadDriver(config).run(new LoadDriver.Observer() {});
      assertTrue(r.backlogMax() > 50, "due requests piled up: " + r.backlogMax());
      assertTrue(r.p99Millis() > 300, "queueing shows in the latency: p99 " + r.p99Millis() + " ms");
    }
  }
}
