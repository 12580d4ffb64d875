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
 */
public record ClusterSettings(String host, int port, List<String> seedNodes, Duration leaseTime) {}
