package sluice.node.tcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.loop.ReadResume;
import sluice.node.queue.QueueActor;
import sluice.node.settings.ConnectionSettings;

/**
 * One client connection of a TCP listener, from accept to close: it waits in its pool's queue
 * as {@link Work}, unread, and is then relayed byte for byte to one back-end connection, both
 * ways, until both sides have closed. This object is the client channel's handler; its
 * {@link BackendSide} is the back-end channel's.
 *
 * <p>States, changed only on the client's event loop (the back-end channel, the queue and the
 * back-end actor are on the same loop):
 * <ul>
 *   <li>QUEUED: in the queue or on its way to a back-end actor. What the client sends is read
 *       ahead into {@code early} until it holds {@link #READ_AHEAD_BYTES} (then the client is
 *       not read, autoRead off, and the rest waits in the kernel), so that a client's request
 *       goes to the back-end with the connect's completion, without a read after it, as
 *       HAProxy holds a queued client's first buffer. Reading also shows at once a client that
 *       leaves while it waits.
 *   <li>CONNECTING: a back-end actor holds a slot for it and connects. A failed connect goes
 *       back to QUEUED and the actor returns it to the queue.
 *   <li>RELAYING: bytes flow both ways, each direction paused (the reading side's autoRead off)
 *       while the other side is not writable. A FIN from one side is passed on as
 *       shutdownOutput toward the other once everything before it is written; a side whose
 *       input has ended and whose FIN we have passed on is closed.
 *   <li>ENDING: broken off (the client left or was reset by us, the back-end failed, idle
 *       timeout, the node stops). The client is reset (RST) if still open; the back-end
 *       connection is half-closed and read to its end, so that the back-end has seen the
 *       connection end before its slot frees, at most {@link TcpBackendActor#CLOSE_WAIT}.
 *   <li>DONE: both channels closed; the back-end actor has been told, once ({@link
 *       Events#finished}).
 * </ul>
 * Every ByteBuf read is written to the other side (which then owns it), kept in {@code early}
 * (released when written or when the relay ends), or released at once.
 */
