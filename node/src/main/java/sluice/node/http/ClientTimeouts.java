package sluice.node.http;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The client-side deadlines of one event loop, with one periodic sweep instead of a timer
 * per connection or per request. Each deadline kind has one list of connections, ordered by
 * when they joined it; every member of a list has the same timeout, so the sweep looks only
 * at the front of each list. A connection is on at most one list at a time (its
 * {@code list} field): {@link #idle} between requests, {@link #heads} while a request head
 * arrives, {@link #bodies} while a request body is read before the request is queued,
 * {@link #exchanges} while its request waits for the start of a response (a guard that no
 * client is left hanging), {@link #stalled} while it does not read its response, {@link #lingering} while it closes in
 * stages (after its last response, until the client closes).
 * Only the loop's thread touches the lists.
 */
final class ClientTimeouts {

  /** A list of connections with one timeout, oldest first. */
  final class Timeouts {
    private long timeoutNanos;
    private ClientConnection first;
    private ClientConnection last;

    Timeouts(Duration timeout) {
      this.timeoutNanos = timeout.toNanos();
    }

    /**
     * A reload: every member now has this timeout. They joined in order, so the list stays
     * ordered by when each is due.
     */
    void setTimeout(Duration timeout) {
      this.timeoutNanos = timeout.toNanos();
    }

    void add(ClientConnection c) {
      remove(c);
      c.list = this;
      c.since = System.nanoTime();
      c.prev = last;
      c.next = null;
      if (last == null) {
        first = c;
      } else {
        last.next = c;
      }
      last = c;
    }

    private void unlink(ClientConnection c) {
      if (c.prev == null) {
        first = c.next;
      } else {
        c.prev.next = c.next;
      }
      if (c.next == null) {
        last = c.prev;
      } else {
        c.next.prev = c.prev;
      }
      c.prev = null;
      c.next = null;
      c.list = null;
    }

    /** Removes and returns the oldest connection, or null. */
    private ClientConnection pollFirst() {
      ClientConnection c = first;
      if (c != null) {
        unlink(c);
      }
      return c;
    }

    /** Removes and returns the oldest connection whose time is up, or null. */
    private ClientConnection pollDue(long now) {
      ClientConnection c = first;
      if (c == null || now - c.since < timeoutNanos) {
        return null;
      }
      unlink(c);
      return c;
    }
  }

  /** How long a connection closing in stages waits for the client's own close before it closes. */
  static final Duration LINGER = Duration.ofSeconds(2);

  final Timeouts idle;
  final Timeouts heads;
  final Timeouts bodies;
  final Timeouts exchanges;
  final Timeouts stalled;
  /** Connections that sent their last response and a FIN, reading what the client still sends. */
  final Timeouts lingering;
  /** The node is stopping: responses close their connection, idle ones are closed. */
  boolean draining;
  private ScheduledFuture<?> sweep;
  private EventLoop loop;
  private long sweepEveryNanos;

  /**
   * @param exchangeGuard the longest an exchange may wait for the start of its response
   *                      (queue timeout, connects, retries and response timeouts with room
   *                      to spare); past it the client gets 503 and the connection closes
   */
  ClientTimeouts(Duration idleTimeout, Duration headDeadline, Duration bodyDeadline, Duration exchangeGuard) {
    this.idle = new Timeouts(idleTimeout);
    this.heads = new Timeouts(headDeadline);
    this.bodies = new Timeouts(bodyDeadline);
    this.exchanges = new Timeouts(exchangeGuard);
    this.stalled = new Timeouts(idleTimeout);
    this.lingering = new Timeouts(LINGER);
  }

  void start(EventLoop loop, Duration every) {
    this.loop = loop;
    this.sweepEveryNanos = every.toNanos();
    sweep = loop.scheduleAtFixedRate(this::sweep, sweepEveryNanos, sweepEveryNanos, TimeUnit.NANOSECONDS);
  }

  /**
   * A reload changed the client timeouts: they apply to every connection on this loop at the
   * next sweep, counted from when each joined its list. Call on the loop's thread.
   */
  void retime(Duration idleTimeout, Duration headDeadline, Duration bodyDeadline, Duration exchangeGuard,
      Duration every) {
    idle.setTimeout(idleTimeout);
    stalled.setTimeout(idleTimeout);
    heads.setTimeout(headDeadline);
    bodies.setTimeout(bodyDeadline);
    exchanges.setTimeout(exchangeGuard);
    if (sweep != null && every.toNanos() != sweepEveryNanos && !sweep.isCancelled()) {
      sweep.cancel(false);
      start(loop, every);
    }
  }

  void stop() {
    if (sweep != null) {
      sweep.cancel(false);
    }
  }

  /** The node stops: connections between requests close now, the others after their response. */
  void drain() {
    draining = true;
    ClientConnection c;
    while ((c = idle.pollFirst()) != null) {
      c.closeForDrain();
    }
  }

  void remove(ClientConnection c) {
    if (c.list != null) {
      c.list.unlink(c);
    }
  }

  private void sweep() {
    long now = System.nanoTime();
    ClientConnection c;
    while ((c = heads.pollDue(now)) != null) {
      c.headDeadlinePassed();
    }
    while ((c = bodies.pollDue(now)) != null) {
      c.bodyDeadlinePassed();
    }
    while ((c = idle.pollDue(now)) != null) {
      c.idleTimeoutPassed();
    }
    while ((c = stalled.pollDue(now)) != null) {
      c.idleTimeoutPassed();
    }
    while ((c = exchanges.pollDue(now)) != null) {
      c.exchangeGuardPassed();
    }
    while ((c = lingering.pollDue(now)) != null) {
      c.lingerPassed();
    }
  }
}
