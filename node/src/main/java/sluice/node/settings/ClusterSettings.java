package sluice.node.settings;

import java.time.Duration;
import java.util.List;

/**
 * This node's place in the Pekko cluster.
 *
 * @param host       address the cluster transport binds to
 * @param port       cluster port; 0 picks a free one
 * @param seedNodes  "host:port" of seed nodes; empty means this node forms a cluster of one
 * @param leaseTime  how long a lease of back-end slots holds without renewal: a node that
 *                   cannot renew stops starting work on them, and the entity gives the
 *                   slots of a node it no longer hears from to others after this long
 * @param splitBrainResolver Pekko's split brain resolver strategy: keep-majority,
 *                   keep-oldest or down-all
 * @param stableAfter how long membership must be stable before the resolver downs
 *                   unreachable nodes
 */
public record ClusterSettings(String host, int port, List<String> seedNodes, Duration leaseTime,
    String splitBrainResolver, Duration stableAfter) {

  /** The strategies a configuration may name. */
  public static final java.util.List<String> STRATEGIES = java.util.List.of("keep-majority", "keep-oldest", "down-all");

  /** One node, cluster of one, defaults otherwise (tests). */
  public static ClusterSettings single(String host, int port) {
    return new ClusterSettings(host, port, List.of(), Duration.ofSeconds(2), "keep-majority", Duration.ofSeconds(5));
  }
}
