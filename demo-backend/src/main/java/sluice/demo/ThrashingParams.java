package sluice.demo;

import java.time.Duration;
import java.util.Locale;

/**
 * How a {@link ThrashingBackend} serves: the Universal Scalability Law with processor sharing.
 *
 * <p>Each request needs one unit of work. With {@code n} requests in service, each progresses at
 * {@code 1 / (s0 * (1 + alpha (n-1) + beta n (n-1)))} units per second, so throughput is
 * {@code X(n) = n / (s0 * (1 + alpha (n-1) + beta n (n-1)))}, highest at
 * {@code n* = sqrt((1 - alpha) / beta)}.
 *
 * @param s0        service time of one request alone; zero answers at once
 * @param alpha     contention (serial fraction), in [0, 1]
 * @param beta      coherency (cross-talk) penalty, at least 0
 * @param bodyBytes size of the body of each served response, in [0, {@value #MAX_BODY_BYTES}]
 */
public record ThrashingParams(Duration s0, double alpha, double beta, int bodyBytes) {

  public static final int MAX_BODY_BYTES = 64 * 1024 * 1024;

  /** Demo defaults: 2 ms alone, best at 20 in service, peak about 3,740 requests/s. */
  public static final ThrashingParams DEFAULTS =
      new ThrashingParams(Duration.ofMillis(2), 0.04, 0.0024, 100);

  public ThrashingParams {
    if (s0 == null || s0.isNegative()) {
      throw new IllegalArgumentException("s0 must be a duration >= 0, got " + s0);
    }
    if (s0.compareTo(Duration.ofHours(1)) > 0) {
      throw new IllegalArgumentException("s0 must be at most 1h, got " + s0);
    }
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    }
    if (!(beta >= 0.0 && beta <= 1.0)) {
      throw new IllegalArgumentException("beta must be in [0, 1], got " + beta);
    }
    if (bodyBytes < 0 || bodyBytes > MAX_BODY_BYTES) {
      throw new IllegalArgumentException(
          "body must be in [0, " + MAX_BODY_BYTES + "] bytes, got " + bodyBytes);
    }
  }

  public static ThrashingParams defaults() {
    return DEFAULTS;
  }

  public ThrashingParams withS0(Duration value) {
    return new ThrashingParams(value, alpha, beta, bodyBytes);
  }

  public ThrashingParams withAlpha(double value) {
    return new ThrashingParams(s0, value, beta, bodyBytes);
  }

  public ThrashingParams withBeta(double value) {
    return new ThrashingParams(s0, alpha, value, bodyBytes);
  }

  public ThrashingParams withBodyBytes(int value) {
    return new ThrashingParams(s0, alpha, beta, value);
  }

  /** The slowdown factor {@code 1 + alpha (n-1) + beta n (n-1)} with {@code n} in service. */
  public double slowdown(double n) {
    return 1.0 + alpha * (n - 1.0) + beta * n * (n - 1.0);
  }

  /** Response time of a request that shares the server with {@code n - 1} others throughout. */
  public Duration responseTimeAt(int n) {
    return Duration.ofNanos(Math.round(s0.toNanos() * slowdown(n)));
  }

  /** Requests per second completed with {@code n} always in service; infinite when s0 is 0. */
  public double throughputAt(double n) {
    if (n <= 0) {
      return 0.0;
    }
    return n / (s0.toNanos() * 1e-9 * slowdown(n));
  }

  /** The real-valued best concurrency {@code sqrt((1-alpha)/beta)}: infinite when beta is 0. */
  public double bestN() {
    return Math.sqrt((1.0 - alpha) / beta);
  }

  /**
   * The highest throughput over whole numbers of requests in service, in requests per second;
   * infinite when s0 is 0, or when neither alpha nor beta limits it.
   */
  public double peakThroughput() {
    double best = bestN();
    if (Double.isInfinite(best)) {
      return alpha > 0 ? 1.0 / (s0.toNanos() * 1e-9 * alpha) : Double.POSITIVE_INFINITY;
    }
    double low = Math.max(1.0, Math.floor(best));
    return Math.max(throughputAt(low), throughputAt(low + 1.0));
  }

  /** These parameters as JSON object members (no braces), for /stats. */
  String toJsonMembers() {
    return String.format(
        Locale.ROOT,
        "\"s0Millis\":%s,\"alpha\":%s,\"beta\":%s,\"bodyBytes\":%d,\"bestN\":%s,\"peakThroughput\":%s",
        json(s0.toNanos() / 1e6), json(alpha), json(beta), bodyBytes,
        json(bestN()), json(peakThroughput()));
  }

  private static String json(double value) {
    return Double.isFinite(value) ? Double.toString(value) : "null";
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT, "s0=%s alpha=%s beta=%s body=%dB (best N %.1f, peak %.0f req/s)",
        s0, alpha, beta, bodyBytes, bestN(), peakThroughput());
  }
}
