package sluice.controller.algorithm;

/** A limit that never moves: what HAProxy's {@code maxconn} gives. */
public final class FixedLimit implements LimitAlgorithm {
  private final int limit;

  private FixedLimit(int limit) {
    this.limit = limit;
  }

  public static FixedLimit of(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("value must be at least 1, was " + limit);
    }
    return new FixedLimit(limit);
  }

  @Override
  public int limit() {
    return limit;
  }

  @Override
  public void onSample(WindowSample sample) {
    // a fixed limit does not learn
  }
}
