package sluice.node.settings;

/**
 * One TCP listener (L4): client connections accepted on {@code host:port} are queued in
 * {@code pool}'s FIFO and each relayed, byte for byte, to one back-end of that pool while the
 * back-end is under its connection limit. A pool named by a TCP listener serves TCP only: no
 * HTTP route or default-pool may name it.
 *
 * @param host  address to bind, lower-cased, without brackets
 * @param port  0-65535; 0 picks any free port
 * @param id    "host:port" as written (brackets kept for IPv6), for logs
 * @param pool  the pool's name
 */
public record TcpSettings(String host, int port, String id, String pool) {}
