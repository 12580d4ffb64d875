package sluice.node.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.buffer.Unpooled;
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
 * a time, {@link #current}. Reading stops while a request body must wait (no slot yet, or a
 * back-end that cannot take more), and starts again when the body can flow or the next
 * request may come. Everything runs on the connection's event loop thread.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

  enum Phase { IDLE, HEAD, EXCHANGE, CLOSING }

  private final Router router;
  private final ClientTimeouts timeouts;
  private final String retryAfterSeconds;
  private ChannelHandlerContext ctx;
  private RequestDecoder decoder;
  private String clientIp;
  Phase phase = Phase.IDLE;
  private Exchange current;
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

  // the timeout list this connection is on (see ClientTimeouts), and its place there
  ClientTimeouts.Timeouts list;
  ClientConnection prev;
  ClientConnection next;
  long since;

  ClientConnection(Router router, ClientTimeouts timeouts, String retryAfterSeconds) {
    this.router = router;
    this.timeouts = timeouts;
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
    String uri = request.uri();
    ActorRef<QueueActor.Command> queue = router.route(request.headers().get(HttpHeaderNames.HOST), uri);
    if (queue == null) {
      discardBody = true;
      String path = RequestTarget.path(uri);
      writeLocalError(HttpResponseStatus.NOT_FOUND, "no route for host '"
          + RequestTarget.hostOnly(request.headers().get(HttpHeaderNames.HOST)) + "' and path " + path, false);
      return;
    }
    boolean chunked = HttpUtil.isTransferEncodingChunked(request);
    Forwarding.forwardRequest(request, clientIp);
    if (chunked) {
      request.headers().set(Fields.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    }
    current = new Exchange(this, request);
    timeouts.exchanges.add(this);
    queue.tell(new QueueActor.Enqueue(current));
  }

  private void onMalformed(RequestParser.Malformed malformed) {
    timeouts.remove(this);
    Exchange e = current;
    if (e != null) {
      current = null;
      e.clientFailed();
      if (e.state == Exchange.State.ANSWERED) {
        closeNow();
        return;
      }
    }
    clientKeepAlive = false;
    phase = Phase.CLOSING;
    writeClose(errorResponse(malformed.status(), malformed.reason(), false, false));
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
      if (list == timeouts.stalled) {
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

  // ---- the response -------------------------------------------------------------------

  void writeInterim(HttpResponse response) {
    if (client10) {
      return; // HTTP/1.0 clients get no 1xx (RFC 9110 15.2)
    }
    Forwarding.forwardResponse(response);
    ctx.writeAndFlush(HttpWriter.responseHead(ctx.alloc(), response, 0), ctx.voidPromise());
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
    ctx.write(HttpWriter.responseHead(ctx.alloc(), response, 0), ctx.voidPromise());
  }

  void writeResponseContent(HttpContent content) {
    ByteBuf data = content.content();
    int length = data.readableBytes();
    if (length == 0 || bodylessOut) {
      data.release();
    } else if (chunkedOut) {
      ctx.write(HttpWriter.chunkSize(ctx.alloc(), length), ctx.voidPromise());
      ctx.write(data, ctx.voidPromise());
      ctx.write(HttpWriter.CRLF_BUF.duplicate(), ctx.voidPromise());
    } else {
      ctx.write(data, ctx.voidPromise());
    }
  }

  void writeResponseEnd(Exchange e, LastHttpContent last) {
    writeResponseContent(last);
    if (chunkedOut) {
      ctx.write(HttpWriter.LAST_CHUNK.duplicate(), ctx.voidPromise());
    }
    endResponse(e);
  }

  /** A whole response (head, body parts, last part) in one buffer and one write. */
  void writeResponseWhole(Exchange e, List<HttpObject> parts) {
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
    ctx.write(out, ctx.voidPromise());
    endResponse(e);
  }

  private void endResponse(Exchange e) {
    if (current == e) {
      current = null;
    }
    if (keepAlive) {
      ctx.flush();
      requestDone();
    } else {
      phase = Phase.CLOSING;
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** The response was cut off after its head went out: the client can only learn it from the close. */
  void abortResponse(Exchange e) {
    if (current == e) {
      current = null;
    }
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
    return out;
  }

  private void setConnectionField(HttpHeaders headers) {
    if (!keepAlive) {
      headers.set(Fields.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (client10) {
      headers.set(Fields.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
  }

  private void writeClose(Object response) {
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  private void closeNow() {
    phase = Phase.CLOSING;
    ctx.close();
  }

  // ---- timeouts (called by ClientTimeouts) ----------------------------------------------

  /** The request head did not arrive within the head deadline. */
  void headDeadlinePassed() {
    phase = Phase.CLOSING;
    clientKeepAlive = false;
    writeClose(errorResponse(HttpResponseStatus.REQUEST_TIMEOUT, "request head not received within the deadline",
        false, false));
  }

  /** The node stops and this connection is between requests. */
  void closeForDrain() {
    closeNow();
  }

  /** No request for the idle timeout, or a response the client did not read for that long. */
  void idleTimeoutPassed() {
    if (current != null) {
      log.debug("closing client connection {}: it read nothing of its response for the idle timeout", clientIp);
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
    writeClose(errorResponse(HttpResponseStatus.SERVICE_UNAVAILABLE, "internal error: no answer in time", true,
        false));
  }

  // ---- the connection's end -----------------------------------------------------------

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    timeouts.remove(this);
    Exchange e = current;
    current = null;
    phase = Phase.CLOSING;
    if (e != null) {
      e.clientGone();
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("client connection {}: {}", clientIp, cause.toString());
    ctx.close();
  }
}
