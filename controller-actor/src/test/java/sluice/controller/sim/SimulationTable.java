package sluice.controller.sim;

import static sluice.controller.sim.Simulation.SECOND;

import java.util.Locale;

/**
 * Prints the table of docs/controller-simulation.md. Run with
 * {@code mvn -q -B -o -pl controller-actor -am test -Dtest=SimulationTableTest -Dsurefire.failIfNoSpecifiedTests=false -Dsluice.sim.table=true}; see docs/controller-simulation.md.
 */
public final class SimulationTable {
  private SimulationTable() {}

  public static String table() {
    StringBuilder out = new StringBuilder();
    out.append("| algorithm |");
    for (int n : Scenarios.BEST_NS) {
      out.append(" best N ").append(n).append(" |");
    }
    out.append(" shift 22->7 | shift 7->22 |\n|---|");
    out.append("---|".repeat(Scenarios.BEST_NS.size() + 2)).append('\n');
    for (String algorithm : Scenarios.ALGORITHMS) {
      out.append("| ").append(algorithm).append(" |");
      for (int n : Scenarios.BEST_NS) {
        Scenarios.Steady s = Scenarios.steady(algorithm, n);
        out.append(String.format(Locale.ROOT, " L %.0f, %.2f, %.1fx |", s.meanLimit(), s.fractionOfPeak(),
            s.overshoot()));
      }
      Scenarios.Shift shift = Scenarios.shift(algorithm);
      out.append(' ').append(reconverge(shift.firstReconvergeNanos()))
          .append(String.format(Locale.ROOT, " (%.2f) |", shift.fractionPhase2()));
      out.append(' ').append(reconverge(shift.secondReconvergeNanos()))
          .append(String.format(Locale.ROOT, " (%.2f) |", shift.fractionPhase3()));
      out.append('\n');
    }
    return out.toString();
  }

  private static String reconverge(long nanos) {
    return nanos < 0 ? "never" : String.format(Locale.ROOT, "%.1f s", (double) nanos / SECOND);
  }

  public static void main(String[] args) {
    System.out.println(table());
  }
}
