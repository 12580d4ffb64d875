package sluice.controller.algorithm;

import java.util.Set;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import sluice.protocol.LimitSpec;

/** Builds the algorithm a {@link LimitSpec} names; rejects bad specs with a clear message. */
public final class LimitAlgorithms {
  private LimitAlgorithms() {}

  /** Names of the algorithms this build knows. */
  public static final Set<String> NAMES = Set.of("fixed");

  /**
   * Builds the algorithm. Throws IllegalArgumentException naming the parameter that is
   * wrong and what is allowed.
   */
  public static LimitAlgorithm create(LimitSpec spec, LongSupplier nanoClock, RandomGenerator random) {
    checkBounds(spec);
    return switch (spec.algorithm()) {
      case "fixed" -> FixedLimit.of(intParam(spec, "value", spec.initial()));
      default -> throw new IllegalArgumentException(
          "algorithm: unknown '" + spec.algorithm() + "', allowed: " + NAMES);
    };
  }

  /** Checks a spec without keeping the algorithm. */
  public static void validate(LimitSpec spec) {
    create(spec, System::nanoTime, RandomGenerator.getDefault());
  }

  static void checkBounds(LimitSpec spec) {
    if (spec.min() < 1) {
      throw new IllegalArgumentException("min must be at least 1, was " + spec.min());
    }
    if (spec.max() < spec.min()) {
      throw new IllegalArgumentException(
          "max must be at least min (" + spec.min() + "), was " + spec.max());
    }
    if (spec.initial() < spec.min() || spec.initial() > spec.max()) {
      throw new IllegalArgumentException("initial must be within [min, max] = ["
          + spec.min() + ", " + spec.max() + "], was " + spec.initial());
    }
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
