package sluice.node.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import sluice.node.loop.ReadResume;

/**
 * One persistent HTTP/1.1 connection to a back-end, carrying at most one request at a time,
 * and the Netty handler that relays its response to the request's client. Owned by one
 * back-end actor, which decides what the connection does; the handler relays bytes and
 * reports what happened ({@link Events}).
 *
 * <p>States, changed only by the owning actor: CONNECTING (TCP connect under way; may hold
 * the exchange to send once connected) -> IDLE -> BUSY (a request on it) -> IDLE ... ->
 * CLOSING (we half-closed it and wait for the back-end to close its side) -> CLOSED. A
 * connection counts against its back-end's slots in every state but CLOSED: a slot given up
 * is free only once the back-end has seen the connection end.
 *
 * <p>While BUSY the handler owns the response: it holds a response whose length is known
 * and at most {@code bufferUpTo} bytes until it is whole (so that a back-end dying
 * mid-response gives a clean 502), streams longer ones, and when the response ends (or the
 * connection breaks) gives the exchange back to the actor through {@link Events}.
 */
public final class BackendConnection extends ChannelInboundHandlerAdapter {

  public enum State { CONNECTING, IDLE, BUSY, CLOSING, CLOSED }

  /** What the connection reports to its actor; each call becomes a message. */
  public interface Events {
    void connected(BackendConnection connection);

    void connectFailed(BackendConnection connection, Throwable cause);

    /** A whole response went to the client (or was dropped, its client being gone). */
    void responseDone(BackendConnection connection, Exchange exchange, int status, long rttNanos,
        CharSequence reportedLoad);

    /**
     * The connection closed. The actor takes what was on it with {@link #takeExchange()}
     * when it handles this: a request it put on the connection after the close (before it
     * heard of it) is there too.
     */
    void closed(BackendConnection connection, Throwable cause);
  }

  final long id;
  private final String backendId;
  private final Events events;
  private final long bufferUpTo;
  private final CharSequence loadHeader;
  Channel channel;
  private ResponseDecoder decoder;
  /** The request body goes out in chunked framing. */
  private boolean chunkedOut;

  // ---- owned by the actor
  public State state = State.CONNECTING;
  /** While CONNECTING: the exchange to send as soon as the connection is up. */
  public Exchange pending;
  public long idleSinceNanos;
  /** While CLOSING: when our side was shut. */
  public long closingSinceNanos;
  /** While CLOSING: the slot was given up (the grant shrank), so the entity hears at once when it is free. */
  public boolean givesSlotBack;
  /** Requests this connection has finished; a reused connection may be closed by the back-end under us. */
  public int served;

  // ---- owned by the handler while BUSY
  private Exchange exchange;
  private long sentNanos;
  private boolean responseStarted;
  private boolean inInterim;
  private List<HttpObject> held;
  private int status;
  private long rttNanos;
  private CharSequence reportedLoad;
  /** The back-end will close the connection after this response. */
  private boolean closeAfter;
  private boolean clientAborted;
  private Throwable failure;

  public BackendConnection(long id, String backendId, Events events, long bufferUpTo, CharSequence loadHeader) {
    this.id = id;
    this.backendId = backendId;
    this.events = events;
    this.bufferUpTo = bufferUpTo;
    this.loadHeader = loadHeader;
  }

  // ---- called by the actor and the exchange -------------------------------------------

  /** Sets up a new channel's pipeline: the response decoder, then this handler (requests are written as bytes). */
  public void install(Channel ch) {
    channel = ch;
    decoder = new ResponseDecoder(new HttpDecoderConfig()
        .setMaxInitialLineLength(16 * 1024).setMaxHeaderSize(64 * 1024).setMaxChunkSize(64 * 1024));
    ch.pipeline().addLast(decoder, this);
  }

  /** Nanos since the request on this connection went out. */
  public long sinceSentNanos(long now) {
    return now - sentNanos;
  }

  /** Puts {@code e} on this connection and writes it: the state becomes BUSY. */
  public void send(Exchange e) {
    state = State.BUSY;
    exchange = e;
    responseStarted = false;
    inInterim = false;
    closeAfter = false;
    clientAborted = false;
    status = 0;
    reportedLoad = null;
    sentNanos = System.nanoTime();
    e.send(this);
  }

  /** Nanos since the request went out, while no response byte has come; else -1. */
  public long waitingNanos(long now) {
    return state == State.BUSY && exchange != null && !responseStarted ? now - sentNanos : -1;
  }

  public Exchange exchange() {
    return exchange;
  }

  /** Takes the exchange off the connection (a timeout): the connection must be closed now. */
  public Exchange takeExchange() {
    Exchange e = exchange;
    exchange = null;
    releaseHeld();
    return e;
  }

  /** The back-end asked to close after its response, or said nothing of keep-alive in HTTP/1.0. */
  public boolean closeAfter() {
    return closeAfter;
  }

  /**
   * Writes a request whose whole body is {@code parts}: one buffer, the body copied in (the
   * parts stay with the caller, who may send them again). A chunked body goes with its
   * length instead, now that it is known.
   */
  void writeWholeRequest(HttpRequest request, Iterable<HttpContent> parts) {
    decoder.expect(request.method() == HttpMethod.HEAD);
    int length = 0;
    for (HttpContent part : parts) {
      length += part.content().readableBytes();
    }
    HttpHeaders headers = request.headers();
    if (headers.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
      headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
      headers.setInt(Fields.CONTENT_LENGTH, length);
    }
    ByteBuf out = HttpWriter.requestHead(channel.alloc(), request, length);
    for (HttpContent part : parts) {
      ByteBuf data = part.content();
      out.writeBytes(data, data.readerIndex(), data.readableBytes());
    }
    channel.writeAndFlush(out, channel.voidPromise());
  }

