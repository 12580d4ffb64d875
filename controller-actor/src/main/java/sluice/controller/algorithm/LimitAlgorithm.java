package sluice.controller.algorithm;

/**
 * Turns measurements of one back-end into a concurrency limit. Plain Java: no actor, no
 * clock of its own (time arrives in the samples or through an injected clock).
 */
public interface LimitAlgorithm {

  /** The current limit, at least 1. */
  int limit();

  /** Takes one window of measurements of the back-end, aggregated over all nodes. */
  void onSample(WindowSample sample);
}
