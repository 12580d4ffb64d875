package sluice.controller.sim;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/** Tuning aid: auto over many seeds, worst case per scenario. Runs only when asked. */
class SeedSweepTest {
  @Test
  @EnabledIfSystemProperty(named = "sluice.sim.sweep", matches = ".+")
  void sweep() {
    int seeds = Integer.getInteger("sluice.sim.sweep");
    StringBuilder sb = new StringBuilder();
    for (int n : Scenarios.BEST_NS) {
      double worst = 1;
      double sum = 0;
      for (int seed = 1; seed <= seeds; seed++) {
        double f = Scenarios.steady("auto", n, seed).fractionOfPeak();
        worst = Math.min(worst, f);
        sum += f;
      }
      sb.append(String.format(Locale.ROOT, "N*=%d worst %.3f mean %.3f%n", n, worst, sum / seeds));
    }
    long worst1 = 0;
    long worst2 = 0;
    for (int seed = 1; seed <= seeds; seed++) {
      Scenarios.Shift s = Scenarios.shift("auto", seed);
      long a = s.firstReconvergeNanos() < 0 ? Long.MAX_VALUE : s.firstReconvergeNanos();
      long b = s.secondReconvergeNanos() < 0 ? Long.MAX_VALUE : s.secondReconvergeNanos();
      worst1 = Math.max(worst1, a);
      worst2 = Math.max(worst2, b);
      sb.append(String.format(Locale.ROOT, "seed %d: %.1f %.1f%n", seed, a / 1e9, b / 1e9));
    }
    sb.append(String.format(Locale.ROOT, "shift worst %.1f s, %.1f s%n", worst1 / 1e9, worst2 / 1e9));
    System.out.println(sb);
  }
}