  /** Writes a request head; its body follows through {@link #writeBody}. */
  void writeHead(HttpRequest request) {
    decoder.expect(request.method() == HttpMethod.HEAD);
    chunkedOut = HttpUtil.isTransferEncodingChunked(request);
    channel.write(HttpWriter.requestHead(channel.alloc(), request, 0), channel.voidPromise());
  }

  /** Writes a part of the request body (taking it over); the last part is flushed. */
  void writeBody(HttpContent content, boolean last) {
    ByteBuf data = content.content();
    int length = data.readableBytes();
    if (length == 0) {
      data.release();
    } else if (chunkedOut) {
      channel.write(HttpWriter.chunkSize(channel.alloc(), length), channel.voidPromise());
      channel.write(data, channel.voidPromise());
      channel.write(HttpWriter.CRLF_BUF.duplicate(), channel.voidPromise());
    } else {
      channel.write(data, channel.voidPromise());
    }
    if (last) {
      if (chunkedOut) {
        channel.write(HttpWriter.LAST_CHUNK.duplicate(), channel.voidPromise());
      }
      channel.flush();
    }
  }

  void flush() {
    channel.flush();
  }

  boolean writable() {
    return channel.isWritable();
  }

  /** The client cannot finish its request: close, so that the back-end does not wait for it. */
  void abortForClient() {
    clientAborted = true;
    channel.close();
  }

  /**
   * Shuts our side of an idle connection: the back-end reads the end, closes its side, and
   * {@link Events#closed} follows. A channel that cannot half-close is closed.
   */
  public void shutdownOutput() {
    if (channel instanceof DuplexChannel duplex && channel.isActive()) {
      duplex.shutdownOutput().addListener(f -> {
        if (!f.isSuccess()) {
          channel.close();
        }
      });
    } else {
      close();
    }
  }

  /** Closes the connection, whatever is on it. */
  public void close() {
    if (channel != null) {
      channel.close();
    }
  }

  // ---- Netty --------------------------------------------------------------------------

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    events.connected(this);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Exchange e = exchange;
    if (e == null) {
      // nothing asked for this (a response after a timeout, or garbage): the connection is unusable
      ReferenceCountUtil.release(msg);
      failure = new IOException("back-end " + backendId + " sent data with no request on the connection");
      ctx.close();
      return;
    }
    if (msg instanceof HttpObject http && http.decoderResult().isFailure()) {
      ReferenceCountUtil.release(msg);
      failure = http.decoderResult().cause();
      ctx.close();
      return;
    }
    if (msg instanceof HttpResponse response) {
      onHead(e, response);
    }
    if (msg instanceof HttpContent content) {
      onContent(e, content);
    }
  }

  private void onHead(Exchange e, HttpResponse response) {
    responseStarted = true;
    if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
      inInterim = true; // its empty LastHttpContent follows; the real response comes after
      if (response.status().code() == 100) {
        e.interim(response);
      }
      return;
    }
    rttNanos = System.nanoTime() - sentNanos;
    status = response.status().code();
    closeAfter = !HttpUtil.isKeepAlive(response);
    if (loadHeader != null) {
      reportedLoad = response.headers().get(loadHeader);
    }
    long length = HttpUtil.getContentLength(response, -1L);
    if (length >= 0 && length <= bufferUpTo && !HttpUtil.isTransferEncodingChunked(response)) {
      held = new ArrayList<>(3);
      held.add(response);
    } else {
      e.responseHead(response);
    }
  }

  private void onContent(Exchange e, HttpContent content) {
    if (inInterim) {
      content.release();
      if (content instanceof LastHttpContent) {
        inInterim = false;
      }
      return;
    }
    if (content instanceof LastHttpContent last) {
      finish(e, last);
    } else if (held != null) {
      held.add(content);
    } else {
      e.responseContent(content);
      if (!e.clientWritable()) {
        channel.config().setAutoRead(false); // the client reads slowly: let the back-end wait
      }
    }
  }

  private void finish(Exchange e, LastHttpContent last) {
    exchange = null;
    List<HttpObject> whole = held;
    held = null;
    // told first, so that the actor counts the response before its client can see it and ask
    events.responseDone(this, e, status, rttNanos, reportedLoad);
    if (whole != null) {
      whole.add(last);
      e.responseWhole(whole);
    } else {
      e.responseEnd(last);
    }
    if (!channel.config().isAutoRead()) {
      ReadResume.resume(channel);
    }
  }

  /** The client's connection can take more: read the back-end again. */
  void resumeRead() {
    if (channel != null && !channel.config().isAutoRead()) {
      ReadResume.resume(channel);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    Exchange e = exchange;
    if (e != null && held == null && responseStarted) {
      e.flushClient(); // a streamed response: what this read brought goes out now
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && exchange != null) {
      exchange.backendWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseHeld();
    events.closed(this, failure);
  }

  /** Whether any of the current request's response had arrived. */
  public boolean responseStarted() {
    return responseStarted;
  }

  /** The client gave up on the current request (it left, or its body was malformed). */
  public boolean clientAborted() {
    return clientAborted;
  }

  /** The channel is open: a request written now reaches the back-end (unless it closes meanwhile). */
  public boolean isOpen() {
    return channel != null && channel.isActive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (failure == null) {
      failure = cause;
    }
    ctx.close();
  }

  private void releaseHeld() {
    if (held != null) {
      for (HttpObject part : held) {
        ReferenceCountUtil.release(part);
      }
      held = null;
    }
  }

  @Override
  public String toString() {
    return backendId + "#" + id + "(" + state + ")";
  }
}
