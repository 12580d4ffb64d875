package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
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
  void burstRecordsTheFirstResponseOfEveryConnectionFromItsConnectCall() throws Exception {
    try (ThrashingBackend backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start()) {
      var target = List.of(new InetSocketAddress("127.0.0.1", backend.port()));
      LoadDriver.Result r = new LoadDriver(LoadDriver.Config.burst(target, 200, Duration.ofMillis(500),
          Duration.ofMillis(500))).run(new LoadDriver.Observer() {});
      LoadDriver.Burst b = r.burst();
      assertEquals(200, b.connections());
      assertEquals(200, b.firstOk(), "every connection had its first response");
      assertEquals(0, b.firstFailed());
      assertEquals(200, r.connected());
      assertTrue(b.p50Millis() >= 5, "a first response is not faster than the 5 ms service time: " + b.p50Millis());
      assertTrue(b.maxMillis() >= b.p99Millis() && b.p99Millis() >= b.p50Millis());
      assertTrue(r.goodput() > 0, "the closed loop goes on after the first responses: " + r.goodput());
    }
  }

  @Test
  void aBurstPercentileCountsTheConnectionsWithoutAFirstResponseAsLongerThanTheRun() {
    Histogram firstResponses = new Histogram(3);
    for (int ms = 1; ms <= 60; ms++) { // 60 of 100 connections had their first response, in 1..60 ms
      firstResponses.recordValue(ms * 1000L);
    }
    assertEquals(50, LoadDriver.overAll(firstResponses, 100, 50), 0.1);
    assertEquals(60, LoadDriver.overAll(firstResponses, 100, 60), 0.1);
    assertTrue(Double.isNaN(LoadDriver.overAll(firstResponses, 100, 61)), "falls on a connection with none");
    assertTrue(Double.isNaN(LoadDriver.overAll(firstResponses, 100, 100)), "no max unless all had one");
    assertEquals(60, LoadDriver.overAll(firstResponses, 60, 100), 0.1);
  }

  @Test
  void connectionsBeyondTheActiveOnesStayOpenAndSendNothing() throws Exception {
    try (ThrashingBackend backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start()) {
      var target = List.of(new InetSocketAddress("127.0.0.1", backend.port()));
      var config = new LoadDriver.Config(target, 10, 2, 0, Duration.ofMillis(200), Duration.ofMillis(500), 2);
      LoadDriver.Result r = new LoadDriver(config).run(new LoadDriver.Observer() {});
      assertEquals(10, r.connected());
      assertEquals(8, r.idleOpenAtEnd(), "the 8 idle connections were open at the end");
      assertEquals(0, r.idleFailures());
      // 2 active connections, 5 ms each: at most 400 responses a second
      assertTrue(r.goodput() <= 400 * 1.05, "only the active connections sent requests: " + r.goodput());
      assertEquals(null, r.burst());
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

  @Test
  void shortConnectionsCarryOneHttp10RequestEachAndCountConnectionTime() throws Exception {
    AtomicInteger accepted = new AtomicInteger();
    ConcurrentLinkedQueue<String> heads = new ConcurrentLinkedQueue<>();
    try (ServerSocket server = new ServerSocket(0, 128, java.net.InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> serveOnePerConnection(server, accepted, heads), "one-per-connection");
      acceptor.setDaemon(true);
      acceptor.start();
      var target = List.of(new InetSocketAddress("127.0.0.1", server.getLocalPort()));
      LoadDriver.Result r = new LoadDriver(LoadDriver.Config.shortConnections(target, 4, Duration.ofMillis(300),
          Duration.ofSeconds(1))).run(new LoadDriver.Observer() {});
      assertEquals(0, r.errorsPerSecond(), "errors " + r.errorKinds());
      assertTrue(r.goodput() > 0, "completed connections counted: " + r.goodput());
      // the server answers 10 ms after the request head: a connection takes at least that long
      assertTrue(r.p50Millis() >= 10, "p50 " + r.p50Millis() + " ms is not below the server's 10 ms");
      // 4 clients, one connection each at a time, 10 ms each: at most 400 a second
      assertTrue(r.goodput() <= 400 * 1.05, "no more connections than 4 clients can complete: " + r.goodput());
      // every completed connection was accepted anew: the window's count cannot exceed the accepts
      assertTrue(accepted.get() >= r.goodput(), accepted.get() + " accepts for " + r.goodput() + " completed");
      assertTrue(heads.size() >= r.goodput());
      for (String head : heads) {
        assertTrue(head.startsWith("GET / HTTP/1.0\r\n"), "an HTTP/1.0 request: " + head);
        assertTrue(!head.toLowerCase().contains("keep-alive"), "no keep-alive asked for: " + head);
      }
    }
  }

  /**
   * Per accepted connection (a thread each): reads one request head, waits 10 ms, answers with
   * Connection: close, and reads on: a second request on the same connection would be recorded.
   */
  private static void serveOnePerConnection(ServerSocket server, AtomicInteger accepted,
      ConcurrentLinkedQueue<String> heads) {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return;
      }
      accepted.incrementAndGet();
      Thread t = new Thread(() -> {
        try (s) {
          InputStream in = s.getInputStream();
          OutputStream out = s.getOutputStream();
          StringBuilder head = new StringBuilder();
          int c;
          while ((c = in.read()) >= 0) {
            head.append((char) c);
            if (head.toString().endsWith("\r\n\r\n")) {
              heads.add(head.toString());
              head.setLength(0);
              Thread.sleep(10);
              out.write("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                  .getBytes(StandardCharsets.ISO_8859_1));
              out.flush();
            }
          }
        } catch (IOException | InterruptedException ignored) {
          // the driver closed it
        }
      });
      t.setDaemon(true);
      t.start();
    }
  }
}
