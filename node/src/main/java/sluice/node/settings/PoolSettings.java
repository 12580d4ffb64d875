package sluice.node.settings;

import java.util.List;

/**
 * One pool: back-ends that serve the same content, their queue and connection settings.
 *
 * @param name         the pool's name in the configuration
 * @param backends     at least one
 * @param balance      how the head of the queue picks among back-ends with an idle slot
 * @param queue        the pool's FIFO
 * @param connections  how each node connects to the pool's back-ends
 */
public record PoolSettings(
    String name,
    List<BackendSettings> backends,
    Balance balance,
    QueueSettings queue,
    ConnectionSettings connections) {}
