package sluice.node.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.loop.ReadResume;
import sluice.node.queue.QueueActor;

/**
 * One client connection: takes the requests its {@link RequestDecoder} parses, one at a time,
 * hands each to its pool's queue, and writes each response back in order. Pipelined requests
 * wait in the decoder until the response before them has been written.
 *
 * <p>States: IDLE (no request; the idle timeout runs) -> HEAD (a request head is arriving;
 * the head deadline runs) -> EXCHANGE (a request is queued or on a back-end; the exchange
 * guard runs until its response starts) -> IDLE, or CLOSING. At most one {@link Exchange} at
 * a time, {@link #current}. A request with a body of at most {@code buffer-requests-up-to}
 * bytes (or a chunked one, until it grows past that) is first read here, under the body
 * deadline, and queued only when it is whole ({@link #bufferingFor} is set meanwhile): a slow
 * uploader holds no back-end slot. Reading stops while a request body must wait (no slot
 * yet, or a back-end that cannot take more), and starts again when the body can flow or the
 * next request may come.
 *
 * <p>Response bytes the client has not taken yet are counted in {@link #charged} and in the
 * loop's {@link ResponseBuffers} after each flush; when some are left, one empty write is
 * watched ({@link #drainWatched}) to learn when the client has taken them. A response whose
 * client has no room left ({@code buffer-responses-up-to} per connection, the loop's share in
 * all) keeps its back-end connection until it has ({@link #awaitingDrain}). Everything runs
 * on the connection's event loop thread.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

  enum Phase { IDLE, HEAD, EXCHANGE, CLOSING }

  private static final ByteBuf CONTINUE = Unpooled.unreleasableBuffer(Unpooled.directBuffer(25)
      .writeBytes("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII)).asReadOnly());

  private final Router router;
  private final ClientTimeouts timeouts;
  private final ResponseBuffers buffers;
  private final int bufferRequestsUpTo;
  private final String retryAfterSeconds;
  private ChannelHandlerContext ctx;
  private RequestDecoder decoder;
  private String clientIp;
  Phase phase = Phase.IDLE;
  private Exchange current;
  /** While the current request's body is read before queueing: the queue it goes to then. */
  private ActorRef<QueueActor.Command> bufferingFor;
  /** Bytes of this connection's outbound buffer counted in {@link #buffers}. */
  private long charged;
  /** An empty write is pending whose completion says the client took what was before it. */
  private boolean drainWatched;
  private boolean settling;
  private ChannelFutureListener drainListener;
  private Runnable afterDrain;
  /** The current response has all arrived and waits for the client to take it before it ends. */
  private boolean awaitingDrain;
  /** The current request's body is dropped as it arrives (it was answered without a back-end). */
  private boolean discardBody;
  private boolean clientKeepAlive;
  private boolean client10;
  /** The response being written lets the connection stay open. */
  private boolean keepAlive;
  private boolean holdingBody;
  /** The response being written goes in chunked framing / has no body. */
  private boolean chunkedOut;
  private boolean bodylessOut;
  private static final AsciiString TEXT_PLAIN = AsciiString.cached("text/plain; charset=UTF-8");

  // ---- the access log: null when it is off, and then nothing below is read
  private final AccessLog accessLog;
  private int clientPort;
  /** When the current request's first byte came (only read with the access log on). */
  private long startNanos;
  private long startMillis;
  /** The current request line as the client sent it (only set with the access log on). */
  private String lineMethod;
  private String lineUri;
  private String lineVersion;
  /** Bytes written to the client for the current request; the status of its response head (0: none yet). */
  private long bytesOut;
  private int statusOut;

  // the timeout list this connection is on (see ClientTimeouts), and its place there
  ClientTimeouts.Timeouts list;
  ClientConnection prev;
  ClientConnection next;
  long since;

  ClientConnection(Router router, ClientTimeouts timeouts, ResponseBuffers buffers, int bufferRequestsUpTo,
      String retryAfterSeconds, AccessLog accessLog) {
    this.accessLog = accessLog;
    this.router = router;
    this.timeouts = timeouts;
    this.buffers = buffers;
    this.bufferRequestsUpTo = bufferRequestsUpTo;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.decoder = ctx.pipeline().get(RequestDecoder.class);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (ctx.channel().remoteAddress() instanceof InetSocketAddress remote) {
      clientIp = remote.getAddress() == null ? remote.getHostString() : remote.getAddress().getHostAddress();
      clientPort = remote.getPort();
    } else {
      clientIp = String.valueOf(ctx.channel().remoteAddress());
    }
    timeouts.idle.add(this);
    ctx.fireChannelActive();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
    if (event == RequestDecoder.HeadStarted.INSTANCE) {
      if (phase == Phase.IDLE) {
        phase = Phase.HEAD;
        timeouts.heads.add(this);
        if (accessLog != null) {
          startNanos = System.nanoTime();
          startMillis = System.currentTimeMillis();
        }
      }
      return;
    }
    ctx.fireUserEventTriggered(event);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      onRequest(request);
    } else if (msg instanceof LastHttpContent last) {
      if (current != null && !discardBody) {
        current.clientEnd(last);
        if (bufferingFor != null) {
          enqueueBuffered(); // the whole body is here
        }
      } else {
        last.release();
        discardBody = false;
        if (current == null && phase == Phase.EXCHANGE) {
          requestDone(); // answered early; now the request is read to its end
        }
      }
    } else if (msg instanceof HttpContent content) {
      if (current != null && !discardBody) {
        current.clientContent(content);
        if (bufferingFor != null && current.bufferFull(bufferRequestsUpTo)) {
          enqueueBuffered(); // a chunked body longer than the buffer (or in too many tiny parts): the rest streams
        }
      } else {
        content.release();
      }
    } else if (msg instanceof RequestParser.Malformed malformed) {
      onMalformed(malformed);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (current != null) {
      current.flushBody(); // what this read brought of a streamed body goes out now
    }
    ctx.fireChannelReadComplete();
  }

  private void onRequest(HttpRequest request) {
    timeouts.remove(this);
    phase = Phase.EXCHANGE;
    client10 = request.protocolVersion() == HttpVersion.HTTP_1_0;
    clientKeepAlive = HttpUtil.isKeepAlive(request);
    discardBody = false;
    bytesOut = 0;
    statusOut = 0;
    String uri = request.uri();
    if (accessLog != null) {
      lineMethod = request.method().name();
      lineUri = uri; // before Forwarding rewrites the request
      lineVersion = request.protocolVersion().text();
    }
    Router.Pool pool = router.route(request.headers().get(HttpHeaderNames.HOST), uri);
    if (pool == null) {
      discardBody = true;
      String path = RequestTarget.path(uri);
      writeLocalError(HttpResponseStatus.NOT_FOUND, "no route for host '"
          + RequestTarget.hostOnly(request.headers().get(HttpHeaderNames.HOST)) + "' and path " + path, false);
      if (accessLog != null) {
        accessLog.add(entry(null, HttpResponseStatus.NOT_FOUND.code(), AccessLog.Termination.NO_ROUTE));
      }
      return;
    }
    ActorRef<QueueActor.Command> queue = pool.queue();
    boolean chunked = HttpUtil.isTransferEncodingChunked(request);
    Forwarding.forwardRequest(request, clientIp);
    if (chunked) {
      request.headers().set(Fields.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    }
    long bodyLength = decoder.bodyLength();
    if (bufferRequestsUpTo > 0 && bodyLength != 0 && bodyLength <= bufferRequestsUpTo) { // -1: chunked, read up to the buffer's size
      // Read the body before the request takes a slot. A client that expects 100 Continue
      // would wait for it before sending the body, so it gets ours (RFC 9110 10.1.1 lets a
      // server that will read the body send it); the back-end gets the whole body and no Expect.
      if (request.headers().contains(HttpHeaderNames.EXPECT)) {
        request.headers().remove(HttpHeaderNames.EXPECT);
        if (!client10) {
          bytesOut += CONTINUE.readableBytes();
          ctx.writeAndFlush(CONTINUE.duplicate(), ctx.voidPromise());
        }
      }
      current = new Exchange(this, request, true, pool.name());
      bufferingFor = queue;
      timeouts.bodies.add(this);
      return;
    }
    current = new Exchange(this, request, false, pool.name());
    timeouts.exchanges.add(this);
    queue.tell(new QueueActor.Enqueue(current));
  }

  /** The body read before queueing is whole, or longer than the buffer: the request is queued now. */
  private void enqueueBuffered() {
    ActorRef<QueueActor.Command> queue = bufferingFor;
    bufferingFor = null;
    Exchange e = current;
    e.queued();
    timeouts.exchanges.add(this);
    if (!e.bodyComplete()) {
      holdBody(true); // what is held waits with it; the rest comes once it is on a back-end
    }
    queue.tell(new QueueActor.Enqueue(e));
  }

  private void onMalformed(RequestParser.Malformed malformed) {
    timeouts.remove(this);
    bufferingFor = null;
    Exchange e = current;
    if (e != null) {
      current = null;
      e.clientFailed();
      if (e.state == Exchange.State.ANSWERED) {
        logEnd(e, statusOut, AccessLog.Termination.BAD_REQUEST);
        closeNow();
        return;
      }
    }
    clientKeepAlive = false;
    phase = Phase.CLOSING;
    ByteBuf response = errorResponse(malformed.status(), malformed.reason(), false, false);
    if (e != null) {
      logEnd(e, malformed.status().code(), AccessLog.Termination.BAD_REQUEST);
    }
    writeClose(response);
  }

  // ---- flow control of the request body -----------------------------------------------

  /** Stops (true) or resumes (false) reading the client while its request body must wait. */
  void holdBody(boolean hold) {
    if (hold != holdingBody) {
      holdingBody = hold;
      if (hold) {
        ctx.channel().config().setAutoRead(false);
      } else {
        ReadResume.resume(ctx.channel());
      }
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      if (awaitingDrain) {
        timeouts.stalled.add(this); // it reads: the idle timeout starts again
      } else if (list == timeouts.stalled) {
        timeouts.remove(this);
      }
      if (current != null) {
        current.clientWritableAgain();
      }
    } else if (current != null && list == null) {
      timeouts.stalled.add(this); // a client that stops reading its response is cut off after the idle timeout
    }
    ctx.fireChannelWritabilityChanged();
  }

  boolean writable() {
    return ctx.channel().isWritable();
  }

  void flush() {
    ctx.flush();
  }

  // ---- response bytes the client has not taken yet --------------------------------------

  /** Could the client hold {@code bytes} more unread, within {@code perConnection} and the loop's share? */
  boolean mayHold(long bytes, long perConnection) {
    return charged + bytes <= perConnection && buffers.room(bytes);
  }

  /**
   * Counts what the outbound buffer still holds (after a flush) in the loop's share, and
   * watches for the client to take it. True while that is within {@code perConnection} and
   * the share. Costs two field reads when the client took everything (the common case).
   */
  boolean settle(long perConnection) {
    long pending = pendingBytes();
    if (pending == 0) {
      recharge(0);
      return true;
    }
    settling = true;
    try {
      if (!drainWatched) {
        drainWatched = true;
        if (drainListener == null) {
          drainListener = f -> onDrained();
          afterDrain = this::afterDrain;
        }
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(drainListener);
        pending = pendingBytes(); // the flush may have sent more
      }
    } finally {
      settling = false;
    }
    recharge(pending);
    return pending <= perConnection && !buffers.over();
  }

  /**
   * {@link #settle}, for a response whose last byte has been written: if the client has no
   * room for what it has not taken, the response waits for it (false), under the idle timeout.
   */
  boolean settleOrWait(long perConnection) {
    if (settle(perConnection)) {
      return true;
    }
    awaitingDrain = true;
    if (list == null || list == timeouts.stalled) {
      timeouts.stalled.add(this);
    }
    return false;
  }

  private long pendingBytes() {
    ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
    return out == null ? 0 : out.totalPendingWriteBytes();
  }

  private void recharge(long pending) {
    if (pending != charged) {
      buffers.add(pending - charged);
      charged = pending;
    }
  }

  /**
   * The watched empty write completed (or failed, the connection closing): the client took
   * what was before it. Called from inside the channel's flush, where the outbound buffer still
   * counts the empty write itself: the rest is done as a task of the loop, after the flush.
   */
  private void onDrained() {
    drainWatched = false;
    if (!settling) { // else it completed at once, inside settle(), which counts what is left
      ctx.executor().execute(afterDrain);
    }
  }

  private void afterDrain() {
    if (!ctx.channel().isActive()) {
      recharge(0);
      return;
    }
    settle(Long.MAX_VALUE); // counts what came after the watched write, and watches it
    if (current != null) {
      current.clientDrained();
    }
  }

  // ---- the response -------------------------------------------------------------------

  void writeInterim(HttpResponse response) {
    if (client10) {
      return; // HTTP/1.0 clients get no 1xx (RFC 9110 15.2)
    }
    Forwarding.forwardResponse(response);
    ByteBuf head = HttpWriter.responseHead(ctx.alloc(), response, 0);
    bytesOut += head.readableBytes();
    ctx.writeAndFlush(head, ctx.voidPromise());
  }

  /**
   * Sets the response's framing and connection fields for this client: its Content-Length
   * if it has one, else chunked to an HTTP/1.1 client and read-to-close to an HTTP/1.0 one.
   */
  private void prepareHead(Exchange e, HttpResponse response) {
    if (list == timeouts.exchanges) {
      timeouts.remove(this); // answered: the guard is done
    }
    int code = response.status().code();
    statusOut = code;
    bodylessOut = e.head || code == 204 || code == 304 || (code >= 100 && code < 200);
    boolean length = response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)
        && !HttpUtil.isTransferEncodingChunked(response);
    Forwarding.forwardResponse(response);
    boolean framed = true;
    chunkedOut = false;
    if (!bodylessOut && !length) {
      if (client10) {
        framed = false; // an HTTP/1.0 client reads to the end of the connection
      } else {
        chunkedOut = true;
        response.headers().set(Fields.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
      }
    }
    keepAlive = clientKeepAlive && framed && e.bodyComplete() && !timeouts.draining;
    setConnectionField(response.headers());
  }

  void writeResponseHead(Exchange e, HttpResponse response) {
    prepareHead(e, response);
    ByteBuf head = HttpWriter.responseHead(ctx.alloc(), response, 0);
    bytesOut += head.readableBytes();
    ctx.write(head, ctx.voidPromise());
  }

  void writeResponseContent(HttpContent content) {
    ByteBuf data = content.content();
    int length = data.readableBytes();
    if (length == 0 || bodylessOut) {
      data.release();
    } else if (chunkedOut) {
      ByteBuf size = HttpWriter.chunkSize(ctx.alloc(), length);
      bytesOut += size.readableBytes() + length + 2;
      ctx.write(size, ctx.voidPromise());
      ctx.write(data, ctx.voidPromise());
      ctx.write(HttpWriter.CRLF_BUF.duplicate(), ctx.voidPromise());
    } else {
      bytesOut += length;
      ctx.write(data, ctx.voidPromise());
    }
  }

  /** The last part of a streamed response; {@code end}: the exchange ends now, else it is flushed and waits. */
  void writeResponseEnd(Exchange e, LastHttpContent last, boolean end) {
    writeResponseContent(last);
    if (chunkedOut) {
      bytesOut += HttpWriter.LAST_CHUNK.readableBytes();
      ctx.write(HttpWriter.LAST_CHUNK.duplicate(), ctx.voidPromise());
    }
    if (end) {
      endResponse(e);
    } else {
      ctx.flush();
    }
  }

  /**
   * A whole response (head, body parts, last part) in one buffer and one write; {@code end}:
   * the exchange ends now, else it is flushed and waits for {@link #endResponse}.
   */
  void writeResponseWhole(Exchange e, List<HttpObject> parts, boolean end) {
    HttpResponse response = (HttpResponse) parts.get(0);
    prepareHead(e, response);
    int length = 0;
    for (int i = 1; i < parts.size(); i++) {
      length += ((HttpContent) parts.get(i)).content().readableBytes();
    }
    ByteBuf out = HttpWriter.responseHead(ctx.alloc(), response, bodylessOut ? 0 : length);
    for (int i = 1; i < parts.size(); i++) {
      ByteBuf data = ((HttpContent) parts.get(i)).content();
      if (!bodylessOut) {
        out.writeBytes(data);
      }
      data.release();
    }
    bytesOut += out.readableBytes();
    ctx.write(out, ctx.voidPromise());
    if (end) {
      endResponse(e);
    } else {
      ctx.flush();
    }
  }

  /** The response has gone out (what the client has not taken is counted): the next request may come. */
  void endResponse(Exchange e) {
    if (current == e) {
      current = null;
    }
    logEnd(e, statusOut, AccessLog.Termination.OK);
    if (awaitingDrain) {
      awaitingDrain = false;
      if (list == timeouts.stalled) {
        timeouts.remove(this);
      }
    }
    if (keepAlive) {
      ctx.flush();
      settle(Long.MAX_VALUE);
      requestDone();
    } else if (e.bodyComplete()) {
      phase = Phase.CLOSING;
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    } else {
      phase = Phase.CLOSING;
      writeClose(Unpooled.EMPTY_BUFFER); // the client may still be sending its body
      settle(Long.MAX_VALUE);
    }
  }

  /** The response was cut off after its head went out: the client can only learn it from the close. */
  void abortResponse(Exchange e) {
    if (current == e) {
      current = null;
    }
    logEnd(e, statusOut, AccessLog.Termination.BACKEND_CUT_OFF);
    closeNow();
  }

  /** An error instead of the back-end's response (503, 502, 504 ...). */
  void writeError(Exchange e, HttpResponseStatus status, String message, boolean retryAfter) {
    if (current == e) {
      current = null;
    }
    if (list == timeouts.exchanges) {
      timeouts.remove(this);
    }
    if (!e.bodyComplete()) {
      // the rest of the body would have to be read and dropped: close instead
      clientKeepAlive = false;
    }
    boolean stay = clientKeepAlive && phase != Phase.CLOSING && !timeouts.draining;
    ByteBuf response = errorResponse(status, message, retryAfter, stay);
    if (accessLog != null) {
      logEnd(e, status.code(), e.refusal != null ? AccessLog.Termination.refused(e.refusal)
          : status.code() == 504 ? AccessLog.Termination.BACKEND_TIMEOUT : AccessLog.Termination.BACKEND_FAILED);
    }
    if (stay) {
      ctx.writeAndFlush(response, ctx.voidPromise());
      requestDone();
    } else {
      phase = Phase.CLOSING;
      writeClose(response);
    }
  }

  /** An answer without a back-end (404): the request body, if any, is read and dropped. */
  private void writeLocalError(HttpResponseStatus status, String message, boolean retryAfter) {
    boolean stay = clientKeepAlive && !timeouts.draining;
    ByteBuf response = errorResponse(status, message, retryAfter, stay);
    if (stay) {
      ctx.writeAndFlush(response, ctx.voidPromise());
      // the decoder pauses after the request's end; requestDone() follows then (see channelRead)
    } else {
      phase = Phase.CLOSING;
      writeClose(response);
    }
  }

  /** The exchange is over and the connection stays: the next request may come. */
  private void requestDone() {
    if (discardBody) {
      return; // the request's body is still arriving; done at its end
    }
    phase = Phase.IDLE;
    holdBody(false);
    timeouts.idle.add(this);
    decoder.resume();
  }

  private ByteBuf errorResponse(HttpResponseStatus status, String message, boolean retryAfter, boolean stay) {
    byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
    HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status,
        DefaultHttpHeadersFactory.headersFactory().withValidation(false));
    HttpHeaders headers = response.headers();
    headers.set(Fields.CONTENT_TYPE, TEXT_PLAIN);
    headers.setInt(Fields.CONTENT_LENGTH, body.length);
    if (retryAfter) {
      headers.set(Fields.RETRY_AFTER, retryAfterSeconds);
    }
    keepAlive = stay;
    setConnectionField(headers);
    ByteBuf out = HttpWriter.responseHead(ctx.alloc(), response, body.length);
    out.writeBytes(body);
    bytesOut += out.readableBytes();
    return out;
  }

  private void setConnectionField(HttpHeaders headers) {
    if (!keepAlive) {
      headers.set(Fields.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (client10) {
      headers.set(Fields.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
  }

  /**
   * Writes the last bytes of this connection and closes it in stages (RFC 9112 9.6): the
   * client may still be sending (a body we answered early, pipelined requests, the bytes of a
   * malformed request), and a close with unread bytes makes the kernel send a reset, which can
   * destroy our response before the client has read it. So: flush, send FIN, then read and drop
   * whatever the client still sends until it closes, or for {@link ClientTimeouts#LINGER}.
   */
  private void writeClose(Object response) {
    ctx.writeAndFlush(response).addListener(this::linger);
  }

  private void linger(Future<?> written) {
    Channel channel = ctx.channel();
    if (!written.isSuccess() || !channel.isActive() || !(channel instanceof DuplexChannel duplex)) {
      ctx.close();
      return;
    }
    duplex.shutdownOutput().addListener(shut -> {
      if (!shut.isSuccess() || !channel.isActive()) {
        ctx.close();
        return;
      }
      if (ctx.pipeline().get(RequestDecoder.class) != null) {
        ctx.pipeline().remove(RequestDecoder.class); // what comes now reaches channelRead raw, and is dropped
      }
      timeouts.lingering.add(this);
      holdingBody = false;
      ReadResume.resume(channel); // the client's end (EOF) closes the channel
    });
  }

  private void closeNow() {
    phase = Phase.CLOSING;
    ctx.close();
  }

  // ---- timeouts (called by ClientTimeouts) ----------------------------------------------

  /** A body read before queueing did not arrive whole within the body deadline; no back-end saw the request. */
  void bodyDeadlinePassed() {
    Exchange e = current;
    current = null;
    bufferingFor = null;
    if (e != null) {
      e.clientGone(); // never queued: frees what was held
    }
    phase = Phase.CLOSING;
    clientKeepAlive = false;
    ByteBuf response = errorResponse(HttpResponseStatus.REQUEST_TIMEOUT, "request body not received within the deadline",
        false, false);
    if (e != null) {
      logEnd(e, HttpResponseStatus.REQUEST_TIMEOUT.code(), AccessLog.Termination.CLIENT_TIMEOUT);
    }
    writeClose(response);
  }

  /** The request head did not arrive within the head deadline. */
  void headDeadlinePassed() {
    phase = Phase.CLOSING;
    clientKeepAlive = false;
    writeClose(errorResponse(HttpResponseStatus.REQUEST_TIMEOUT, "request head not received within the deadline",
        false, false));
  }

  /** The client did not close within the linger time after our last response. */
  void lingerPassed() {
    ctx.close();
  }

  /** The node stops and this connection is between requests. */
  void closeForDrain() {
    closeNow();
  }

  /** No request for the idle timeout, or a response the client did not read for that long. */
  void idleTimeoutPassed() {
    if (current != null) {
      log.debug("closing client connection {}: it read nothing of its response for the idle timeout", clientIp);
      logEnd(current, statusOut, AccessLog.Termination.CLIENT_TIMEOUT);
    }
    closeNow();
  }

  /** No answer within the longest time any exchange may take: a bug. The client is not left hanging. */
  void exchangeGuardPassed() {
    Exchange e = current;
    log.error("client {}: request {} got no answer within the longest time an exchange may take (queue timeout, "
        + "retries and response timeouts); answering 503 and closing. This is a bug.", clientIp, e);
    if (e != null) {
      current = null;
      e.clientGone();
    }
    phase = Phase.CLOSING;
    clientKeepAlive = false;
    ByteBuf response = errorResponse(HttpResponseStatus.SERVICE_UNAVAILABLE, "internal error: no answer in time", true,
        false);
    if (e != null) {
      logEnd(e, HttpResponseStatus.SERVICE_UNAVAILABLE.code(), AccessLog.Termination.INTERNAL_ERROR);
    }
    writeClose(response);
  }

  // ---- the connection's end -----------------------------------------------------------

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    timeouts.remove(this);
    recharge(0); // the outbound buffer is released with the channel
    awaitingDrain = false;
    bufferingFor = null;
    Exchange e = current;
    current = null;
    phase = Phase.CLOSING;
    if (e != null) {
      logEnd(e, statusOut == 0 ? -1 : statusOut, AccessLog.Termination.CLIENT_ABORTED);
      e.clientGone();
    }
    ctx.fireChannelInactive();
  }

  // ---- the access log -----------------------------------------------------------------

  /** The exchange is over, as {@code how} says: its line goes to the access log, once. One null check when off. */
  private void logEnd(Exchange e, int status, AccessLog.Termination how) {
    if (accessLog != null && !e.logged) {
      e.logged = true;
      accessLog.add(entry(e, status, how));
    }
  }

  /** The current request's line; {@code e} null for one answered without a pool (404). */
  private AccessLog.Entry entry(Exchange e, int status, AccessLog.Termination how) {
    long now = System.nanoTime();
    if (e == null) {
      return new AccessLog.Entry(clientIp, clientPort, startMillis, startNanos, 0, 0, 0, -1, now, null, null, status,
          bytesOut, how, lineMethod, lineUri, lineVersion);
    }
    return new AccessLog.Entry(clientIp, clientPort, startMillis, startNanos, e.enqueuedNanos(), e.takenNanos,
        e.sentNanos, e.rttNanos, now, e.pool, e.backendId, status, bytesOut, how, lineMethod, lineUri, lineVersion);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("client connection {}: {}", clientIp, cause.toString());
    ctx.close();
  }
}
