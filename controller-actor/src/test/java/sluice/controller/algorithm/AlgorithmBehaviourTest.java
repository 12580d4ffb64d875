package sluice.controller.algorithm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.controller.algorithm.Windows.window;
import static sluice.controller.algorithm.Windows.withDrops;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AlgorithmBehaviourTest {

  // aimd

  @Test
  void aimdAddsWhileLimitBoundAndBacksOffOnDrops() {
    AimdLimit aimd = AimdLimit.builder().bounds(1, 100, 20).build();
    aimd.onSample(window(20, 100, 10, 5));
    assertEquals(21, aimd.limit());
    aimd.onSample(new WindowSample(Windows.WINDOW, 100, 0, 1, 1, 1, 12, 100, 0, Double.NaN, 21));  // not limit-bound: hold
    assertEquals(21, aimd.limit());
    aimd.onSample(withDrops(21, 100, 3, 10));
    assertEquals(18, aimd.limit());
  }

  @Test
  void aimdRejectsABackoffOutsideItsRange() {
    assertThrows(IllegalArgumentException.class, () -> AimdLimit.builder().backoffRatio(1.0).build());
    assertThrows(IllegalArgumentException.class, () -> AimdLimit.builder().timeout(Duration.ZERO).build());
  }

  // band

  @Test
  void bandLowersWhenResponseTimeIsAboveTheBandAndHoldsInside() {
    BandLimit band = BandLimit.builder().bounds(1, 100, 20).band(10, 20).step(2).build();
    band.onSample(window(20, 100, 30, 50));
    assertEquals(18, band.limit());
    band.onSample(window(18, 100, 15, 50));
    assertEquals(18, band.limit());
    band.onSample(window(18, 100, 5, 50));
    assertEquals(20, band.limit());
  }

  @Test
  void bandOnThroughputTurnsAroundWhenRaisingMadeItWorse() {
    BandLimit band = BandLimit.builder().bounds(1, 100, 20)
        .metric(BandLimit.Metric.THROUGHPUT).band(1000, 2000).step(5).build();
    band.onSample(window(20, 200, 10, 50));   // 800/s: below, try up
    assertEquals(25, band.limit());
    band.onSample(window(25, 150, 10, 50));   // 600/s: worse, so down helps here
    assertEquals(20, band.limit());
    band.onSample(window(20, 200, 10, 50));   // 800/s: better than 600, keep going down
    assertEquals(15, band.limit());
  }

  @Test
  void bandHoldsAnL4BackendsBytesPerSecondAndItsTimeToFirstByte() {
    BandLimit bytes = BandLimit.builder().bounds(1, 100, 20)
        .metric(BandLimit.Metric.BYTES_PER_SECOND).band(40e6, 80e6).step(2).build();
    bytes.onSample(l4(20, 25_000_000L, 3));   // 100 MB/s: above, down
    assertEquals(18, bytes.limit());
    bytes.onSample(l4(18, 15_000_000L, 3));   // 60 MB/s: inside, hold
    assertEquals(18, bytes.limit());

    BandLimit firstByte = BandLimit.builder().bounds(1, 100, 20)
        .metric(BandLimit.Metric.MEAN_FIRST_BYTE_TIME).band(1, 5).step(2).build();
    firstByte.onSample(l4(20, 1000, 12));      // 12 ms to the first byte: above, down
    assertEquals(18, firstByte.limit());
    firstByte.onSample(l4(18, 1000, 0));       // no connection got a first byte: nothing to go by
    assertEquals(18, firstByte.limit());
    firstByte.onSample(l4(18, 1000, 3));
    assertEquals(18, firstByte.limit());
  }

  /** An L4 window at {@code limit}: 100 connections, {@code bytes} relayed, first bytes after {@code firstByteMs}. */
  private static WindowSample l4(int limit, long bytes, double firstByteMs) {
    return new WindowSample(Windows.WINDOW, 100, 0, Windows.ms(50), Windows.ms(40), Windows.ms(60), limit, 100, 5,
        Double.NaN, limit, bytes, Windows.ms(firstByteMs));
  }

  @Test
  void bandRejectsAnEmptyBand() {
    assertThrows(IllegalArgumentException.class, () -> BandLimit.builder().band(5, 5).build());
  }

  // queue

  @Test
  void queueRaisesWhileManyWaitAndUndoesARaiseThatBroughtNothing() {
    QueueLimit queue = QueueLimit.builder().bounds(1, 100, 20).low(1).high(10).step(2).stepRatio(0).build();
    queue.onSample(window(20, 500, 10, 50));
    assertEquals(22, queue.limit());
    queue.onSample(window(22, 500, 11, 50));  // no more throughput: back, 22 is a ceiling
    assertEquals(20, queue.limit());
    queue.onSample(window(20, 500, 10, 50));
    assertEquals(20, queue.limit());
    queue.onSample(window(20, 300, 10, 0));   // nothing waits: lower
    assertEquals(18, queue.limit());
  }

  @Test
  void queueKeepsARaiseThatPaid() {
    QueueLimit queue = QueueLimit.builder().bounds(1, 100, 20).step(2).stepRatio(0).build();
    queue.onSample(window(20, 500, 10, 50));
    queue.onSample(window(22, 550, 10, 50));
    assertEquals(24, queue.limit());
  }

  // gradient

  @Test
  void gradientMeasuresMinRttAtLowConcurrencyThenFollowsTheGradient() {
    long[] now = {0};
    GradientLimit gradient = GradientLimit.builder().bounds(1, 1000, 16).minConcurrency(3)
        .requestCount(50).minRttInterval(Duration.ofSeconds(60)).jitterPercent(0)
        .nanoClock(() -> now[0]).random(new SplittableRandom(1)).build();
    assertEquals(3, gradient.limit());
    gradient.onSample(window(3, 60, 10, 50));
    assertEquals(16, gradient.limit());
    assertEquals(10_000_000, gradient.minRttNanos(), 1);
    gradient.onSample(window(16, 100, 10, 50));   // g = 1.25: 20 + sqrt(20)
    assertEquals(24, gradient.limit());
    gradient.onSample(window(24, 100, 40, 50));   // g clamps at 0.5: 12.2 + sqrt(12.2)
    assertEquals(16, gradient.limit());
    now[0] = 61_000_000_000L;
    gradient.onSample(window(16, 100, 10, 50));
    assertEquals(3, gradient.limit());
  }

  // vegas

  @Test
  void vegasGrowsWithoutQueueAndShrinksWithALongOne() {
    VegasLimit vegas = VegasLimit.builder().bounds(1, 1000, 100).random(new SplittableRandom(1)).build();
    vegas.onSample(window(100, 1000, 10, 50));    // learns no-load 10 ms, queue 0: +6*log10(100)
    assertEquals(112, vegas.limit());
    vegas.onSample(window(112, 1000, 20, 50));    // queue 56 > beta*log: -log10
    assertEquals(110, vegas.limit());
  }

  // auto

  @Test
  void autoDwellsAtItsCentreAndProbesAboveThenBelow() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    assertEquals(100, auto.limit());
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    assertEquals(200, auto.limit());
    auto.onSample(window(200, 1000, 50, 50));     // the same at 200: no gain above
    assertEquals(100, auto.limit());
    auto.onSample(window(100, 1000, 25, 50));
    assertEquals(50, auto.limit());
  }

  @Test
  void autoRaisesWhileGoodputScalesWithTheLimit() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    auto.onSample(window(200, 2000, 25, 50));     // 8000/s at 200: elasticity 1
    auto.onSample(window(100, 1000, 25, 50));
    assertEquals(200, auto.centre(), 1e-9);
    assertTrue(auto.limit() > 200, "probes on upwards, limit " + auto.limit());
  }

  @Test
  void autoLowersWhenMoreLimitGivesLessGoodput() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    auto.onSample(window(200, 800, 62.5, 50));    // 3200/s at 200
    auto.onSample(window(100, 1000, 25, 50));
    auto.onSample(window(50, 1100, 11.4, 50));    // 4400/s at 50
    auto.onSample(window(100, 1000, 25, 50));
    assertEquals(50, auto.centre(), 1e-9);
  }

  @Test
  void autoDoesNotRaiseOnWindowsThatWereNotLimitBound() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(new WindowSample(Windows.WINDOW, 1000, 0, Windows.ms(25), 1, 1, 90, 1000, 0, Double.NaN, 100));
    auto.onSample(new WindowSample(Windows.WINDOW, 2000, 0, Windows.ms(25), 1, 1, 190, 2000, 0, Double.NaN, 200));
    auto.onSample(new WindowSample(Windows.WINDOW, 1000, 0, Windows.ms(25), 1, 1, 90, 1000, 0, Double.NaN, 100));
    assertEquals(100, auto.centre(), 1e-9);
  }

  @Test
  void autoSearchesDownwardsAgainWhenGoodputFallsAtAnUnchangedLimit() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    auto.onSample(window(200, 1000, 50, 50));     // no better above
    auto.onSample(window(100, 1000, 25, 50));
    auto.onSample(window(50, 600, 20.8, 50));     // worse below
    auto.onSample(window(100, 1000, 25, 50));     // the knee is here: the step halves
    assertEquals(141, auto.limit());
    auto.onSample(window(141, 1000, 35, 50));
    auto.onSample(window(100, 400, 62.5, 50));    // 1600/s at the same limit: changed?
    assertEquals(100, auto.limit(), "stays to confirm");
    auto.onSample(window(100, 400, 62.5, 50));    // confirmed: the back-end changed
    assertEquals(50, auto.limit(), "first looks below, with the largest step");
  }

  @Test
  void autoTakesOneOutlyingCentreRunForNoise() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    auto.onSample(window(200, 1000, 50, 50));     // no better above
    auto.onSample(window(100, 400, 62.5, 50));    // 1600/s at 100, once
    assertEquals(100, auto.limit(), "stays to confirm");
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s again: not a change
    assertEquals(50, auto.limit(), "the compass search goes on below");
  }

  @Test
  void autoSurveysAfterAChangeAndCentresOnTheTopOfTheCurve() {
    AutoLimit auto = AutoLimit.builder().bounds(1, 1000, 100).build();
    auto.onSample(window(100, 1000, 25, 50));     // 4000/s at 100
    auto.onSample(window(200, 1000, 50, 50));     // no better above
    // the back-end changes: goodput now peaks at 35, 3000/s
    for (int i = 0; i < 12 && auto.limit() != auto.centre() || i < 2; i++) {
      int limit = auto.limit();
      double perSecond = 3000 * Math.exp(-0.5 * Math.pow(Math.log(limit / 35.0), 2));
      auto.onSample(window(limit, (int) Math.round(perSecond / 4), limit / perSecond * 1e3, 50));
    }
    assertEquals(35, auto.centre(), 1, "centre " + auto.centre());
  }

  @Test
  void autoRejectsSettingsOutOfRange() {
    assertThrows(IllegalArgumentException.class, () -> AutoLimit.builder().probe(0.9).build());
    assertThrows(IllegalArgumentException.class, () -> AutoLimit.builder().minSamples(0).build());
    assertThrows(IllegalArgumentException.class, () -> AutoLimit.builder().bounds(1, 10, 20).build());
  }
}
