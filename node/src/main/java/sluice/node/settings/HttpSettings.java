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
 * @param bufferRequestsUpTo    a request body of at most this many bytes is read whole before
 *                              the request is queued, so a slow uploader holds no back-end slot;
 *                              0 turns it off
 * @param bodyDeadline          a body read before queueing must arrive whole within this time
 *                              from the end of its head, or the connection is closed (408)
 * @param responseBufferTotal   most bytes of responses the node holds for clients that have not
 *                              read them yet, over all client connections (each event loop gets
 *                              an equal share); above it a back-end connection waits for its
 *                              client, as it does above a pool's {@code buffer-responses-up-to}
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
    long maxBodySize,
    int bufferRequestsUpTo,
    Duration bodyDeadline,
    long responseBufferTotal) {

  /** Default body buffering: bodies up to 64 KiB read within 10 s, responses held for clients up to 64 MiB in all. */
  public static final int DEFAULT_BUFFER_REQUESTS_UP_TO = 64 * 1024;
  public static final Duration DEFAULT_BODY_DEADLINE = Duration.ofSeconds(10);
  public static final long DEFAULT_RESPONSE_BUFFER_TOTAL = 64L * 1024 * 1024;

  /** The listener with the default body buffering (for code that predates it). */
  public HttpSettings(String host, int port, Duration idleTimeout, Duration headDeadline, int maxUriLength,
      int maxHeaderNameLength, int maxHeaderValueLength, int maxHeaderCount, long maxBodySize) {
    this(host, port, idleTimeout, headDeadline, maxUriLength, maxHeaderNameLength, maxHeaderValueLength,
        maxHeaderCount, maxBodySize, DEFAULT_BUFFER_REQUESTS_UP_TO, DEFAULT_BODY_DEADLINE,
        DEFAULT_RESPONSE_BUFFER_TOTAL);
  }

  /** The same listener with other body buffering. */
  public HttpSettings withBuffering(int bufferRequestsUpTo, Duration bodyDeadline, long responseBufferTotal) {
    return new HttpSettings(host, port, idleTimeout, headDeadline, maxUriLength, maxHeaderNameLength,
        maxHeaderValueLength, maxHeaderCount, maxBodySize, bufferRequestsUpTo, bodyDeadline, responseBufferTotal);
  }
}
