package sluice.node.http;

/**
 * The bytes of responses that the client connections of one event loop hold for their
 * clients, written but not yet taken by the client's socket: this loop's share of
 * {@code sluice.http.response-buffer-total}. A client connection counts what its outbound
 * buffer holds after each flush and gives it back as its client reads; a back-end
 * connection is freed before its client has taken the response only while both this share
 * and the pool's per-connection {@code buffer-responses-up-to} have room. One per loop, so
 * only the loop's thread touches it: a plain counter, no atomics.
 *
 * <p>Invariant: {@link #held} is the sum of the {@code charged} bytes of the loop's open
 * client connections.
 */
final class ResponseBuffers {
  private long share;
  private long held;

  ResponseBuffers(long share) {
    this.share = share;
  }

  /** A reload changed {@code response-buffer-total}; on the loop's thread. What is held stays held. */
  void setShare(long share) {
    this.share = share;
  }

  /** Adds (or, negative, gives back) bytes held for clients. */
  void add(long bytes) {
    held += bytes;
  }

  /** Whether {@code bytes} more would still be within this loop's share. */
  boolean room(long bytes) {
    return held + bytes <= share;
  }

  boolean over() {
    return held > share;
  }

  long held() {
    return held;
  }
}
