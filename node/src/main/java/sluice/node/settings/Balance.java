package sluice.node.settings;

/** How a pool picks the back-end for the head of its queue among those with an idle slot. */
public enum Balance {
  /** The next idle back-end after the one picked last. */
  ROUND_ROBIN("round-robin"),
  /** The idle back-end with the fewest requests in flight relative to its slots. */
  LEAST_OUTSTANDING("least-outstanding");

  private final String configName;

  Balance(String configName) {
    this.configName = configName;
  }

  public String configName() {
    return configName;
  }
}
