package sluice.controller.sim;

import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import sluice.protocol.LimitSpec;

/**
 * Tuning aid: auto on the noisy demo back-end over many seeds, with the best fixed limit's
 * goodput as the peak. A benchmark, not a test: runs only when asked.
 */
class NoisyReportTest {
  @Test
  @EnabledIfSystemProperty(named = "sluice.sim.noisy", matches = ".+")
  void report() {
    int seeds = Integer.getInteger("sluice.sim.noisy");
    int from = Integer.getInteger("sluice.sim.noisy.from", 1);
    StringBuilder sb = new StringBuilder();
    double worst = 1;
    int changes = 0;
    int worstEarly = 0;
    for (int seed = from; seed < from + seeds; seed++) {
      double best = Scenarios.noisyBestFixed(seed);
      Scenarios.Noisy n = Scenarios.noisy(new LimitSpec("auto", 1, 1000, 8, Map.of()), seed);
      double f = n.goodput() / best;
      worst = Math.min(worst, f);
      changes += n.changesSeen();
      worstEarly = Math.max(worstEarly, n.maxLimitFirst10s());
      sb.append(String.format(Locale.ROOT, "seed %d: best fixed %.0f/s, auto %.3f, changes %d, max limit 0-10 s %d, limits",
          seed, best, f, n.changesSeen(), n.maxLimitFirst10s()));
      for (int s = 0; s < 60; s++) {
        sb.append(' ').append(Math.round(n.result().meanLimit(s * Simulation.SECOND, (s + 1) * Simulation.SECOND)));
      }
      sb.append('\n');
    }
    sb.append(String.format(Locale.ROOT, "worst %.3f, false changes per minute %.2f, worst start-up max %d%n",
        worst, (double) changes / seeds, worstEarly));
    System.out.println(sb);
  }

  @Test
  @EnabledIfSystemProperty(named = "sluice.sim.warming", matches = ".+")
  void warming() {
    int seeds = Integer.getInteger("sluice.sim.warming");
    int from = Integer.getInteger("sluice.sim.warming.from", 1);
    StringBuilder sb = new StringBuilder();
    double worst = 1;
    int worstEarly = 0;
    for (int seed = from; seed < from + seeds; seed++) {
      double best = Scenarios.warmingBestFixed(seed);
      Scenarios.Warming w = Scenarios.warming(new LimitSpec("auto", 1, 1000, 8, Map.of()), seed);
      double f = w.goodput() / best;
      worst = Math.min(worst, f);
      worstEarly = Math.max(worstEarly, w.maxLimitFirst20s());
      sb.append(String.format(Locale.ROOT, "warming seed %d: best fixed %.0f/s, auto %.3f, changes %d, max limit 0-20 s %d, limits",
          seed, best, f, w.changesSeen(), w.maxLimitFirst20s()));
      for (int s = 0; s < 30; s++) {
        sb.append(' ').append(Math.round(w.result().meanLimit(s * Simulation.SECOND, (s + 1) * Simulation.SECOND)));
      }
      sb.append("\n  first 3 s:");
      for (int b = 0; b < 30; b++) {
        sb.append(' ').append(w.result().limitPerBucket()[b]);
      }
      sb.append('\n');
    }
    sb.append(String.format(Locale.ROOT, "warming worst %.3f, worst max limit 0-20 s %d%n", worst, worstEarly));
    System.out.println(sb);
  }
}
