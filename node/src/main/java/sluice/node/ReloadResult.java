package sluice.node;

import java.util.List;

/**
 * What a reload (or an operator's add or remove of a back-end, which is a reload of the running
 * configuration with that one change) did.
 *
 * @param applied  false when it was refused: then {@code problems} says why and the node runs
 *                 on as before
 * @param changes  each change that applied, as logged
 * @param kept     each key the new configuration changes that cannot change without a restart
 *                 (it keeps its running value; the rest applied)
 * @param problems why it was refused: the same messages as at start-up, one per problem
 * @param warnings what applied but may not have reached everything (a back-end's entity that
 *                 did not answer in time)
 */
public record ReloadResult(boolean applied, List<String> changes, List<String> kept, List<String> problems,
    List<String> warnings) {

  public ReloadResult {
    changes = List.copyOf(changes);
    kept = List.copyOf(kept);
    problems = List.copyOf(problems);
    warnings = List.copyOf(warnings);
  }

  static ReloadResult refused(List<String> problems) {
    return new ReloadResult(false, List.of(), List.of(), problems, List.of());
  }
}
