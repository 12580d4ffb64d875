package sluice.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import sluice.controller.algorithm.WindowSample;
import sluice.protocol.LeaseProtocol.SampleBatch;

/** Batches of several nodes into one window, with literal inputs. */
class WindowAccumulatorTest {

  @Test
  void l4BytesAddUpAndTheTimeToFirstByteIsTheMeanOverEveryConnectionThatGotOne() {
    WindowAccumulator window = new WindowAccumulator();
    // n1: 10 connections got a first byte after 2 ms each; n2: 30 after 6 ms each; 100 ms windows
    window.add(new SampleBatch("b", "n1", 100_000_000L, 10, 0, 0, 10 * 50_000_000L, 40_000_000L, 60_000_000L, 4,
        10, 2, 0, 0, 1_000_000L, 10, 10 * 2_000_000L));
    window.add(new SampleBatch("b", "n2", 100_000_000L, 30, 0, 0, 30 * 50_000_000L, 40_000_000L, 60_000_000L, 4,
        30, 1, 0, 0, 3_000_000L, 30, 30 * 6_000_000L));
    WindowSample s = window.drain(0, 8);
    assertEquals(4_000_000L, s.bytes());
    assertEquals(40e6, s.bytesPerSecond(), 1e-6, "4 MB in the 100 ms both nodes' batches cover");
    assertEquals(5_000_000L, s.meanFirstByteNanos(), "(10 x 2 ms + 30 x 6 ms) / 40");
    assertEquals(40, s.completed());
    assertEquals(3, s.queueLength());

    WindowSample next = window.drain(0, 8);
    assertEquals(0, next.bytes(), "a drained window starts from nothing");
    assertEquals(0, next.meanFirstByteNanos());
  }

  @Test
  void anHttpBatchCarriesNoL4Figures() {
    WindowAccumulator window = new WindowAccumulator();
    window.add(new SampleBatch("b", "n1", 100_000_000L, 10, 0, 0, 10 * 5_000_000L, 4_000_000L, 6_000_000L, 4, 10, 0,
        0, 0));
    WindowSample s = window.drain(0, 8);
    assertEquals(0, s.bytes());
    assertEquals(0, s.meanFirstByteNanos());
    assertEquals(0, s.bytesPerSecond());
  }
}
