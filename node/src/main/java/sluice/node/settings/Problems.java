package sluice.node.settings;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The problems found while reading the configuration, in the order they were found.
 * Reading goes on after a problem so that the user sees all of them at once.
 */
final class Problems {

  record Problem(String path, String message) {
    @Override
    public String toString() {
      return path + ": " + message;
    }
  }

  private final List<Problem> found = new ArrayList<>();

  void add(String path, String message) {
    found.add(new Problem(path, message));
  }

  boolean isEmpty() {
    return found.isEmpty();
  }

  List<Problem> list() {
    return List.copyOf(found);
  }

  /** Whether any problem was found at one of these paths or below it. */
  boolean touches(String... paths) {
    for (Problem p : found) {
      for (String path : paths) {
        if (p.path().equals(path) || p.path().startsWith(path + ".") || p.path().startsWith(path + "[")) {
          return true;
        }
      }
    }
    return false;
  }

  void addAll(Problems other) {
    found.addAll(other.found);
  }

  /**
   * Adds the problems of {@code local} (found under {@code localPrefix}) except those that
   * {@code inherited} (found under {@code inheritedPrefix}) already reports at the same
   * relative key with the same message: a bad default is reported once, where it is
   * written, not again in every pool that inherits it.
   */
  void addUnlessInherited(Problems local, String localPrefix, Problems inherited, String inheritedPrefix) {
    Set<Problem> already = new HashSet<>();
    for (Problem p : inherited.found) {
      if (p.path().startsWith(inheritedPrefix)) {
        already.add(new Problem(p.path().substring(inheritedPrefix.length()), p.message()));
      }
    }
    for (Problem p : local.found) {
      boolean repeated = p.path().startsWith(localPrefix)
          && already.contains(new Problem(p.path().substring(localPrefix.length()), p.message()));
      if (!repeated) {
        found.add(p);
      }
    }
  }

  void throwIfAny() {
    if (!found.isEmpty()) {
      throw new SettingsException(found.stream().map(Problem::toString).toList());
    }
  }
}
