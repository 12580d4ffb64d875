package sluice.node.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.EventExecutor;

/**
 * Decodes a client connection's bytes into requests with a {@link RequestParser}, one
 * request at a time: it fires a request's {@link HttpRequest}, {@link HttpContent}s and
 * {@link LastHttpContent}, then pauses until the next handler calls {@link #resume()}
 * (once the response has been written); bytes of pipelined requests wait meanwhile. When
 * the first byte of a request head is seen, it fires {@link HeadStarted#INSTANCE} as a
 * user event. A {@link RequestParser.Malformed} is fired once; every later byte is dropped.
 * It never touches {@code autoRead}: the connection handler owns it.
 *
 * <p>States: running (parsing as bytes arrive), paused (after a LastHttpContent, until
 * {@code resume()}), discarding (after a Malformed, channelInactive or handlerRemoved: each
 * incoming buffer is released unread, for good). Invariants: {@code cumulation} is null or
 * holds unparsed bytes, is owned by this handler alone and released exactly once; it is
 * never the incoming buffer once a read is done (leftovers are copied out, so a large
 * read buffer is not held for a few bytes of a partial head); {@code headSignalled} is true
 * from the first byte of a head to its request's LastHttpContent; {@code decoding} is true
 * while the parse loop runs, so a {@code resume()} from inside it only unpauses.
 */
public final class RequestDecoder extends ChannelInboundHandlerAdapter {

  /** User event: the first byte of a new request head has arrived (or, if buffered, can now be read). */
  public enum HeadStarted { INSTANCE }

  private final RequestParser parser;
  private ChannelHandlerContext ctx;
  private ByteBuf cumulation;
  private boolean paused;
  private boolean discarding;
  private boolean headSignalled;
  private boolean decoding;

  public RequestDecoder(RequestParser.Limits limits) {
    this.parser = new RequestParser(limits);
  }

  /**
   * Lets the next request through: parses what is buffered (which may fire it at once),
   * else waits for more bytes. Does nothing unless paused after a request. Meant for the
   * channel's event loop; from another thread it is handed to the event loop.
   */
  public void resume() {
    ChannelHandlerContext context = ctx;
    if (context == null) {
      return;
    }
    EventExecutor executor = context.executor();
    if (!executor.inEventLoop()) {
      executor.execute(this::resume);
      return;
    }
    if (!paused || discarding) {
      return;
    }
    paused = false;
    if (!decoding) {
      decode();
      dropIfEmpty();
    }
  }

  /** The body length the request just fired announced (see {@link RequestParser#bodyLength()}). */
  long bodyLength() {
    return parser.bodyLength();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    discard();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    discard();
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (discarding) {
      in.release();
      return;
    }
    cumulation = cumulation == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), cumulation, in);
    if (!paused) {
      decode();
    }
    if (cumulation == in && in.isReadable()) {
      ByteBuf kept = ctx.alloc().buffer(in.readableBytes());
      kept.writeBytes(in);
      in.release();
      cumulation = kept;
    } else {
      dropIfEmpty();
    }
  }

  /** Fires events from the buffered bytes until paused, discarding, or the parser needs more. */
  private void decode() {
    if (decoding) {
      return;
    }
    decoding = true;
    try {
      while (!paused && !discarding) {
        ByteBuf buffered = cumulation == null ? Unpooled.EMPTY_BUFFER : cumulation;
        if (!headSignalled) {
          if (!buffered.isReadable()) {
            return;
          }
          headSignalled = true;
          ctx.fireUserEventTriggered(HeadStarted.INSTANCE);
          continue; // the event may have closed or removed us
        }
        Object event = parser.next(buffered);
        if (event == null) {
          return;
        }
        if (event instanceof LastHttpContent) {
          paused = true;
          headSignalled = false;
        } else if (event instanceof RequestParser.Malformed) {
          discard();
        }
        ctx.fireChannelRead(event);
      }
    } finally {
      decoding = false;
    }
  }

  private void dropIfEmpty() {
    if (cumulation != null && !cumulation.isReadable()) {
      cumulation.release();
      cumulation = null;
    }
  }

  private void discard() {
    discarding = true;
    if (cumulation != null) {
      cumulation.release();
      cumulation = null;
    }
  }
}
