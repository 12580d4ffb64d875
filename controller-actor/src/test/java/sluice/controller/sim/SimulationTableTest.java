package sluice.controller.sim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/** Prints the simulation table; a benchmark, not a test, so it runs only when asked. */
class SimulationTableTest {

  @Test
  @EnabledIfSystemProperty(named = "sluice.sim.table", matches = "true")
  void printTable() {
    System.out.println(SimulationTable.table());
  }
}
