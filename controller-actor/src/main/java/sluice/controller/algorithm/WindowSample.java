package sluice.controller.algorithm;

/**
 * Measurements of one back-end over one window, summed over every node that talks to it.
 * Times are in nanoseconds.
 *
 * @param windowNanos   length of the window
 * @param completed     requests that ended with a response from the back-end (not 5xx)
 * @param dropped       requests that ended in 5xx, reset or timeout
 * @param meanRttNanos  mean response time of completed requests (0 if none)
 * @param minRttNanos   shortest response time (0 if none)
 * @param maxRttNanos   longest response time (0 if none)
 * @param maxInFlight   most requests in flight at once (summed over nodes)
 * @param arrivals      requests that arrived for the back-end's pool
 * @param queueLength   requests waiting at the window's end (summed over nodes)
 * @param reportedLoad  mean load the back-end reported of itself, NaN if it reported none
 * @param limit         the limit in force during the window
 * @param bytes         L4: bytes relayed both ways on the back-end's connections (0 for HTTP)
 * @param meanFirstByteNanos L4: mean time from a connection's connect to the back-end's first
 *                      byte, over the connections that got one in the window (0 if none)
 */
public record WindowSample(
    long windowNanos,
    int completed,
    int dropped,
    long meanRttNanos,
    long minRttNanos,
    long maxRttNanos,
    int maxInFlight,
    int arrivals,
    int queueLength,
    double reportedLoad,
    int limit,
    long bytes,
    long meanFirstByteNanos) {

  /** A window without the L4 figures (an HTTP back-end's). */
  public WindowSample(long windowNanos, int completed, int dropped, long meanRttNanos, long minRttNanos,
      long maxRttNanos, int maxInFlight, int arrivals, int queueLength, double reportedLoad, int limit) {
    this(windowNanos, completed, dropped, meanRttNanos, minRttNanos, maxRttNanos, maxInFlight, arrivals, queueLength,
        reportedLoad, limit, 0, 0);
  }

  /** Completed requests per second. */
  public double throughput() {
    return windowNanos <= 0 ? 0 : completed * 1e9 / windowNanos;
  }

  /**
   * Whether the limit held requests back in this window: some waited at its end, or the
   * back-end had as many in flight as the limit allows. When it did not, the window says
   * nothing about what a higher limit would give.
   */
  public boolean limitBound() {
    return queueLength > 0 || maxInFlight >= limit;
  }

  /** L4: bytes relayed per second, both ways together. */
  public double bytesPerSecond() {
    return windowNanos <= 0 ? 0 : bytes * 1e9 / windowNanos;
  }

  /** Arriving requests per second. */
  public double requestRate() {
    return windowNanos <= 0 ? 0 : arrivals * 1e9 / windowNanos;
  }
}
