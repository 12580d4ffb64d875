package sluice.node.pool;

import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * A client request the pool accepted: waiting in the queue, or on a back-end connection.
 * It ends exactly once, when {@link #reply} is completed (see {@link PoolQueue#finish}).
 */
final class Pending {
  final HttpRequest request;
  final CompletableFuture<HttpResponse> reply;
  /** True once the client's connection has closed: nobody waits for the answer. */
  final BooleanSupplier clientGone;
  final long enqueuedNanos;
  /** True when the body can be sent again (empty or already in memory). */
  final boolean replayable;
  int attempts;
  long sentNanos;
  /**
   * Set when a reused connection closed under this request before any answer: the back-end
   * had likely closed it while idle. The next attempt goes on a new connection.
   */
  boolean needsNewConnection;

  Pending(HttpRequest request, CompletableFuture<HttpResponse> reply, BooleanSupplier clientGone,
      long enqueuedNanos) {
    this.request = request;
    this.reply = reply;
    this.clientGone = clientGone;
    this.enqueuedNanos = enqueuedNanos;
    this.replayable = request.entity().isKnownEmpty()
        || request.entity() instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict;
  }
}
