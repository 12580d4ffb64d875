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
 *
 * <p>It reads the back-end at the back-end's pace while the client may hold what it has not
 * read yet: up to {@code bufferUpTo} bytes for this client connection, within its loop's share
 * of {@code sluice.http.response-buffer-total} ({@link ResponseBuffers}). So a response that
 * fits is off the back-end connection, and the connection free, as soon as it has arrived,
 * however slowly its client reads. Beyond that, reading stops until the client has taken
 * more; and a response whose last byte has come but does not fit is written and stays on the
 * connection ({@link #waitingForClient}) until its client has taken enough, so the
 * connection (the slot) is held as long as the client is slow. A streamed response's parts
 * are counted after each read's flush, so a client connection may hold one read more.
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
  final String backendId;
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
  long sentNanos;
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
  /** The whole response has arrived and been written; it waits for its client to take it before it ends. */
  private boolean waitingForClient;

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
    waitingForClient = false;
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
    if (waitingForClient) {
      finishWaiting(); // the back-end has sent all of it: nothing to cut off, the connection is reusable
      return;
    }
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
    if (waitingForClient) {
      // nothing asked for more: the connection is unusable (the response in hand still ends)
      ReferenceCountUtil.release(msg);
      failure = new IOException("back-end " + backendId + " sent data after its response");
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
    e.rttNanos = rttNanos;
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
      if (!e.clientWritable() && !e.clientSettled(bufferUpTo)) {
        channel.config().setAutoRead(false); // the client reads slowly and has no room left: let the back-end wait
      }
    }
  }

  private void finish(Exchange e, LastHttpContent last) {
    List<HttpObject> whole = held;
    held = null;
    long bytes = last.content().readableBytes();
    if (whole != null) {
      for (int i = 1; i < whole.size(); i++) {
        bytes += ((HttpContent) whole.get(i)).content().readableBytes();
      }
      whole.add(last);
    }
    if (e.clientMayHold(bytes, bufferUpTo)) {
      exchange = null;
      // told first, so that the actor counts the response before its client can see it and ask
      events.responseDone(this, e, status, rttNanos, reportedLoad);
      if (whole != null) {
        e.responseWhole(whole);
      } else {
        e.responseEnd(last);
      }
      readAgain();
      return;
    }
    // The client could not hold all of it unread: written now, the connection stays with it
    // until the client has taken enough.
    boolean taken = whole != null ? e.responseWholeHeld(whole, bufferUpTo) : e.responseEndHeld(last, bufferUpTo);
    if (taken) {
      finishWaiting(e);
    } else {
      waitingForClient = true;
      channel.config().setAutoRead(false);
    }
  }

  private void finishWaiting() {
    Exchange e = exchange;
    waitingForClient = false;
    if (e != null) {
      finishWaiting(e);
    }
  }

  private void finishWaiting(Exchange e) {
    waitingForClient = false;
    exchange = null;
    events.responseDone(this, e, status, rttNanos, reportedLoad);
    e.responseFinished();
    readAgain();
  }

  /** Turns reading of the back-end on again (through {@link ReadResume}: Netty 4.2's epoll bug). */
  private void readAgain() {
    if (!channel.config().isAutoRead()) {
      ReadResume.resume(channel);
    }
  }

  /**
   * The client's connection can take more, or took all it was sent: a response waiting for
   * its client may end, a paused one is read again, if the client has room now.
   */
  void resumeRead() {
    Exchange e = exchange;
    if (waitingForClient) {
      if (e == null || e.clientSettled(bufferUpTo)) {
        finishWaiting();
      }
      return;
    }
    if (channel != null && !channel.config().isAutoRead() && (e == null || e.clientSettled(bufferUpTo))) {
      readAgain();
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    Exchange e = exchange;
    if (e != null && held == null && responseStarted && !waitingForClient) {
      // a streamed response: what this read brought goes out now; no room left, the back-end waits
      if (!e.flushClient(bufferUpTo)) {
        channel.config().setAutoRead(false);
      }
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
    if (waitingForClient) {
      finishWaiting(); // the whole response came: it ends as served, then the close is reported
    }
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
