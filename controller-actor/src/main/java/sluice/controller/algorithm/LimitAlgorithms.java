package sluice.controller.algorithm;

import java.time.Duration;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import sluice.protocol.LimitSpec;

/**
 * Builds the algorithm a {@link LimitSpec} names from its text parameters; rejects bad specs
 * with a message that starts with the parameter's key and says what is allowed. Unknown
 * parameter keys are rejected too, so a misspelt key cannot silently fall back to a default.
 *
 * <pre>
 * algorithm  parameters (default)
 * fixed      value (initial)
 * auto       knee-gain (0.05), probe (0.2), min-samples (100)
 * band       metric (mean-response-time), low, high (both required), step (1)
 * queue      low (1), high (10), step (1), step-ratio (0.1), min-gain (0.3), hold-windows (20)
 * gradient   buffer (0.25), jitter (15, percent), min-rtt-interval (60s), request-count (50),
 *            min-concurrency (3)
 * vegas      alpha (3), beta (6), smoothing (1.0), probe-multiplier (30)
 * aimd       backoff-ratio (0.9), increase (1), timeout (5s)
 * </pre>
 */
public final class LimitAlgorithms {
  private LimitAlgorithms() {}

  /** Names of the algorithms this build knows. */
  public static final Set<String> NAMES =
      Set.of("fixed", "auto", "band", "queue", "gradient", "vegas", "aimd");

  /** The algorithm used when a pool names none. */
  public static final String DEFAULT = "auto";

  /**
   * Builds the algorithm. Throws IllegalArgumentException naming the parameter that is
   * wrong and what is allowed.
   */
  public static LimitAlgorithm create(LimitSpec spec, LongSupplier nanoClock, RandomGenerator random) {
    checkBounds(spec);
    Params p = new Params(spec.params());
    int min = spec.min();
    int max = spec.max();
    int initial = spec.initial();
    return switch (spec.algorithm()) {
      case "fixed" -> {
        p.rejectUnknown("fixed", Set.of("value"));
        yield FixedLimit.of(intParam(spec, "value", initial));
      }
      case "auto" -> {
        p.rejectUnknown("auto", Set.of("knee-gain", "probe", "min-samples"));
        yield AutoLimit.builder().bounds(min, max, initial)
            .kneeGain(p.doubleIn("knee-gain", 0.05, 0, 0.9))
            .probe(p.doubleIn("probe", 0.2, 0.01, 0.5))
            .minSamples(p.intIn("min-samples", 100, 1, 1_000_000))
            .build();
      }
      case "band" -> {
        p.rejectUnknown("band", Set.of("metric", "low", "high", "step"));
        double low = p.requiredDouble("low", 0, Double.MAX_VALUE);
        double high = p.requiredDouble("high", 0, Double.MAX_VALUE);
        yield BandLimit.builder().bounds(min, max, initial)
            .metric(BandLimit.Metric.of(p.oneOf("metric", "mean-response-time", BandLimit.Metric.KEYS)))
            .band(low, high)
            .step(p.intIn("step", 1, 1, 100_000))
            .build();
      }
      case "queue" -> {
        p.rejectUnknown("queue", Set.of("low", "high", "step", "step-ratio", "min-gain", "hold-windows"));
        yield QueueLimit.builder().bounds(min, max, initial)
            .low(p.intIn("low", 1, 0, 1_000_000))
            .high(p.intIn("high", 10, 0, 1_000_000))
            .step(p.intIn("step", 1, 1, 100_000))
            .stepRatio(p.doubleIn("step-ratio", 0.1, 0, 1))
            .minGain(p.doubleIn("min-gain", 0.3, 0, 1))
            .holdWindows(p.intIn("hold-windows", 20, 1, 1_000_000))
            .build();
      }
      case "gradient" -> {
        p.rejectUnknown("gradient",
            Set.of("buffer", "jitter", "min-rtt-interval", "request-count", "min-concurrency"));
        yield GradientLimit.builder().bounds(min, max, initial)
            .buffer(p.doubleIn("buffer", 0.25, 0, 10))
            .jitterPercent(p.doubleIn("jitter", 15, 0, 100))
            .minRttInterval(p.durationIn("min-rtt-interval", Duration.ofSeconds(60),
                Duration.ofMillis(100), Duration.ofDays(1)))
            .requestCount(p.intIn("request-count", 50, 1, 1_000_000))
            .minConcurrency(p.intIn("min-concurrency", 3, 1, 100_000))
            .nanoClock(nanoClock)
            .random(random)
            .build();
      }
      case "vegas" -> {
        p.rejectUnknown("vegas", Set.of("alpha", "beta", "smoothing", "probe-multiplier"));
        yield VegasLimit.builder().bounds(min, max, initial)
            .alpha(p.doubleIn("alpha", 3, 0.5, 100))
            .beta(p.doubleIn("beta", 6, 0.5, 100))
            .smoothing(p.doubleIn("smoothing", 1.0, 0.01, 1.0))
            .probeMultiplier(p.intIn("probe-multiplier", 30, 1, 100_000))
            .random(random)
            .build();
      }
      case "aimd" -> {
        p.rejectUnknown("aimd", Set.of("backoff-ratio", "increase", "timeout"));
        yield AimdLimit.builder().bounds(min, max, initial)
            .backoffRatio(p.doubleIn("backoff-ratio", 0.9, 0.5, 0.99))
            .increase(p.intIn("increase", 1, 1, 1000))
            .timeout(p.durationIn("timeout", Duration.ofSeconds(5), Duration.ofMillis(1), Duration.ofDays(1)))
            .build();
      }
      default -> throw new IllegalArgumentException(
          "algorithm: unknown '" + spec.algorithm() + "', allowed: " + new java.util.TreeSet<>(NAMES));
    };
  }

  /** Checks a spec without keeping the algorithm. */
  public static void validate(LimitSpec spec) {
    create(spec, System::nanoTime, RandomGenerator.getDefault());
  }

  static void checkBounds(LimitSpec spec) {
    new Bounds(spec.min(), spec.max(), spec.initial());
  }

  static int intParam(LimitSpec spec, String key, int fallback) {
    String text = spec.params().get(key);
    if (text == null) {
      return fallback;
    }
    try {
      return Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a whole number, was '" + text + "'");
    }
  }
}
