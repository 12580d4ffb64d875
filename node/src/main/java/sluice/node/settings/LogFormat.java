package sluice.node.settings;

import java.util.Locale;

/** How a log line is written: {@code text} (a readable line) or {@code json} (one JSON object per line). */
public enum LogFormat {
  TEXT, JSON;

  /** Its name in the configuration. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The format named {@code name} in the configuration, or null if there is none by that name. */
  static LogFormat named(String name) {
    for (LogFormat f : values()) {
      if (f.configName().equals(name)) {
        return f;
      }
    }
    return null;
  }
}
