package sluice.node.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class LatencyBucketsTest {

  private static long ms(double millis) {
    return Math.round(millis * 1_000_000);
  }

  @Test
  void aValueOnABoundCountsInThatBucketAsPrometheusLeSays() {
    LatencyBuckets buckets = new LatencyBuckets();
    buckets.record(ms(0.5)); // le 0.0005
    buckets.record(ms(0.5) + 1); // le 0.001
    buckets.record(ms(30_000) + 1); // above every bound: +Inf only
    buckets.record(-5); // a clock oddity: 0
    long[] expected = new long[LatencyBuckets.BOUNDS_SECONDS.length + 1];
    expected[0] = 2;
    expected[1] = 1;
    expected[expected.length - 1] = 1;
    LatencyBuckets.Snapshot s = buckets.snapshot();
    assertArrayEquals(expected, s.counts());
    assertEquals(4, s.count());
    assertEquals(ms(0.5) + ms(0.5) + 1 + ms(30_000) + 1, s.sumNanos());
  }

  @Test
  void aSnapshotIsACopyAndSnapshotsAdd() {
    LatencyBuckets buckets = new LatencyBuckets();
    buckets.record(ms(3));
    LatencyBuckets.Snapshot first = buckets.snapshot();
    buckets.record(ms(3));
    assertEquals(1, first.count(), "later records do not reach an earlier snapshot");
    LatencyBuckets.Snapshot both = first.plus(buckets.snapshot());
    assertEquals(3, both.count());
    assertEquals(ms(9), both.sumNanos());
  }

  /** The request path records into it: it must not allocate. */
  @Test
  void recordingAllocatesNothing() {
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long thread = Thread.currentThread().getId();
    LatencyBuckets buckets = new LatencyBuckets();
    for (int i = 0; i < 10_000; i++) {
      buckets.record(i * 1_000L); // warm up, and load every class involved
    }
    long before = threads.getThreadAllocatedBytes(thread);
    for (int i = 0; i < 1_000_000; i++) {
      buckets.record(i * 37_000L);
    }
    long allocated = threads.getThreadAllocatedBytes(thread) - before;
    // a single allocation per call would be at least 16 MB here
    assertTrue(allocated < 16 * 1024, allocated + " bytes allocated for a million records");
  }
}
