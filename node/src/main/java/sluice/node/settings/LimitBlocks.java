package sluice.node.settings;

import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import sluice.controller.algorithm.LimitAlgorithms;
import sluice.protocol.LimitSpec;

/**
 * Limit blocks: {@code limit { algorithm = ..., min, max, initial, <params> }} at the
 * defaults, pool and back-end levels, merged key by key into one {@link LimitSpec} per
 * back-end. Which algorithms exist and what their parameters mean is not known here:
 * {@link LimitAlgorithms#validate} judges that.
 */
final class LimitBlocks {
  static final String ALGORITHM = "algorithm";
  static final Set<String> BOUNDS = Set.of("min", "max", "initial");
  static final String FIXED = "fixed";
  static final String FIXED_VALUE = "value";
  static final int DEFAULT_MIN = 1;
  static final int DEFAULT_MAX = 1000;
  static final int DEFAULT_INITIAL = 8;

  private LimitBlocks() {}

  /**
   * One level's limit block merged over the levels below it, the spec built from it (null
   * if it could not be built) and the problems found in it.
   */
  record Level(String path, Map<String, ConfigValue> keys, LimitSpec spec, Problems problems) {}

  /**
   * The block of a level over the merged block below it, key by key. A level that names a
   * different algorithm keeps only min, max and initial from below: the other keys there
   * are parameters of another algorithm. A key set to null is removed.
   */
  static Map<String, ConfigValue> merge(Map<String, ConfigValue> below, ConfigObject level) {
    String belowAlgorithm = algorithmOf(below);
    String levelAlgorithm = algorithmOf(level);
    boolean switches = levelAlgorithm != null && !levelAlgorithm.equals(belowAlgorithm);
    Map<String, ConfigValue> merged = new LinkedHashMap<>();
    below.forEach((k, v) -> {
      if (!switches || BOUNDS.contains(k)) {
        merged.put(k, v);
      }
    });
    level.forEach((k, v) -> {
      if (v.valueType() == ConfigValueType.NULL) {
        merged.remove(k);
      } else {
        merged.put(k, v);
      }
    });
    return merged;
  }

  /**
   * The defaults block as HOCON merged it over reference.conf, without the parameters that
   * reference.conf gives for its own algorithm when the user named another one: the same
   * rule as {@link #merge}, applied to the one merge that HOCON did before we saw it.
   */
  static Map<String, ConfigValue> overReference(ConfigObject merged, ConfigObject reference) {
    Map<String, ConfigValue> keys = merge(Map.of(), merged);
    if (reference == null || Objects.equals(algorithmOf(keys), algorithmOf(reference))) {
      return keys;
    }
    reference.forEach((k, refValue) -> {
      ConfigValue v = keys.get(k);
      boolean fromReference = v != null && v.origin().equals(refValue.origin()) && v.equals(refValue);
      if (fromReference && !k.equals(ALGORITHM) && !BOUNDS.contains(k)) {
        keys.remove(k);
      }
    });
    return keys;
  }

  /**
   * Builds the spec of a merged block: fixed takes min = max = initial = value unless they
   * are given; any other algorithm takes min 1, max 1000 and initial min(max, max(min, 8))
   * unless given. Every key but algorithm and the bounds is a parameter, kept as written.
   * Records problems under {@code path} and returns null if the block cannot make a spec.
   */
  static LimitSpec toSpec(Map<String, ConfigValue> keys, String path, Problems problems) {
    int before = problems.list().size();
    String algorithm = algorithmOf(keys);
    if (algorithm == null) {
      ConfigValue v = keys.get(ALGORITHM);
      problems.add(path + "." + ALGORITHM, v == null
          ? "missing; must name a limit algorithm, e.g. fixed"
          : "must name a limit algorithm, e.g. fixed, was " + Section.shown(v));
    }
    Map<String, String> params = new TreeMap<>();
    keys.forEach((k, v) -> {
      if (k.equals(ALGORITHM) || BOUNDS.contains(k)) {
        return;
      }
      switch (v.valueType()) {
        case STRING, NUMBER, BOOLEAN -> params.put(k, String.valueOf(v.unwrapped()));
        default -> problems.add(path + "." + k,
            "must be a single value (a number, duration or word), was " + Section.shown(v));
      }
    });
    Integer min = bound(keys, "min", path, problems);
    Integer max = bound(keys, "max", path, problems);
    Integer initial = bound(keys, "initial", path, problems);
    if (problems.list().size() > before) {
      return null;
    }
    if (algorithm.equals(FIXED)) {
      Long value = keys.containsKey(FIXED_VALUE) ? Section.wholeNumber(keys.get(FIXED_VALUE)) : null;
      if (value == null && !keys.containsKey(FIXED_VALUE) && initial == null) {
        problems.add(path + "." + FIXED_VALUE, "missing; algorithm fixed needs a whole number at least 1");
        return null;
      }
      // A bad value is left to the algorithm to report; the bounds it implies must not
      // report it again in other words.
      int implied = value == null ? (initial == null ? 1 : initial)
          : (int) Math.max(1, Math.min(Integer.MAX_VALUE, value));
      return new LimitSpec(algorithm, orElse(min, implied), orElse(max, implied), orElse(initial, implied), params);
    }
    int lo = orElse(min, DEFAULT_MIN);
    int hi = orElse(max, DEFAULT_MAX);
    return new LimitSpec(algorithm, lo, hi, orElse(initial, Math.min(hi, Math.max(lo, DEFAULT_INITIAL))), params);
  }

  /**
   * Asks the algorithm whether it accepts the spec. Its message starts with the key it
   * objects to ("value must be at least 1, was 0"); that key is joined to the block's path.
   */
  static void validate(LimitSpec spec, Set<String> keys, String path, Problems problems) {
    try {
      LimitAlgorithms.validate(spec);
    } catch (IllegalArgumentException e) {
      String message = String.valueOf(e.getMessage());
      int end = 0;
      while (end < message.length() && message.charAt(end) != ' ' && message.charAt(end) != ':') {
        end++;
      }
      String key = message.substring(0, end);
      if (keys.contains(key) || key.equals(ALGORITHM) || BOUNDS.contains(key) || spec.params().containsKey(key)) {
        problems.add(path + "." + key, message.substring(end).replaceFirst("^[:\\s]+", ""));
      } else {
        problems.add(path, message);
      }
    } catch (RuntimeException e) {
      problems.add(path, "algorithm " + spec.algorithm() + " rejected this limit: " + e);
    }
  }

  private static Integer bound(Map<String, ConfigValue> keys, String key, String path, Problems problems) {
    ConfigValue v = keys.get(key);
    if (v == null) {
      return null;
    }
    Long n = Section.wholeNumber(v);
    if (n == null || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
      problems.add(path + "." + key, "must be a whole number at least 1, was " + Section.shown(v));
      return null;
    }
    return n.intValue();
  }

  private static int orElse(Integer given, int fallback) {
    return given == null ? fallback : given;
  }

  private static String algorithmOf(Map<String, ConfigValue> keys) {
    ConfigValue v = keys.get(ALGORITHM);
    if (v == null || v.valueType() != ConfigValueType.STRING) {
      return null;
    }
    String name = ((String) v.unwrapped()).trim();
    return name.isEmpty() ? null : name;
  }
}
