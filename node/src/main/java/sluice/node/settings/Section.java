package sluice.node.settings;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * One object of the configuration, known by its full path, with getters that check type
 * and range. A getter that finds a problem records it (full key path, what is allowed,
 * what was found) and returns a stand-in value so that reading can go on: the settings
 * built from stand-ins are never used, since {@link Problems#throwIfAny} runs first.
 */
final class Section {
  private static final Duration STAND_IN_DURATION = Duration.ofSeconds(1);

  private final ConfigObject object;
  private final Config config;
  private final String path;
  private final Problems problems;
  /** Stands in for an object that is missing or not an object: already reported, keys not. */
  private final boolean broken;

  Section(ConfigObject object, String path, Problems problems) {
    this(object, path, problems, false);
  }

  private Section(ConfigObject object, String path, Problems problems, boolean broken) {
    this.object = object;
    this.config = object.toConfig();
    this.path = path;
    this.problems = problems;
    this.broken = broken;
  }

  private static Section broken(String path, Problems problems) {
    return new Section(ConfigFactory.empty().root(), path, problems, true);
  }

  String path() {
    return path;
  }

  ConfigObject object() {
    return object;
  }

  Problems problems() {
    return problems;
  }

  /** A section of the same object whose problems go to {@code other}. */
  Section reportingTo(Problems other) {
    return new Section(object, path, other, broken);
  }

  /** The full path of a key of this object, as shown to the user. */
  String keyPath(String key) {
    return path + "." + ConfigUtil.joinPath(key);
  }

  /** Whether the key is given (a null value counts as not given). */
  boolean has(String key) {
    ConfigValue v = object.get(key);
    return v != null && v.valueType() != ConfigValueType.NULL;
  }

  ConfigValue raw(String key) {
    return object.get(key);
  }

  /** Whether a problem was recorded at one of these keys (or the object itself was). */
  boolean failed(String... keys) {
    if (broken) {
      return true;
    }
    String[] paths = new String[keys.length];
    for (int i = 0; i < keys.length; i++) {
      paths[i] = keyPath(keys[i]);
    }
    return problems.touches(paths);
  }

  /** Records a problem for every key not in {@code allowed}, with a suggestion for a typo. */
  void onlyKeys(List<String> allowed) {
    object.keySet().stream().sorted().filter(k -> !allowed.contains(k)).forEach(k -> {
      String closest = allowed.stream()
          .min(Comparator.comparingInt(a -> editDistance(a, k)))
          .filter(a -> editDistance(a, k) <= 3)
          .map(a -> " (did you mean " + a + "?)")
          .orElse("");
      problems.add(keyPath(k), "unknown key" + closest + "; allowed here: " + String.join(", ", allowed));
    });
  }

  /** The object at key; records a problem and gives an empty one if it is missing or not an object. */
  Section child(String key) {
    ConfigValue v = object.get(key);
    if (v == null || v.valueType() == ConfigValueType.NULL) {
      problems.add(keyPath(key), "missing; must be an object { ... }");
      return broken(keyPath(key), problems);
    }
    if (v.valueType() != ConfigValueType.OBJECT) {
      problems.add(keyPath(key), "must be an object { ... }, was " + shown(v));
      return broken(keyPath(key), problems);
    }
    return new Section((ConfigObject) v, keyPath(key), problems);
  }

  /** A duration greater than 0, or also 0 if {@code zeroAllowed}. A bare number is milliseconds. */
  Duration duration(String key, boolean zeroAllowed) {
    String allowed = zeroAllowed ? "0 or more" : "greater than 0";
    ConfigValue v = present(key, "a duration " + allowed + " such as 500ms, 30s or 2m");
    if (v == null) {
      return STAND_IN_DURATION;
    }
    Duration d;
    try {
      d = config.getDuration(ConfigUtil.joinPath(key));
    } catch (ConfigException e) {
      problems.add(keyPath(key), "must be a duration " + allowed + " such as 500ms, 30s or 2m, was " + shown(v));
      return STAND_IN_DURATION;
    }
    if (d.isNegative() || (d.isZero() && !zeroAllowed)) {
      problems.add(keyPath(key), "must be " + allowed + ", was " + plain(v));
      return STAND_IN_DURATION;
    }
    return d;
  }

  /** A whole number within [min, max]. */
  int integer(String key, int min, int max) {
    ConfigValue v = present(key, "a whole number " + range(min, max));
    if (v == null) {
      return min;
    }
    Long n = wholeNumber(v);
    if (n == null) {
      problems.add(keyPath(key), "must be a whole number " + range(min, max) + ", was " + shown(v));
      return min;
    }
    if (n < min || n > max) {
      problems.add(keyPath(key), "must be " + range(min, max, n) + ", was " + plain(v));
      return min;
    }
    return n.intValue();
  }

  /** A size in bytes within [min, max]: a number of bytes or a HOCON size such as 64k (= 65536). */
  long bytes(String key, long min, long max) {
    String allowed = range(min, max) + " bytes";
    ConfigValue v = present(key, "a size " + allowed + " such as 65536, 64k or 8MiB");
    if (v == null) {
      return min;
    }
    long n;
    try {
      n = config.getBytes(ConfigUtil.joinPath(key));
    } catch (ConfigException e) {
      problems.add(keyPath(key), "must be a size " + allowed + " such as 65536, 64k or 8MiB, was " + shown(v));
      return min;
    }
    if (n < min || n > max) {
      String found = v.valueType() == ConfigValueType.NUMBER ? plain(v) : plain(v) + " (" + n + " bytes)";
      problems.add(keyPath(key), "must be " + range(min, max, n) + " bytes, was " + found);
      return min;
    }
    return n;
  }

  /** true or false (HOCON also takes yes/no and on/off, and -D gives them as text). */
  boolean bool(String key) {
    ConfigValue v = present(key, "true or false");
    if (v == null) {
      return false;
    }
    try {
      return config.getBoolean(ConfigUtil.joinPath(key));
    } catch (ConfigException e) {
      problems.add(keyPath(key), "must be true or false, was " + shown(v));
      return false;
    }
  }

  /** A text that is given and not blank; {@code expected} completes "must be ...". */
  String string(String key, String expected) {
    ConfigValue v = present(key, expected);
    if (v == null) {
      return "";
    }
    return text(key, v, expected).orElse("");
  }

  /** A text that, if given, is not blank. */
  Optional<String> optionalString(String key, String expected) {
    ConfigValue v = object.get(key);
    if (v == null || v.valueType() == ConfigValueType.NULL) {
      return Optional.empty();
    }
    return text(key, v, expected);
  }

  /** A list (an object with keys 0, 1, ... from -D properties counts as one). */
  List<? extends ConfigValue> list(String key, String expected) {
    ConfigValue v = present(key, expected);
    if (v == null) {
      return List.of();
    }
    try {
      return config.getList(ConfigUtil.joinPath(key));
    } catch (ConfigException e) {
      problems.add(keyPath(key), "must be " + expected + ", was " + shown(v));
      return List.of();
    }
  }

  private Optional<String> text(String key, ConfigValue v, String expected) {
    boolean scalar = switch (v.valueType()) {
      case STRING, NUMBER, BOOLEAN -> true;
      default -> false;
    };
    if (!scalar || String.valueOf(v.unwrapped()).isBlank()) {
      problems.add(keyPath(key), "must be " + expected + ", was " + shown(v));
      return Optional.empty();
    }
    return Optional.of(String.valueOf(v.unwrapped()));
  }

  private ConfigValue present(String key, String expected) {
    ConfigValue v = object.get(key);
    if (v == null || v.valueType() == ConfigValueType.NULL) {
      if (!broken) {
        problems.add(keyPath(key), "missing; must be " + expected);
      }
      return null;
    }
    return v;
  }

  /** "between 0 and 65535"; "at least 1" if max is only the type's limit. */
  static String range(long min, long max) {
    if (max == Integer.MAX_VALUE || max == Long.MAX_VALUE) {
      return "at least " + min;
    }
    return "between " + min + " and " + max;
  }

  /** {@link #range}, but always both ends for a value above max. */
  static String range(long min, long max, long found) {
    return found > max ? "between " + min + " and " + max : range(min, max);
  }

  /** The value's whole number, from a number or a text such as "12" (as -D gives); else null. */
  static Long wholeNumber(ConfigValue v) {
    if (v.valueType() == ConfigValueType.NUMBER) {
      Number n = (Number) v.unwrapped();
      if (n instanceof Integer || n instanceof Long) {
        return n.longValue();
      }
      double d = n.doubleValue();
      return d == Math.rint(d) && Math.abs(d) < 1e15 ? (long) d : null;
    }
    if (v.valueType() == ConfigValueType.STRING) {
      try {
        return Long.parseLong(((String) v.unwrapped()).trim());
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return null;
  }

  /** A value as the user wrote it, for "was ..." in a range problem. */
  static String plain(ConfigValue v) {
    return String.valueOf(v.unwrapped());
  }

  /** A value for "was ..." in a type problem: texts quoted, structures named. */
  static String shown(ConfigValue v) {
    return switch (v.valueType()) {
      case STRING -> "'" + v.unwrapped() + "'";
      case OBJECT -> "an object";
      case LIST -> "a list";
      case NULL -> "null";
      default -> String.valueOf(v.unwrapped());
    };
  }

  static int editDistance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] t = previous;
      previous = current;
      current = t;
    }
    return previous[b.length()];
  }
}
