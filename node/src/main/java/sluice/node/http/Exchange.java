package sluice.node.http;

import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.handler.codec.http.HttpObject;
import java.util.ArrayDeque;
import java.util.List;
import sluice.node.queue.Work;

/**
 * One client request and its response: the unit of work a pool queues and a back-end
 * connection carries. It joins the client's connection ({@link ClientConnection}) to a
 * back-end connection ({@link BackendConnection}) for as long as the request is on it.
 *
 * <p>States: BUFFERING (its body, at most {@code sluice.http.buffer-requests-up-to}, is read
 * before it is queued; only some requests start here) -> QUEUED (waiting for a slot; body
 * parts that arrive are held) -> SENT (on a back-end connection; the rest of the body streams
 * to it) -> ANSWERED (the response, or an error, has begun toward the client) -> ENDED. A
 * response whose last byte has arrived stays ANSWERED, on its back-end connection, while its
 * client has no room to hold it unread (see {@link ResponseBuffers}), and ends when it has. A request sent whose connection broke before
 * any response can go back to QUEUED-like holding on the back-end actor (retry) while it is
 * {@link #replayable()}. Everything runs on the one event loop thread of both connections.
 *
 * <p>Body ownership: a held body part is owned here until it is written to a back-end; a
 * request whose whole body was held when it was sent keeps its parts (writing duplicates) so
 * that it can be sent again, until the response starts. {@link #release()} frees what is
 * held, once.
 */
public final class Exchange implements Work {

  enum State { BUFFERING, QUEUED, SENT, ANSWERED, ENDED }

  final ClientConnection client;
  /** The request as it goes to the back-end (rewritten by {@link Forwarding}). */
  final HttpRequest request;
  private final boolean idempotent;
  final boolean head;
  State state = State.QUEUED;
  private final ArrayDeque<HttpContent> body = new ArrayDeque<>(2);
  private boolean bodyComplete;
  /** Bytes and parts of body held while BUFFERING. */
  private long bufferedBytes;
  private int bufferedParts;
  /** Some of the body went to a back-end without being kept: the request cannot be sent again. */
  private boolean bodyGone;
  private BackendConnection connection;
  private boolean clientGone;
  private long enqueuedNanos;
  /** Times the request was written to a back-end connection. */
  private int attempts;

  // ---- for the access log: stores of values already at hand, never a clock read of their own
  /** The pool whose queue it went to. */
  final String pool;
  /** The back-end it was last written to; null while none. */
  String backendId;
  /** When a back-end actor took it from the queue (System.nanoTime()); 0 before. */
  long takenNanos;
  /** When it was last written to a back-end connection; 0 before. */
  long sentNanos;
  /** From the write to the back-end's response head; -1 before the head. */
  long rttNanos = -1;
  /** Why the queue refused it, if it did. */
  Refusal refusal;
  /** Its access-log line has been handed over. */
  boolean logged;

  Exchange(ClientConnection client, HttpRequest request, boolean buffering, String pool) {
    this.client = client;
    this.request = request;
    this.pool = pool;
    this.state = buffering ? State.BUFFERING : State.QUEUED;
    HttpMethod method = request.method();
    this.head = method == HttpMethod.HEAD;
    this.idempotent = method == HttpMethod.GET || head || method == HttpMethod.PUT || method == HttpMethod.DELETE
        || method == HttpMethod.OPTIONS || method == HttpMethod.TRACE;
  }

  // ---- Work ---------------------------------------------------------------------------

  @Override
  public long enqueuedNanos() {
    return enqueuedNanos;
  }

  @Override
  public void setEnqueuedNanos(long nanos) {
    enqueuedNanos = nanos;
  }

  @Override
  public boolean abandoned() {
    return clientGone;
  }

  @Override
  public void refuse(Refusal refusal, String detail) {
    this.refusal = refusal;
    fail(HttpResponseStatus.SERVICE_UNAVAILABLE, detail, true);
  }

  // ---- from the client ----------------------------------------------------------------

