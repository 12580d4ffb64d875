package sluice.controller.sim;

import static sluice.controller.sim.Simulation.SECOND;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

class TraceDebugTest {
  @Test
  @EnabledIfSystemProperty(named = "sluice.sim.trace", matches = ".+")
  void trace() {
    String[] what = System.getProperty("sluice.sim.trace").split(",");
    String algorithm = what[0];
    Simulation.Result r;
    double peak;
    if (what[1].equals("shift")) {
      r = Scenarios.shift(algorithm).result();
      peak = Scenarios.shiftModels()[0].peak();
    } else if (what[1].equals("never")) {
      r = Scenarios.neverThrashes(algorithm, 1000);
      peak = 1;
    } else {
      int n = Integer.parseInt(what[1]);
      UslModel m = Scenarios.backend(n);
      r = Scenarios.run(Simulation.Settings.of(m, Scenarios.clients(n), Scenarios.STEADY_RUN),
          Scenarios.spec(algorithm, m));
      peak = m.peak();
    }
    StringBuilder sb = new StringBuilder();
    for (long t = 0; t + SECOND / 2 <= r.goodputPerBucket().length * r.bucketNanos(); t += SECOND / 2) {
      sb.append(String.format(Locale.ROOT, "t=%4.1f L=%6.1f x=%.2f%n", t / 1e9,
          r.meanLimit(t, t + SECOND / 2), r.goodput(t, t + SECOND / 2) / peak));
    }
    System.out.println(sb);
  }
}
