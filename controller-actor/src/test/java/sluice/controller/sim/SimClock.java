package sluice.controller.sim;

import java.util.function.LongSupplier;

/** The simulation's manual clock, handed to algorithms as their nanoClock. */
public final class SimClock implements LongSupplier {
  long nowNanos;

  @Override
  public long getAsLong() {
    return nowNanos;
  }
}