  /** A part of the request body (not the last). */
  void clientContent(HttpContent content) {
    if (state == State.BUFFERING) {
      bufferedBytes += content.content().readableBytes();
      bufferedParts++;
      body.addLast(content); // read on: the request takes no slot until its body is here
    } else if (state == State.SENT && connection != null) {
      bodyGone = true;
      connection.writeBody(content, false);
      if (!connection.writable()) {
        client.holdBody(true);
      }
    } else if (state == State.QUEUED || state == State.SENT) {
      body.addLast(content);
      client.holdBody(true); // no slot yet: let the client wait, do not buffer without bound
    } else {
      content.release(); // answered already (an error): the rest of the body is dropped
    }
  }

  /** Sends on what the client's last read brought of the body. */
  void flushBody() {
    if (state == State.SENT && connection != null && bodyGone && !bodyComplete) {
      connection.flush();
    }
  }

  /** The end of the request body. */
  void clientEnd(LastHttpContent last) {
    bodyComplete = true;
    if (state == State.SENT && connection != null) {
      bodyGone |= last.content().isReadable();
      connection.writeBody(last, true);
    } else if (state == State.BUFFERING || state == State.QUEUED || state == State.SENT) {
      bufferedBytes += last.content().readableBytes();
      body.addLast(last);
    } else {
      last.release();
    }
  }

  /**
   * Whether the body held while BUFFERING has outgrown {@code limit} bytes, or come in so many
   * tiny parts (more than one per 64 bytes of the limit, at least 64) that holding more would
   * cost more in parts than in bytes: a body trickled a byte per read is then queued and
   * streams, as a longer body does.
   */
  boolean bufferFull(int limit) {
    return bufferedBytes > limit || bufferedParts > Math.max(64, limit / 64);
  }

  /** Buffering is over (the body is whole, or longer than the buffer): the request is queued now. */
  void queued() {
    if (state == State.BUFFERING) {
      state = State.QUEUED;
    }
  }

  /**
   * The client's connection closed. A request still waiting is dropped unsent; one whose
   * back-end is still working on it keeps its slot until the response, which is dropped;
   * a response under way is cut off (the back-end is past its work, only bytes are left).
   */
  void clientGone() {
    clientGone = true;
    release();
    if (connection != null && (!bodyComplete || state == State.ANSWERED)) {
      connection.abortForClient();
    }
  }

  /**
   * The client sent a malformed body after its head: the request is dropped if it still
   * waits, and cut off if it is on a back-end (nothing more of it goes there).
   */
  void clientFailed() {
    clientGone = true;
    release();
    if (connection != null) {
      connection.abortForClient();
    }
  }

  // ---- to and from a back-end ---------------------------------------------------------

  /**
   * Writes the request to {@code c}: the head, the body held so far, and (once the back-end
   * can take it) the rest as it arrives.
   */
  void send(BackendConnection c) {
    connection = c;
    state = State.SENT;
    attempts++;
    backendId = c.backendId;
    sentNanos = c.sentNanos;
    if (bodyComplete && !bodyGone) {
      c.writeWholeRequest(request, body); // the body stays here until the response starts
      return;
    }
    c.writeHead(request);
    HttpContent part;
    while ((part = body.pollFirst()) != null) {
      bodyGone = true;
      c.writeBody(part, part instanceof LastHttpContent);
    }
    c.flush();
    if (!bodyComplete) {
      client.holdBody(!c.writable());
    }
  }

  /** The request left its connection (done, or the connection broke). */
  void detach() {
    connection = null;
  }

  /** A back-end actor took it from the queue at {@code nanos} (the access log's queue time ends). */
  public void taken(long nanos) {
    takenNanos = nanos;
  }

  /** Times the request was written to a back-end connection. */
  public int attempts() {
    return attempts;
  }

  /** GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 9.2.2): sending it twice does no harm. */
  public boolean idempotent() {
    return idempotent;
  }

  /** True while the request could be sent again: its whole body is still here. */
  public boolean replayable() {
    return bodyComplete && !bodyGone && !clientGone;
  }

  boolean bodyComplete() {
    return bodyComplete;
  }

  /** The back-end connection can take more of the body again. */
  void backendWritable() {
    if (state == State.SENT && !bodyComplete) {
      client.holdBody(false);
    }
  }

  /** The response began: there is no sending again from here on. */
  private void answered() {
    state = State.ANSWERED;
    releaseBody();
  }

  /** An interim (1xx) response: forwarded to an HTTP/1.1 client, the exchange goes on. */
  void interim(HttpResponse response) {
    if (!clientGone) {
      client.writeInterim(response);
    }
  }