public final class TcpRelay extends ChannelInboundHandlerAdapter implements L4Connection {
  private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);

  /** The most a queued client is read ahead of its relay (beyond it, at most one read more). */
  static final int READ_AHEAD_BYTES = 16 * 1024;

  enum State { QUEUED, CONNECTING, RELAYING, ENDING, DONE }

  private final ActorRef<QueueActor.Command> queue;
  private final String listenerId;
  private Channel client;
  private Channel backend;
  private Events events;
  State state = State.QUEUED;
  private Outcome outcome;
  private ArrayDeque<ByteBuf> early;
  private int earlyBytes;

  private long enqueuedNanos;
  private long connectStartNanos;
  private long bytesUntaken;
  private long firstByteNanos = -1;
  private boolean firstByteTaken;
  /** The last read on either side (set once per read batch); the back-end actor sweeps idle relays. */
  long lastActivityNanos;
  long endingSinceNanos;

  private boolean clientInputEnded;
  private boolean backendInputEnded;
  /** A FIN toward the side is on its way (queued behind what was written before it). */
  private boolean clientFinQueued;
  private boolean backendFinQueued;
  /** ... and has been sent. */
  private boolean clientFinSent;
  private boolean backendFinSent;
  private boolean clientClosed;
  private boolean backendClosed;
  /** The side's connection failed (a reset, an I/O error), as opposed to its FIN. */
  private boolean clientFailed;
  private boolean backendFailed;
  /** We close the client after a complete relay (not an abort). */
  private boolean closingClient;

  TcpRelay(ActorRef<QueueActor.Command> queue, String listenerId) {
    this.queue = queue;
    this.listenerId = listenerId;
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
    return clientClosed;
  }

  /** Queue full, queue timeout, the queue stopping: the client is reset, having seen no byte. */
  @Override
  public void refuse(Refusal refusal, String detail) {
    log.debug("tcp {}: client {} reset: {}", listenerId, client == null ? "?" : client.remoteAddress(), detail);
    state = State.DONE;
    releaseEarly();
    if (client != null) {
      reset(client);
    }
  }

  // ---- the back-end actor's side ------------------------------------------------------

  @Override
  public long takeRelayedBytes() {
    long bytes = bytesUntaken;
    bytesUntaken = 0;
    return bytes;
  }

  @Override
  public long takeFirstByteNanos() {
    if (firstByteNanos < 0 || firstByteTaken) {
      return -1;
    }
    firstByteTaken = true;
    return firstByteNanos;
  }

  /** Opens the back-end connection (the caller holds a slot for it). */
  @Override
  public void connect(Bootstrap bootstrap, InetSocketAddress address, Events events) {
    this.events = events;
    state = State.CONNECTING;
    connectStartNanos = System.nanoTime();
    firstByteNanos = -1;
    firstByteTaken = false;
    backendInputEnded = backendFinQueued = backendFinSent = backendClosed = backendFailed = false;
    ChannelFuture connect = bootstrap.clone().handler(new BackendSide()).connect(address);
    Channel ch = connect.channel();
    backend = ch;
    // the close future, not channelInactive: it completes also for a channel that never connected
    ch.closeFuture().addListener(closed -> {
      if (ch == backend) {
        onBackendClosed();
      }
    });
    connect.addListener(done -> {
      if (!done.isSuccess() && state == State.CONNECTING) {
        backend = null;
        state = State.QUEUED;
        events.connectFailed(this, done.cause());
      }
    });
  }

  /** No byte either way for the idle timeout: ended like a client that left. */
  void idleTimeout() {
    if (state == State.RELAYING) {
      log.debug("tcp {}: relay of {} idle, closing", listenerId, client.remoteAddress());
      end(Outcome.IDLE_TIMEOUT);
    }
  }

  /**
   * Idle for the idle timeout: ended like a client that left; broken off and the back-end did
   * not end its side within {@link TcpBackendActor#CLOSE_WAIT}: closed now.
   */
  @Override
  public void sweep(long nowNanos, ConnectionSettings settings) {
    if (state == State.RELAYING && nowNanos - lastActivityNanos >= settings.idleTimeout().toNanos()) {
      idleTimeout();
    } else if (state == State.ENDING && nowNanos - endingSinceNanos >= TcpBackendActor.CLOSE_WAIT.toNanos()) {
      log.debug("tcp {}: {} did not close its side within {} ms; closing", listenerId, describe(),
          TcpBackendActor.CLOSE_WAIT.toMillis());
      closeNow(Outcome.STOPPED);
    }
  }

  /** The back-end did not end its side within the close wait, or the actor stops: both close now. */
  @Override
  public void closeNow(Outcome why) {
    if (state == State.RELAYING || state == State.CONNECTING) {
      end(why);
    }
    if (!clientClosed) {
      reset(client);
    }
    if (backend != null && !backendClosed) {
      backend.close();
    }
  }

  @Override
  public String describe() {
    return (client == null ? "?" : String.valueOf(client.remoteAddress())) + " -> "
        + (backend == null ? "?" : String.valueOf(backend.localAddress())) + " " + state;
  }

  // ---- the client channel -------------------------------------------------------------

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    client = ctx.channel();
    lastActivityNanos = System.nanoTime();
    queue.tell(new QueueActor.Enqueue(this));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf buf = (ByteBuf) msg;
    switch (state) {
      case RELAYING -> {
        if (backendFinQueued) {
          buf.release(); // cannot happen: we pass the client's FIN on only after its last byte
          return;
        }
        bytesUntaken += buf.readableBytes();
        backend.write(buf, backend.voidPromise());
        if (!backend.isWritable()) {
          client.config().setAutoRead(false); // resumed when the back-end drains
        }
      }
      case QUEUED, CONNECTING -> {
        if (early == null) {
          early = new ArrayDeque<>(2);
        }
        early.add(buf);
        earlyBytes += buf.readableBytes();
        if (earlyBytes >= READ_AHEAD_BYTES) {
          client.config().setAutoRead(false); // resumed when the relay starts
        }
      }
      default -> buf.release();
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (state == State.RELAYING) {
      lastActivityNanos = System.nanoTime();
      backend.flush();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      clientInputEnded = true;
      if (state == State.RELAYING) {
        passFinToBackend();
      }
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (state == State.RELAYING && client.isWritable() && !backendInputEnded) {
      ReadResume.resume(backend);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    clientClosed = true;
    releaseEarly();
    if (state == State.RELAYING && !closingClient) {
      if (clientFinSent && !clientFailed) {
        // its FIN after ours: Netty closed it (half-closure off, see shutdownOutput)
        clientInputEnded = true;
        closingClient = true;
        passFinToBackend();
      } else {
        end(Outcome.CLIENT_ABORTED);
      }
    }
    checkDone();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("tcp {}: client {}: {}", listenerId, ctx.channel().remoteAddress(), cause.toString());
    clientFailed = true;
    ctx.close();
  }

  // ---- the back-end channel -----------------------------------------------------------

  /** The back-end connection's handler. */
  private final class BackendSide extends ChannelInboundHandlerAdapter {

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      if (state != State.CONNECTING) {
        ctx.close();
        return;
      }
      events.connected(TcpRelay.this);
      if (clientClosed) {
        state = State.RELAYING;
        end(Outcome.CLIENT_ABORTED); // left while we connected: the back-end sees a FIN
        return;
      }
      start();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      if (state != State.RELAYING || clientFinQueued) {
        buf.release(); // ENDING: read to its end and dropped
        return;
      }
      if (firstByteNanos < 0) {
        firstByteNanos = System.nanoTime() - connectStartNanos; // once per connection
      }
      bytesUntaken += buf.readableBytes();
      client.write(buf, client.voidPromise());
      if (!client.isWritable()) {
        backend.config().setAutoRead(false); // resumed when the client drains
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (state == State.RELAYING) {
        lastActivityNanos = System.nanoTime();
        client.flush();
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) {
        backendInputEnded = true;
        if (state == State.RELAYING) {
          passFinToClient();
          closeBackendIfDone();
        } else if (state == State.ENDING) {
          backend.close(); // it has seen our end and ended its own: the slot can go
        }
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (state == State.RELAYING && backend.isWritable() && !clientInputEnded) {
        ReadResume.resume(client);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("tcp {}: back-end connection of {}: {}", listenerId, client.remoteAddress(), cause.toString());
      backendFailed = true;
      ctx.close();
    }
  }

  // ---- the relay ----------------------------------------------------------------------

  private void onBackendClosed() {
    backendClosed = true;
    if (state == State.RELAYING) {
      if (backendInputEnded || (backendFinSent && !backendFailed)) {
        backendInputEnded = true; // (its FIN after ours: Netty closed it, see shutdownOutput)
        // it ended its side and closed: what it sent is on its way to the client, then its FIN
        passFinToClient();
        closeClientIfDone();
      } else {
        end(Outcome.BACKEND_FAILED);
      }
    }
    checkDone();
  }

  private void start() {
    state = State.RELAYING;
    lastActivityNanos = System.nanoTime();
    if (early != null) {
      ByteBuf buf;
      while ((buf = early.poll()) != null) {
        bytesUntaken += buf.readableBytes();
        backend.write(buf, backend.voidPromise());
      }
      early = null;
      backend.flush();
    }
    if (clientInputEnded) {
      passFinToBackend();
    } else {
      client.config().setAutoRead(backend.isWritable());
    }
    backend.config().setAutoRead(client.isWritable());
  }

  /**
   * Sends the back-end our FIN once everything before it is written: by shutdownOutput while it
   * may still send, by close once it has ended its side (Netty's shutdownOutput builds an
   * exception with a stack trace every time; a close sends the same FIN).
   */
  private void passFinToBackend() {
    if (backendFinQueued || backendClosed) {
      return;
    }
    backendFinQueued = true;
    afterWritten(backend, this::finToBackend);
  }

  private void finToBackend() {
    if (backendInputEnded) {
      backendFinSent = true;
      backend.close(); // it has ended its side: close sends our FIN as shutdown would, for less
      return;
    }
    shutdownOutput(backend, sent -> {
      backendFinSent = sent;
      closeBackendIfDone();
    });
  }

  private void passFinToClient() {
    if (clientFinQueued || clientClosed) {
      return;
    }
    clientFinQueued = true;
    afterWritten(client, this::finToClient);
  }

  private void finToClient() {
    if (clientInputEnded && !closingClient) {
      clientFinSent = true;
      closingClient = true;
      client.close(); // as for the back-end: it has ended its side
      return;
    }
    shutdownOutput(client, sent -> {
      clientFinSent = sent;
      closeClientIfDone();
    });
  }

  /**
   * Runs {@code then} once everything written to {@code ch} so far is out, if {@code ch} is
   * still open then (else its channelInactive or close ends the relay): now when nothing waits
   * in its outbound buffer, the common case for a FIN after a short response, else after an
   * empty write and flush behind what waits.
   */
  private static void afterWritten(Channel ch, Runnable then) {
    ChannelOutboundBuffer pending = ch.unsafe().outboundBuffer();
    if (pending != null && pending.totalPendingWriteBytes() == 0) { // counts unflushed writes too
      if (ch.isActive()) {
        then.run();
      }
      return;
    }
    ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
      if (written.isSuccess() && ch.isActive()) {
        then.run();
      }
    });
  }

  /**
   * Sends {@code ch} a FIN (shuts its output; everything written before is out already) and
   * tells {@code done} whether that worked. On epoll this is the socket's own shutdown: Netty's
   * shutdownOutput builds an exception with a stack trace each time, for the writes it would
   * fail, and there are none here (6% of a short-connection relay's CPU in a profile). Nothing
   * is written to {@code ch} after it.
   *
   * <p>Once the FIN is out, half-closure is off for {@code ch}: its own FIN then ends it, so
   * Netty closes it at once instead of shutting its input, which fails (ENOTCONN) once both FINs
   * are through and costs another such exception. Its channelInactive or close then counts as
   * its FIN unless an error came first ({@code clientFailed}, {@code backendFailed}).
   */
  private static void shutdownOutput(Channel ch, Consumer<Boolean> done) {
    if (ch instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
      boolean sent;
      try {
        socket.shutdown(false, true);
        sent = true;
      } catch (IOException | RuntimeException e) {
        log.debug("shutting the output of {}: {}", ch, e.toString());
        sent = false;
      }
      finSent(ch, sent, done);
    } else {
      ((DuplexChannel) ch).shutdownOutput().addListener(shut -> finSent(ch, shut.isSuccess(), done));
    }
  }

  private static void finSent(Channel ch, boolean sent, Consumer<Boolean> done) {
    if (sent) {
      ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
    }
    done.accept(sent);
  }

  /** The back-end ended its side and has our FIN: done with it. */
  private void closeBackendIfDone() {
    if (backendInputEnded && backendFinSent && !backendClosed) {
      backend.close();
    }
  }

  /** The client ended its side and has the back-end's FIN: done with it. */
  private void closeClientIfDone() {
    if (!clientClosed && !closingClient && (clientInputEnded || backendClosed) && clientFinSent) {
      closingClient = true;
      client.close();
    }
  }

  /** Breaks the relay off; see ENDING in the class comment. */
  private void end(Outcome why) {
    if (state == State.ENDING || state == State.DONE) {
      return;
    }
    state = State.ENDING;
    outcome = why;
    endingSinceNanos = System.nanoTime();
    releaseEarly();
    if (!clientClosed) {
      reset(client);
    }
    if (backend != null && !backendClosed) {
      if (why == Outcome.BACKEND_FAILED || backendInputEnded) {
        backend.close();
      } else {
        ReadResume.resume(backend); // read it to its end, dropping what comes
        passFinToBackend();
      }
    }
  }

  private void checkDone() {
    if (state == State.QUEUED || state == State.CONNECTING || state == State.DONE) {
      return;
    }
    if (clientClosed && (backend == null || backendClosed)) {
      Outcome how = state == State.RELAYING ? Outcome.COMPLETED : outcome;
      state = State.DONE;
      events.finished(this, how, System.nanoTime() - connectStartNanos);
    }
  }

  private void releaseEarly() {
    if (early != null) {
      ByteBuf buf;
      while ((buf = early.poll()) != null) {
        buf.release();
      }
      early = null;
    }
  }

  /** Closes {@code ch} with a reset (SO_LINGER 0): the peer sees RST, not FIN. */
  static void reset(Channel ch) {
    if (ch.isActive()) {
      try {
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
      } catch (RuntimeException e) {
        log.debug("cannot set SO_LINGER on {}: {}", ch, e.toString());
      }
    }
    ch.close();
  }
}
