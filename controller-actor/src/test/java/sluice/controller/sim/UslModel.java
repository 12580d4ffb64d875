package sluice.controller.sim;

/**
 * A back-end whose throughput with N requests in service follows the Universal Scalability
 * Law: {@code X(N) = N / (S0 (1 + a (N-1) + b N (N-1)))}. Served by processor sharing:
 * each of the N requests progresses at {@code X(N)/N} units of work per second, a request
 * being one unit on average. With a = b = 0 it never thrashes: fixed latency S0 and
 * unbounded parallelism.
 *
 * @param s0Nanos service time of a lone request
 * @param a       contention (serial fraction)
 * @param b       coherency (crosstalk); the best N is sqrt((1 - a) / b)
 */
public record UslModel(double s0Nanos, double a, double b) {

  /** A model whose best N is {@code bestN} and whose peak is {@code peakPerSecond}. */
  public static UslModel withBestN(double bestN, double a, double peakPerSecond) {
    double b = (1 - a) / (bestN * bestN);
    double slowdown = 1 + a * (bestN - 1) + b * bestN * (bestN - 1);
    return new UslModel(bestN / peakPerSecond * 1e9 / slowdown, a, b);
  }

  /** Never thrashes: fixed latency, unbounded parallelism. */
  public static UslModel fixedLatency(double s0Nanos) {
    return new UslModel(s0Nanos, 0, 0);
  }

  /** Work per nanosecond each request in service receives when n are in service. */
  double perRequestRate(int n) {
    return n == 0 ? 0 : 1 / (s0Nanos * (1 + a * (n - 1) + b * (double) n * (n - 1)));
  }

  /** Completions per second with n in service. */
  public double throughput(int n) {
    return n * perRequestRate(n) * 1e9;
  }

  /** The real-valued optimum of the law; infinite when b is 0. */
  public double bestN() {
    return b == 0 ? Double.POSITIVE_INFINITY : Math.sqrt((1 - a) / b);
  }

  /** The best whole N. */
  public int bestWholeN() {
    double n = bestN();
    int lower = Math.max(1, (int) Math.floor(n));
    return throughput(lower) >= throughput(lower + 1) ? lower : lower + 1;
  }

  /** X at the best whole N: the most any limit can get. */
  public double peak() {
    return throughput(bestWholeN());
  }
}