  /** The response head; the body follows in {@link #responseContent}, ended by {@link #responseEnd}. */
  void responseHead(HttpResponse response) {
    answered();
    if (!clientGone) {
      client.writeResponseHead(this, response);
    }
  }

  void responseContent(HttpContent content) {
    if (clientGone) {
      content.release();
    } else {
      client.writeResponseContent(content);
    }
  }

  /** A whole response, held until it was complete: its head, body parts, and last part. */
  void responseWhole(List<HttpObject> parts) {
    answered();
    state = State.ENDED;
    detach();
    if (clientGone) {
      parts.forEach(ReferenceCountUtil::release);
    } else {
      client.writeResponseWhole(this, parts, true);
    }
  }

  void responseEnd(LastHttpContent last) {
    state = State.ENDED;
    detach();
    if (clientGone) {
      last.release();
    } else {
      client.writeResponseEnd(this, last, true);
    }
  }

  /**
   * Could the client hold {@code bytes} more of the response unread, within {@code perConnection}
   * and the loop's share? Asked before the last of a response is written, so that the back-end
   * connection is freed first (as the response is counted before its client can see it).
   */
  boolean clientMayHold(long bytes, long perConnection) {
    return clientGone || client.mayHold(bytes, perConnection);
  }

  /**
   * Like {@link #responseWhole}, for a client with no room to hold it: the response is
   * written, but the exchange ends ({@link #responseFinished}) only once the client has
   * taken enough of it. Returns whether it has already (true: finish now).
   */
  boolean responseWholeHeld(List<HttpObject> parts, long perConnection) {
    answered();
    if (clientGone) {
      parts.forEach(ReferenceCountUtil::release);
      return true;
    }
    client.writeResponseWhole(this, parts, false);
    return client.settleOrWait(perConnection);
  }

  /** Like {@link #responseEnd}, for a client with no room: see {@link #responseWholeHeld}. */
  boolean responseEndHeld(LastHttpContent last, long perConnection) {
    if (clientGone) {
      last.release();
      return true;
    }
    client.writeResponseEnd(this, last, false);
    return client.settleOrWait(perConnection);
  }

  /** A held response's client has taken enough of it: the exchange ends, the next request may come. */
  void responseFinished() {
    if (state == State.ENDED) {
      return; // failed meanwhile
    }
    state = State.ENDED;
    detach();
    if (!clientGone) {
      client.endResponse(this);
    }
  }

  /**
   * Counts what the client has not taken yet; true while that is within {@code perConnection}
   * and the loop's share (the back-end connection may read on, or be freed).
   */
  boolean clientSettled(long perConnection) {
    return clientGone || client.settle(perConnection);
  }

  /**
   * The exchange ends without the back-end's response: an error status to the client if
   * nothing was sent to it yet, else its connection is closed (the response is cut off).
   */
  public void fail(HttpResponseStatus status, String message, boolean retryAfter) {
    State was = state;
    state = State.ENDED;
    detach();
    release();
    if (!clientGone) {
      if (was == State.ANSWERED) {
        client.abortResponse(this);
      } else {
        client.writeError(this, status, message, retryAfter);
      }
    }
  }

  /** The client's connection can take more of the response again. */
  void clientWritableAgain() {
    if (connection != null && state == State.ANSWERED) {
      connection.resumeRead();
    }
  }

  /** Sends what was written of a streamed response; true if the back-end connection may read on (see {@link #clientSettled}). */
  boolean flushClient(long perConnection) {
    if (clientGone) {
      return true;
    }
    client.flush();
    return client.settle(perConnection);
  }

  /** The client took everything it was sent: a held response may end, a paused one read on. */
  void clientDrained() {
    if (connection != null && state == State.ANSWERED) {
      connection.resumeRead();
    }
  }

  /** Is the client's connection able to take more of the response now? */
  boolean clientWritable() {
    return clientGone || client.writable();
  }

  /** Frees the held body, once. */
  void release() {
    releaseBody();
  }

  private void releaseBody() {
    HttpContent part;
    while ((part = body.pollFirst()) != null) {
      ReferenceCountUtil.release(part);
    }
  }

  @Override
  public String toString() {
    return request.method() + " " + request.uri() + " (" + state + ")";
  }
}
