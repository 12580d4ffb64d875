package sluice.node.settings;

import java.util.List;

/**
 * The configuration cannot be used: start-up stops here. The message lists every problem
 * found, one a line, each as {@code full.key.path: what is allowed, what was found}.
 */
public final class SettingsException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  public SettingsException(List<String> problems) {
    super(describe(problems));
    this.problems = List.copyOf(problems);
  }

  public SettingsException(String problem, Throwable cause) {
    super(describe(List.of(problem)), cause);
    this.problems = List.of(problem);
  }

  /** Each problem as {@code key.path: message}, in the order they were found. */
  public List<String> problems() {
    return problems;
  }

  private static String describe(List<String> problems) {
    StringBuilder text = new StringBuilder("Invalid configuration (")
        .append(problems.size())
        .append(problems.size() == 1 ? " problem):" : " problems):");
    problems.forEach(p -> text.append("\n  ").append(p));
    return text.toString();
  }
}
