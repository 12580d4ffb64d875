package sluice.controller.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sluice.protocol.LimitSpec;

/**
 * Behaviour of the default algorithm on the deterministic simulation (manual clock, fixed
 * seed): it finds the knee of back-ends it knows nothing about, follows a change of
 * capacity, takes a noisy host's noise for what it is, and opens up fully for a back-end that
 * never thrashes.
 */
class AutoSimulationTest {

  @ParameterizedTest(name = "best N {0}")
  @ValueSource(ints = {4, 16, 64, 200})
  void reachesNinetyFivePercentOfThePeak(int bestN) {
    assertNinetyFivePercent(bestN);
  }

  private static void assertNinetyFivePercent(int bestN) {
    Scenarios.Steady s = Scenarios.steady("auto", bestN);

    assertTrue(s.fractionOfPeak() >= 0.95,
        "goodput " + s.fractionOfPeak() + " of the peak at mean limit " + s.meanLimit());
  }

  @Test
  void followsTheBackendWhenItsCapacityChanges() {
    Scenarios.Shift s = Scenarios.shift("auto");

    assertTrue(s.firstReconvergeNanos() >= 0 && s.firstReconvergeNanos() <= 3 * Simulation.SECOND,
        "22 -> 7: back above 0.90 of the new peak after " + s.firstReconvergeNanos() / 1e9 + " s");
    assertTrue(s.secondReconvergeNanos() >= 0 && s.secondReconvergeNanos() <= 3 * Simulation.SECOND,
        "7 -> 22: back above 0.90 of the new peak after " + s.secondReconvergeNanos() / 1e9 + " s");
  }

  @Test
  void neitherRestartsNorLosesGoodputOnANoisyHostWhoseBackendNeverChanges() {
    Scenarios.Noisy auto = Scenarios.noisy(new LimitSpec("auto", 1, 1000, 8, Map.of()), 42);
    double bestFixed = Scenarios.noisyBestFixed(42);

    assertEquals(0, auto.changesSeen(), "changes of the back-end seen in 60 s of noise alone");
    assertTrue(auto.goodput() >= 0.93 * bestFixed,
        "goodput " + auto.goodput() / bestFixed + " of the best fixed limit's");
  }

  @Test
  void opensUpToMaxForABackendThatNeverThrashes() {
    Simulation.Result r = Scenarios.neverThrashes("auto", 1000);

    assertEquals(1000, r.maxLimit());
  }
}
