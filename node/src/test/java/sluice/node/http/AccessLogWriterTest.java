package sluice.node.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sluice.node.settings.LogFormat;

/** The access log's hand-over: a writer that falls behind costs lines (counted), never a wait. */
class AccessLogWriterTest {

  private static AccessLog.Entry entry(int i) {
    return new AccessLog.Entry("127.0.0.1", 40000 + i, 1_700_000_000_000L, 1_000, 2_000, 3_000, 4_000, 5_000,
        10_000, "web", "127.0.0.1:9001", 200, 100 + i, AccessLog.Termination.OK, "GET", "/n/" + i, "HTTP/1.1");
  }

  /** A sink whose first write blocks until released, as a disk that stalls. */
  private static final class StallingSink implements AccessLog.Sink {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void write(String line) throws java.io.IOException {
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      lines.add(line);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }

  @Test
  void aStalledWriterDropsAndCountsWhatDoesNotFitAndTheCallerNeverWaits() throws Exception {
    StallingSink sink = new StallingSink();
    int capacity = 16;
    AccessLog log = new AccessLog(LogFormat.TEXT, capacity, sink);
    log.add(entry(0));
    assertTrue(sink.entered.await(10, TimeUnit.SECONDS), "the writer took the first line");
    int offered = 100;
    for (int i = 1; i <= offered; i++) {
      log.add(entry(i)); // returns at once although the writer is stuck
    }
    assertEquals(offered - capacity, log.dropped(), "what did not fit in the queue is counted");
    sink.release.countDown();
    log.close();
    assertEquals(1 + capacity, sink.lines.size());
    assertTrue(sink.lines.get(1).contains("\"GET /n/1 HTTP/1.1\""), sink.lines.get(1));
  }

  @Test
  void textAndJsonLinesCarryTheFields() {
    StringBuilder text = new StringBuilder();
    AccessLog.text(entry(7), text);
    // TR 1 us, Tw 1 us, Tc 1 us, Tr 5 us, Ta 9 us: all under a millisecond
    assertTrue(text.toString().matches("127\\.0\\.0\\.1:40007 \\[\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] "
        + "web/127\\.0\\.0\\.1:9001 0/0/0/0/0 200 107 ok \"GET /n/7 HTTP/1.1\""), text.toString());
    StringBuilder json = new StringBuilder();
    AccessLog.json(entry(7), json);
    assertEquals("{\"time\":\"2023-11-14T22:13:20.000Z\",\"client\":\"127.0.0.1\",\"client_port\":40007,\"pool\":\"web\","
        + "\"backend\":\"127.0.0.1:9001\",\"receive_us\":1,\"queue_us\":1,\"connect_us\":1,\"response_us\":5,"
        + "\"total_us\":9,\"status\":200,\"bytes\":107,\"termination\":\"ok\",\"method\":\"GET\",\"uri\":\"/n/7\","
        + "\"version\":\"HTTP/1.1\"}", json.toString());
  }
}
