package sluice.controller.algorithm;

/** Literal windows for algorithm tests: 250 ms long, no drops, no reported load. */
final class Windows {
  private Windows() {}

  static final long WINDOW = 250_000_000L;

  static long ms(double ms) {
    return Math.round(ms * 1_000_000);
  }

  /** A window at {@code limit} with {@code completed} responses of {@code rttMs} and {@code queue} waiting. */
  static WindowSample window(int limit, int completed, double rttMs, int queue) {
    return new WindowSample(WINDOW, completed, 0, ms(rttMs), ms(rttMs), ms(rttMs), limit,
        completed, queue, Double.NaN, limit);
  }

  /** Like {@link #window} but with drops. */
  static WindowSample withDrops(int limit, int completed, int dropped, double rttMs) {
    return new WindowSample(WINDOW, completed, dropped, ms(rttMs), ms(rttMs), ms(rttMs), limit,
        completed, 10, Double.NaN, limit);
  }
}
