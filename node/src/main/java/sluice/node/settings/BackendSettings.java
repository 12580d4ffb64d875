package sluice.node.settings;

import sluice.protocol.LimitSpec;

/**
 * One back-end server.
 *
 * @param id     "host:port", unique over all pools; names the back-end's entity
 * @param host   host name or address
 * @param port   TCP port
 * @param limit  how its concurrency limit is chosen (the pool's, overridden per back-end)
 */
public record BackendSettings(String id, String host, int port, LimitSpec limit) {}
