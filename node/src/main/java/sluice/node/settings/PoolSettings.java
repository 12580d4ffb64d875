package sluice.node.settings;

import java.util.List;
import java.util.Optional;

/**
 * One pool: back-ends that serve the same content, their queue and connection settings.
 *
 * @param name         the pool's name in the configuration
 * @param backends     at least one
 * @param balance      how the head of the queue picks among back-ends with an idle slot
 * @param queue        the pool's FIFO
 * @param connections  how each node connects to the pool's back-ends
 * @param loadHeader   the response header in which back-ends report their own load (a
 *                     number), if any; the limit algorithm band can hold it in a range
 */
public record PoolSettings(
    String name,
    List<BackendSettings> backends,
    Balance balance,
    QueueSettings queue,
    ConnectionSettings connections,
    Optional<String> loadHeader) {}
