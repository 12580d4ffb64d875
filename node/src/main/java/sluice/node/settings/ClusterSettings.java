package sluice.node.settings;

import java.util.List;

/**
 * This node's place in the Pekko cluster.
 *
 * @param host       address the cluster transport binds to
 * @param port       cluster port; 0 picks a free one
 * @param seedNodes  "host:port" of seed nodes; empty means this node forms a cluster of one
 */
public record ClusterSettings(String host, int port, List<String> seedNodes) {}
