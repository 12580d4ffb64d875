package sluice.controller.algorithm;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads an algorithm's text parameters. Every getter names the key and the allowed range in
 * its error; {@link #rejectUnknown} turns a misspelt key into an error instead of a silent
 * default.
 */
final class Params {
  private final Map<String, String> values;

  Params(Map<String, String> values) {
    this.values = values;
  }

  boolean has(String key) {
    return values.containsKey(key);
  }

  int intIn(String key, int fallback, int min, int max) {
    String text = values.get(key);
    if (text == null) {
      return fallback;
    }
    int value;
    try {
      value = Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a whole number in [" + min + ", " + max
          + "], was '" + text + "'");
    }
    return checkInt(key, value, min, max);
  }

  double doubleIn(String key, double fallback, double min, double max) {
    String text = values.get(key);
    if (text == null) {
      return fallback;
    }
    double value;
    try {
      value = Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a number in [" + min + ", " + max
          + "], was '" + text + "'");
    }
    return checkDouble(key, value, min, max);
  }

  /** A required number. */
  double requiredDouble(String key, double min, double max) {
    if (!has(key)) {
      throw new IllegalArgumentException(key + " is required, a number in [" + min + ", " + max + "]");
    }
    return doubleIn(key, 0, min, max);
  }

  /**
   * A duration: a number with unit ns, us, ms, s or m; a bare number is milliseconds (as in
   * HOCON).
   */
  Duration durationIn(String key, Duration fallback, Duration min, Duration max) {
    String text = values.get(key);
    if (text == null) {
      return fallback;
    }
    Duration value = parseDuration(key, text);
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException(key + " must be within [" + min + ", " + max + "], was '"
          + text + "'");
    }
    return value;
  }

  String oneOf(String key, String fallback, List<String> allowed) {
    String text = values.get(key);
    if (text == null) {
      return fallback;
    }
    String value = text.trim();
    if (!allowed.contains(value)) {
      throw new IllegalArgumentException(key + " must be one of " + allowed + ", was '" + text + "'");
    }
    return value;
  }

  /** Fails on any key not in {@code known}, naming the keys this algorithm takes. */
  void rejectUnknown(String algorithm, Set<String> known) {
    for (String key : new TreeSet<>(values.keySet())) {
      if (!known.contains(key)) {
        throw new IllegalArgumentException(key + " is not a parameter of algorithm " + algorithm
            + ", allowed: " + new TreeSet<>(known));
      }
    }
  }

  static int checkInt(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          key + " must be in [" + min + ", " + max + "], was " + value);
    }
    return value;
  }

  static double checkDouble(String key, double value, double min, double max) {
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException(
          key + " must be in [" + min + ", " + max + "], was " + value);
    }
    return value;
  }

  private static Duration parseDuration(String key, String text) {
    String t = text.trim().toLowerCase(java.util.Locale.ROOT);
    int split = 0;
    while (split < t.length() && (Character.isDigit(t.charAt(split)) || t.charAt(split) == '.')) {
      split++;
    }
    String unit = t.substring(split).trim();
    double number;
    try {
      number = Double.parseDouble(t.substring(0, split));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          key + " must be a duration such as 500ms or 2s, was '" + text + "'");
    }
    double nanosPerUnit = switch (unit) {
      case "ns" -> 1;
      case "us" -> 1e3;
      case "", "ms" -> 1e6;
      case "s" -> 1e9;
      case "m" -> 60e9;
      default -> throw new IllegalArgumentException(
          key + " must be a duration such as 500ms or 2s, was '" + text + "'");
    };
    return Duration.ofNanos(Math.round(number * nanosPerUnit));
  }
}
