package sluice.node.tcp;

import io.netty.bootstrap.Bootstrap;
import java.net.InetSocketAddress;
import sluice.node.queue.Work;
import sluice.node.settings.ConnectionSettings;

/**
 * One client connection of a TCP pool as the L4 back-end actor ({@link TcpBackendActor}) sees
 * it: queued work that, once the actor holds a slot for it, is connected to one back-end and
 * holds that slot until it has finished. Two kinds: a {@link TcpRelay} (a socket accepted by a
 * {@link TcpListener}, relayed byte for byte over a back-end socket of its own) and a pcap
 * ingress flow (packets captured at layer 2, forwarded with their addresses rewritten).
 *
 * <p>The actor calls these methods on its event loop; an implementation whose events come from
 * another thread (the pcap capture) is thread-safe. {@link Events} may be called from any
 * thread: the actor's implementation only sends itself a message.
 */
public interface L4Connection extends Work {

  /** What the back-end actor hears of a connection it holds a slot for. */
  interface Events {
    /** The back-end accepted the connection; bytes flow. */
    void connected(L4Connection connection);

    /** The back-end could not be reached; the connection is queued work again and goes back to the queue. */
    void connectFailed(L4Connection connection, Throwable cause);

    /** Both ends are done; the slot is free. {@code lifetimeNanos} runs from the connect. */
    void finished(L4Connection connection, Outcome outcome, long lifetimeNanos);
  }

  /** How a connection ended. */
  enum Outcome {
    /** Both sides sent FIN (or the back-end ended its side and closed). */
    COMPLETED,
    /** The back-end reset or closed the connection before sending FIN. */
    BACKEND_FAILED,
    /** The client reset or closed before the back-end had ended its side. */
    CLIENT_ABORTED,
    /** No byte either way for the idle timeout. */
    IDLE_TIMEOUT,
    /** The node or the back-end actor stopped. */
    STOPPED
  }

  /**
   * Connects to the back-end (the caller holds a slot for it): {@code bootstrap} opens a socket
   * on the actor's loop for a relay; a pcap flow forwards its held SYN instead and ignores it.
   */
  void connect(Bootstrap bootstrap, InetSocketAddress backend, Events events);

  /**
   * The actor's periodic sweep (every {@code idle-timeout / 4}, at most 1 s): ends a connection
   * idle for {@code idle-timeout}, and whatever else waits too long (a back-end that does not
   * end its side after we broke the connection off; a pcap SYN the back-end does not answer
   * within {@code connect-timeout}).
   */
  void sweep(long nowNanos, ConnectionSettings settings);

  /** The node or the actor stops: both ends are closed now (the client sees a reset). */
  void closeNow(Outcome why);

  /**
   * Bytes relayed both ways since the last call, for the report window the actor is filling
   * (a long-lived connection counts in every window it moves bytes in); 0 for a kind that does
   * not count them (a pcap flow).
   */
  default long takeRelayedBytes() {
    return 0;
  }

  /**
   * Once the back-end has sent its first byte: the nanoseconds from the connect to it, returned
   * by the first call after that byte only; otherwise -1 (also for a pcap flow).
   */
  default long takeFirstByteNanos() {
    return -1;
  }

  /** For logs: the client, the back-end side, the state. */
  String describe();
}
