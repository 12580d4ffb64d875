package sluice.node.settings;

import java.time.Duration;

/**
 * The client-facing listener and the limits applied to every client request.
 *
 * @param host                  address to bind
 * @param port                  port to bind; 0 picks a free one
 * @param idleTimeout           a client connection with no traffic this long is closed
 * @param headDeadline          a client must send a whole request head within this time
 *                              from its first byte, or the connection is closed (408)
 * @param maxUriLength          longest request target, in bytes (414 above)
 * @param maxHeaderNameLength   longest header name, in bytes
 * @param maxHeaderValueLength  longest header value, in bytes (431 above)
 * @param maxHeaderCount        most headers in one request
 * @param maxBodySize           largest request body, in bytes (413 above)
 */
public record HttpSettings(
    String host,
    int port,
    Duration idleTimeout,
    Duration headDeadline,
    int maxUriLength,
    int maxHeaderNameLength,
    int maxHeaderValueLength,
    int maxHeaderCount,
    long maxBodySize) {}
