package sluice.node.backend;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import sluice.node.http.BackendConnection;
import sluice.node.http.Exchange;
import sluice.node.loop.EventLoops;
import sluice.node.loop.SweepPeriod;
import sluice.node.metrics.LatencyBuckets;
import sluice.node.queue.QueueActor;
import sluice.node.queue.QueueLink;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.ConnectionSettings;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.LeaseProtocol.Demand;
import sluice.protocol.LeaseProtocol.Lease;

/**
 * This node's side of one back-end, on one event loop: its persistent connections, the
 * one-request-per-connection rule, the slots its lease allows, down detection with
 * backoff, retries on a fresh connection, 502 and 504, and the samples for the back-end's
 * controller. It takes work from its pool's {@link QueueActor} within the capacity it
 * announces, and holds its lease from the back-end's entity ({@link LeaseState}).
 *
 * <p>Invariants: connections not CLOSED never outnumber the usable slots, except while the
 * grant has just dropped and busy ones finish their request (only idle ones are closed); a
 * connection given up is half-closed and holds its slot until the back-end has closed its
 * side too (at most {@link #CLOSE_WAIT}), so that a slot moving to another loop or node never
 * lets the back-end see one connection more than the limit; a
 * connection carries at most one request; busy + pending (connections opening for a request)
 * never exceed the usable slots when a request is taken, and busy never exceeds them when a
 * request is sent (one whose connection came up after the lease lapsed or shrank goes back to
 * the queue unsent). Every request taken ends here in
 * exactly one of: served, 502, 504, aborted by its client; or goes back to the queue unsent.
 *
 * <p>A reload may change it while it runs: {@link Reconfigure} gives new settings (the limit
 * spec goes out with the next demand; timeouts apply at once; buffering and the load header to
 * connections opened from then on). {@link Retire} (its back-end or pool was removed) makes it
 * leave its queue: it takes nothing new (what the queue sent on the way goes back unsent), lets
 * what is in flight finish, closes each connection as it goes idle, and stops once none is
 * left, giving its slots back. Its latest settings and whether it retires live in a
 * {@link Current} that its factory reads too, so that a restart after a bug keeps them.
 */
public final class BackendActor extends AbstractBehavior<BackendActor.Command> {

  /** How long a half-closed connection may wait for the back-end to close its side before we close it. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(1);

  /** Local to the node's event loop: never crosses nodes. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  public record GetStatus(ActorRef<Status> replyTo) implements Command {}

  /** A reload changed the back-end (its limit spec) or its pool's connections or load header. */
  public record Reconfigure(BackendSettings backend, ConnectionSettings settings, CharSequence loadHeader)
      implements Command {}

  /** A reload removed the back-end or its pool: finish what is in flight, then stop. */
  public enum Retire implements Command { INSTANCE }

  /**
   * The actor's latest settings, outside it so that a restart after a bug starts from them (and
   * a retiring actor goes on retiring). Touched on the actor's thread only.
   */
  public static final class Current {
    BackendSettings backend;
    ConnectionSettings settings;
    CharSequence loadHeader;
    boolean retiring;

    public Current(BackendSettings backend, ConnectionSettings settings, CharSequence loadHeader) {
      this.backend = backend;
      this.settings = settings;
      this.loadHeader = loadHeader;
    }
  }

  /** This node's view of the back-end, on this loop. */
  public record Status(String id, boolean up, int limit, int granted, int inFlight, int connections, long served,
      long badGateway, long gatewayTimeout, long clientAborted, double ratePerSecond, double p99Millis,
      String limitReason, boolean leaseValid) implements NoSerializationVerificationNeeded {}

  /** For /metrics: the status, and the response times and queue waits since start. */
  public record GetMetrics(ActorRef<Metrics> replyTo) implements Command {}

  /**
   * @param responseTimes time to the response's head of every response served on this loop
   * @param queueWaits    time from joining the pool's queue to being taken here, of every
   *                      request taken (once each, unless it went back to the queue unsent)
   */
  public record Metrics(Status status, LatencyBuckets.Snapshot responseTimes, LatencyBuckets.Snapshot queueWaits)
      implements NoSerializationVerificationNeeded {}

  private record FromQueue(QueueActor.ToBackend message) implements Command {}

  private record Connected(BackendConnection connection) implements Command {}

  private record ConnectFailed(BackendConnection connection, Throwable cause) implements Command {}

  private record ResponseDone(BackendConnection connection, Exchange exchange, int status, long rttNanos,
      CharSequence reportedLoad) implements Command {}

  private record Closed(BackendConnection connection, Throwable cause) implements Command {}

  private record LeaseReceived(Lease lease) implements Command {}

  private enum Tick implements Command { REPORT, TIMEOUTS, IDLE, STATUS, RETRY_CONNECT }

  private final Current current;
  private BackendSettings backend;
  private ConnectionSettings settings;
  private final String nodeId;
  private final QueueLink queue;
  private final EntityRef<LeaseProtocol.Command> entity;
  private final ActorRef<Lease> leaseInbox;
  private final TimerScheduler<Command> timers;
  private final Bootstrap bootstrap;
  private final InetSocketAddress address;
  private long bufferUpTo;
  private CharSequence loadHeader;
  private final BackendConnection.Events events;
  private final LeaseState lease = new LeaseState(System::nanoTime);
  private final BackendSamples samples;

  private final List<BackendConnection> connections = new ArrayList<>();
  private final ArrayDeque<BackendConnection> idle = new ArrayDeque<>();
  private int busy;
  /** Connections opening with a request to send once up. */
  private int pending;
  /** Connections half-closed by us, waiting for the back-end's end. */
  private int closing;
  private long nextConnectionId;

  private int backlog;

  /**
   * False while the back-end is known down: from a connection attempt that failed (refused,
   * reset, or not made within connect-timeout) until one succeeds. True before the first
   * attempt (start-up: not known down) and whatever the lease says (a lapsed lease stops new
   * work but is not the back-end's fault). The queue refuses work while all of a pool's are false.
   */
  private boolean up = true;
  /** Leaving the pool (a reload removed it): nothing new, stops once no connection is left. */
  private boolean retiring;
  private long downSinceNanos;
  private int failedConnects;
  private boolean retryScheduled;
  private boolean demandPending;
  private long lastStatusNanos = System.nanoTime();

  private long served;
  private long badGateway;
  private long gatewayTimeout;
  private long clientAborted;
  private final LatencyBuckets responseTimes = new LatencyBuckets();
  private final LatencyBuckets queueWaits = new LatencyBuckets();

  private BackendActor(ActorContext<Command> context, TimerScheduler<Command> timers, Current current,
      String nodeId, ActorRef<QueueActor.Command> queue,
      EntityRef<LeaseProtocol.Command> entity, EventLoop loop, Class<? extends Channel> channelType,
      InetSocketAddress address, Duration reportInterval, Duration statusInterval) {
    super(context);
    context.setLoggerName(BackendActor.class);
    this.current = current;
    this.backend = current.backend;
    this.settings = current.settings;
    this.nodeId = nodeId;
    this.entity = entity;
    this.timers = timers;
    this.address = address;
    this.bufferUpTo = settings.bufferResponsesUpTo();
    this.loadHeader = current.loadHeader;
    this.samples = new BackendSamples(backend.id(), System.nanoTime());
    this.queue = new QueueLink(queue, context.messageAdapter(QueueActor.ToBackend.class, FromQueue::new),
        backend.id());
    ActorRef<Command> self = context.getSelf();
    this.leaseInbox = context.spawn(Behaviors.<Lease>receiveMessage(received -> {
      self.tell(new LeaseReceived(received));
      return Behaviors.same();
    }), "lease-inbox", Props.empty().withDispatcherSameAsParent());
    this.events = new BackendConnection.Events() {
      @Override
      public void connected(BackendConnection c) {
        self.tell(new Connected(c));
      }

      @Override
      public void connectFailed(BackendConnection c, Throwable cause) {
        self.tell(new ConnectFailed(c, cause));
      }

      @Override
      public void responseDone(BackendConnection c, Exchange e, int status, long rttNanos, CharSequence load) {
        self.tell(new ResponseDone(c, e, status, rttNanos, load));
      }

      @Override
      public void closed(BackendConnection c, Throwable cause) {
        self.tell(new Closed(c, cause));
      }
    };
    this.bootstrap = EventLoops.channelFor(EventLoops.noDelay(new Bootstrap()), channelType, address)
        .group(loop)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
            settings.connectTimeout().toMillis()));
    timers.startTimerWithFixedDelay(Tick.REPORT, reportInterval);
    startSweeps();
    timers.startTimerWithFixedDelay(Tick.STATUS, statusInterval.isZero() ? Duration.ofSeconds(1) : statusInterval);
    sendDemand();
    if (current.retiring) {
      context.getSelf().tell(Retire.INSTANCE); // restarted while it retired: it goes on retiring
    } else {
      tellCapacity(true);
    }
  }

  private void startSweeps() {
    timers.startTimerWithFixedDelay(Tick.TIMEOUTS,
        SweepPeriod.of(settings.responseTimeout(), 10, Duration.ofMillis(10), Duration.ofMillis(500)));
    timers.startTimerWithFixedDelay(Tick.IDLE,
        SweepPeriod.of(settings.idleTimeout(), 4, Duration.ofMillis(50), Duration.ofSeconds(1)));
  }

  /**
   * @param loop        the event loop this actor runs on (its connections are opened there)
   * @param address     the back-end's address, resolved
   * @param loadHeader  the response field in which the back-end reports its load, or null
   */
  public static Behavior<Command> create(BackendSettings backend, ConnectionSettings settings,
      CharSequence loadHeader, String nodeId, ActorRef<QueueActor.Command> queue,
      EntityRef<LeaseProtocol.Command> entity, EventLoop loop, Class<? extends Channel> channelType,
      InetSocketAddress address, Duration reportInterval, Duration statusInterval) {
    Current current = new Current(backend, settings, loadHeader);
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> new BackendActor(context, timers, current,
        nodeId, queue, entity, loop, channelType, address, reportInterval, statusInterval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FromQueue.class, this::onFromQueue)
        .onMessage(ResponseDone.class, this::onResponseDone)
        .onMessage(Connected.class, this::onConnected)
        .onMessage(Closed.class, this::onClosed)
        .onMessage(ConnectFailed.class, this::onConnectFailed)
        .onMessage(LeaseReceived.class, this::onLease)
        .onMessageEquals(Tick.REPORT, this::onReportTick)
        .onMessageEquals(Tick.TIMEOUTS, this::onTimeoutTick)
        .onMessageEquals(Tick.IDLE, this::onIdleTick)
        .onMessageEquals(Tick.STATUS, this::onStatusTick)
        .onMessageEquals(Tick.RETRY_CONNECT, this::onRetryConnect)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(GetMetrics.class, this::onGetMetrics)
        .onMessage(Reconfigure.class, this::onReconfigure)
        .onMessageEquals(Retire.INSTANCE, this::onRetire)
        .onSignal(PreRestart.class, signal -> stopConnections("the back-end's actor restarted after an internal error"))
        .onSignal(PostStop.class, signal -> {
          stopConnections("the node is stopping");
          // nothing held any more: the slots go back to the entity now, not at the lease's end
          entity.tell(new LeaseProtocol.Release(backend.id(), leaseInbox));
          return this;
        })
        .build();
  }

  // ---- work from the queue ------------------------------------------------------------

  private Behavior<Command> onFromQueue(FromQueue message) {
    if (message.message() instanceof QueueActor.Assign assign) {
      onAssign(assign);
    } else if (message.message() instanceof QueueActor.Backlog backlog) {
      onBacklog(backlog);
    }
    return next();
  }

  private void onAssign(QueueActor.Assign assign) {
    queue.assigned(assign);
    Exchange e = (Exchange) assign.work();
    if (retiring) {
      queue.giveBack(e); // sent before the queue heard this actor leave: another back-end takes it
      return;
    }
    if (e.abandoned() || !take(e)) {
      tellCapacity(true); // first the lower capacity, so that the item does not come straight back
      queue.giveBack(e);
      return;
    }
    long now = System.nanoTime();
    e.taken(now); // the access log's queue time: the same span as the queue-wait histogram
    queueWaits.record(now - e.enqueuedNanos());
    tellCapacity(false);
  }

  /** Puts {@code e} on a connection if a slot allows. */
  private boolean take(Exchange e) {
    if (!up || busy + pending >= lease.usable()) {
      return false;
    }
    BackendConnection c;
    while ((c = idle.peekLast()) != null) { // the most recently used: keeps the fewest connections warm
      if (c.isOpen()) {
        idle.pollLast();
        dispatch(c, e);
        return true;
      }
      remove(c); // closed by the back-end; its Closed event is on its way and will find it gone
    }
    for (BackendConnection opening : connections) {
      if (opening.state == BackendConnection.State.CONNECTING && opening.pending == null) {
        opening.pending = e;
        pending++;
        return true;
      }
    }
    if (connections.size() < lease.usable()) {
      open(e);
      return true;
    }
    return false;
  }

  private void dispatch(BackendConnection c, Exchange e) {
    c.state = BackendConnection.State.BUSY;
    busy++;
    samples.dispatched(busy);
    c.send(e);
  }

  private void onBacklog(QueueActor.Backlog message) {
    if (retiring) {
      return;
    }
    backlog = queue.backlog(message);
    if (backlog > 0 && up && !demandPending && lease.granted() < lease.limit()) {
      demandPending = true; // work waits and the limit has room: ask the entity now
      sendDemand();
    }
    tellCapacity(false);
  }

  // ---- connections --------------------------------------------------------------------

  private void open(Exchange forRequest) {
    BackendConnection c = new BackendConnection(++nextConnectionId, backend.id(), events, bufferUpTo, loadHeader);
    c.pending = forRequest;
    if (forRequest != null) {
      pending++;
    }
    connections.add(c);
    ChannelFuture connect = bootstrap.clone().handler(new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        c.install(ch);
      }
    }).connect(address);
    connect.addListener(done -> {
      if (!done.isSuccess()) {
        events.connectFailed(c, done.cause());
      }
    });
  }

  private Behavior<Command> onConnected(Connected event) {
    BackendConnection c = event.connection();
    if (c.state != BackendConnection.State.CONNECTING) {
      return this;
    }
    markUp();
    Exchange e = c.pending;
    c.pending = null;
    if (e != null) {
      pending--;
      if (e.abandoned()) {
        queue.giveBack(e); // the queue counts it as dropped unserved
        makeIdle(c);
      } else if (busy >= lease.usable()) {
        // the lease lapsed or shrank while the connection opened (a connect may take up to
        // connect-timeout, longer than a lease): sending now would go beyond it, and a lapsed
        // lease's slots may already be another node's. Unsent, it goes back to the queue.
        makeIdle(c);
        closeIdleAboveGrant();
        tellCapacity(true); // first the lower capacity, so that the item does not come straight back
        queue.giveBack(e);
        return next();
      } else {
        dispatch(c, e);
      }
    } else {
      makeIdle(c);
    }
    closeIdleAboveGrant();
    tellCapacity(false);
    return next();
  }

  private Behavior<Command> onConnectFailed(ConnectFailed event) {
    BackendConnection c = event.connection();
    if (c.state != BackendConnection.State.CONNECTING) {
      return this;
    }
    Exchange e = c.pending;
    remove(c);
    markDown(event.cause());
    tellCapacity(true); // first that it is down: the queue then knows whether any back-end of the pool is up
    if (e != null) {
      // never sent: another back-end, or this one once up again, takes it; or the queue answers
      // 503 if none of the pool's back-ends is up
      queue.giveBack(e);
    }
    return next();
  }

  private void markDown(Throwable cause) {
    failedConnects++;
    if (up) {
      up = false;
      downSinceNanos = System.nanoTime();
      getContext().getLog().warn("backend {}: down, cannot connect: {}", backend.id(), describe(cause));
    }
    scheduleRetry();
  }

  private void scheduleRetry() {
    if (retryScheduled) {
      return;
    }
    retryScheduled = true;
    long min = settings.downBackoffMin().toNanos();
    long wait = Math.min(settings.downBackoffMax().toNanos(), min << Math.min(20, Math.max(0, failedConnects - 1)));
    timers.startSingleTimer(Tick.RETRY_CONNECT, Duration.ofNanos(wait));
  }

  private Behavior<Command> onRetryConnect() {
    retryScheduled = false;
    if (!up && !retiring) {
      if (lease.usable() > 0 && connections.size() < lease.usable()) {
        open(null); // a probe: if it connects, the back-end is up again
      } else {
        scheduleRetry();
      }
    }
    return this;
  }

  private void markUp() {
    if (!up) {
      getContext().getLog().info("backend {}: up again after {} ms", backend.id(),
          (System.nanoTime() - downSinceNanos) / 1_000_000);
      up = true;
    }
    failedConnects = 0;
  }

  private Behavior<Command> onResponseDone(ResponseDone done) {
    BackendConnection c = done.connection();
    if (c.state != BackendConnection.State.BUSY) {
      return this;
    }
    served++;
    responseTimes.record(done.rttNanos());
    samples.response(done.status(), done.rttNanos());
    if (done.reportedLoad() != null) {
      recordReportedLoad(done.reportedLoad());
    }
    c.served++;
    if (c.closeAfter()) {
      retire(c, false);
    } else if (live() > lease.usable()) {
      retire(c, true); // the entity hears when the back-end has seen it close
    } else {
      busy--;
      makeIdle(c);
    }
    tellCapacity(false);
    return next();
  }

  private void recordReportedLoad(CharSequence value) {
    try {
      samples.reportedLoad(Double.parseDouble(value.toString().trim()));
    } catch (NumberFormatException notANumber) {
      getContext().getLog().debug("backend {}: reported load is not a number: '{}'", backend.id(), value);
    }
  }

  private Behavior<Command> onClosed(Closed event) {
    BackendConnection c = event.connection();
    BackendConnection.State was = c.state;
    if (was == BackendConnection.State.CLOSED) {
      return this; // closed by us, its request already dealt with
    }
    if (was == BackendConnection.State.CLOSING) {
      remove(c); // the back-end has seen it end: the slot is free
      if (c.givesSlotBack) {
        sendDemand(); // tell the entity the slot is back as soon as it is
      } else {
        openPreOpened();
      }
      tellCapacity(true);
      return next();
    }
    if (was == BackendConnection.State.CONNECTING) {
      // up and down before its Connected was handled: as a failed connect
      Exchange e = c.pending;
      remove(c);
      if (e != null) {
        queue.giveBack(e);
      }
      tellCapacity(true);
      return next();
    }
    Exchange e = c.takeExchange();
    remove(c);
    if (e != null) {
      requestLost(c, e, event);
    } else {
      getContext().getLog().debug("backend {}: idle connection {} closed", backend.id(), c);
    }
    openPreOpened(); // replace it, if it was one of the pre-opened
    tellCapacity(true);
    return next();
  }

  /** The connection under {@code e} closed before its response ended. */
  private void requestLost(BackendConnection c, Exchange e, Closed event) {
    if (c.clientAborted()) {
      clientAborted++;
      return;
    }
    // a reused connection may have been closed by the back-end while idle, before it saw this
    // request: send it again on a new connection. A new connection that fails is the request's
    // own failure: only an idempotent request is tried again.
    boolean again = !c.responseStarted() && e.replayable()
        && ((c.served > 0 && e.attempts() < 3) || (e.idempotent() && e.attempts() < 2));
    if (again && up && busy + pending < lease.usable()) {
      getContext().getLog().debug("backend {}: {} closed before answering, sending the request again", backend.id(), c);
      open(e);
      return;
    }
    badGateway++;
    samples.dropped(c.sinceSentNanos(System.nanoTime()));
    String what = c.responseStarted() ? "cut the response off" : "closed the connection before responding";
    getContext().getLog().warn("backend {}: {} on {} ({}; attempt {}, {} earlier on that connection)", backend.id(),
        what, c, describe(event.cause()), e.attempts(), c.served);
    String why = "back-end " + backend.id() + " " + what;
    e.fail(HttpResponseStatus.BAD_GATEWAY, why, false);
  }

  /** Answers 504 for every request whose response has not begun within the response timeout. */
  private Behavior<Command> onTimeoutTick() {
    long now = System.nanoTime();
    long timeoutNanos = settings.responseTimeout().toNanos();
    List<BackendConnection> late = null;
    for (BackendConnection c : connections) {
      if (c.waitingNanos(now) >= timeoutNanos) {
        if (late == null) {
          late = new ArrayList<>();
        }
        late.add(c);
      }
    }
    if (late == null) {
      return this;
    }
    for (BackendConnection c : late) {
      Exchange e = c.takeExchange();
      remove(c);
      c.close();
      gatewayTimeout++;
      samples.dropped(timeoutNanos);
      long millis = settings.responseTimeout().toMillis();
      getContext().getLog().warn("backend {}: no response within {} ms on {}", backend.id(), millis, c);
      e.fail(HttpResponseStatus.GATEWAY_TIMEOUT, "back-end " + backend.id() + " sent no response within "
          + millis + " ms", false);
    }
    tellCapacity(true);
    return next();
  }

  private Behavior<Command> onIdleTick() {
    long now = System.nanoTime();
    long idleNanos = settings.idleTimeout().toNanos();
    int preOpen = settings.preOpen();
    while (!idle.isEmpty() && live() > preOpen && now - idle.peekFirst().idleSinceNanos >= idleNanos) {
      BackendConnection c = idle.peekFirst();
      getContext().getLog().debug("backend {}: closing idle connection {}", backend.id(), c);
      retire(c, false);
    }
    if (closing > 0) {
      long waitNanos = CLOSE_WAIT.toNanos();
      for (BackendConnection c : connections) {
        if (c.state == BackendConnection.State.CLOSING && now - c.closingSinceNanos >= waitNanos) {
          getContext().getLog().debug("backend {}: {} did not close its side within {} ms; closing",
              backend.id(), c, CLOSE_WAIT.toMillis());
          c.close(); // its Closed event frees the slot
        }
      }
    }
    return next();
  }

  private void makeIdle(BackendConnection c) {
    c.state = BackendConnection.State.IDLE;
    c.idleSinceNanos = System.nanoTime();
    idle.addLast(c);
    if (retiring) {
      retire(c, false); // leaving the pool: a connection that goes idle closes
    }
  }

  /**
   * Ends {@code c}, which has nothing on it (any more: a finished request still counts it
   * BUSY): our side is shut and the connection keeps its slot until the back-end has closed.
   * With {@code givesSlotBack} (the grant shrank) the entity hears as soon as the slot is free.
   */
  private void retire(BackendConnection c, boolean givesSlotBack) {
    switch (c.state) {
      case IDLE -> idle.remove(c);
      case BUSY -> busy--;
      default -> throw new IllegalStateException("backend " + backend.id() + ": retiring " + c + " in state " + c.state);
    }
    c.state = BackendConnection.State.CLOSING;
    c.closingSinceNanos = System.nanoTime();
    c.givesSlotBack = givesSlotBack;
    closing++;
    c.shutdownOutput();
  }

  /** Connections that can carry a request, now or once opened: all but the closing ones. */
  private int live() {
    return connections.size() - closing;
  }

  /** Forgets {@code c} in whatever state it was, keeping the counts right. */
  private void remove(BackendConnection c) {
    switch (c.state) {
      case IDLE -> idle.remove(c);
      case BUSY -> busy--;
      case CONNECTING -> {
        if (c.pending != null) {
          pending--;
          c.pending = null;
        }
      }
      case CLOSING -> closing--;
      case CLOSED -> {
        return;
      }
    }
    c.state = BackendConnection.State.CLOSED;
    connections.remove(c);
    if (busy < 0 || pending < 0 || closing < 0) {
      throw new IllegalStateException("backend " + backend.id() + ": busy " + busy + ", pending " + pending
          + ", closing " + closing
          + " after removing " + c);
    }
  }

  private void closeIdleAboveGrant() {
    while (live() > lease.usable() && !idle.isEmpty()) {
      retire(idle.peekFirst(), true); // the entity hears when the back-end has seen it close
    }
  }

  private void openPreOpened() {
    if (retiring) {
      return;
    }
    int target = Math.min(settings.preOpen(), lease.usable());
    while (up && connections.size() < target) {
      open(null);
    }
  }

  // ---- a reload -----------------------------------------------------------------------

  private Behavior<Command> onReconfigure(Reconfigure r) {
    if (!r.backend().id().equals(backend.id())) {
      throw new IllegalArgumentException("backend " + backend.id() + ": reconfigured as " + r.backend().id());
    }
    boolean specChanged = !r.backend().limit().equals(backend.limit());
    boolean sweepsChanged = !r.settings().responseTimeout().equals(settings.responseTimeout())
        || !r.settings().idleTimeout().equals(settings.idleTimeout());
    current.backend = r.backend();
    current.settings = r.settings();
    current.loadHeader = r.loadHeader();
    backend = r.backend();
    settings = r.settings();
    loadHeader = r.loadHeader();
    bufferUpTo = settings.bufferResponsesUpTo();
    bootstrap.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
        settings.connectTimeout().toMillis()));
    if (sweepsChanged) {
      startSweeps();
    }
    if (specChanged) {
      sendDemand(); // the entity hears the new spec now, not at the next report
    }
    openPreOpened();
    closeIdleAboveGrant();
    tellCapacity(true);
    return next();
  }

  private Behavior<Command> onRetire() {
    if (!retiring) {
      retiring = true;
      current.retiring = true;
      backlog = 0;
      queue.leave();
      getContext().getLog().debug("backend {}: leaving its pool: {} in flight finish, {} connections close",
          backend.id(), busy + pending, connections.size());
      for (BackendConnection c : List.copyOf(idle)) {
        retire(c, false);
      }
      sendDemand(); // wants only what is in flight now
    }
    return next();
  }

  /** This actor, or stopped once a retiring actor has no connection left (its slots go back in PostStop). */
  private Behavior<Command> next() {
    if (retiring && connections.isEmpty()) {
      getContext().getLog().debug("backend {}: left its pool; no connection left", backend.id());
      return Behaviors.stopped();
    }
    return this;
  }

  // ---- lease and reports --------------------------------------------------------------

  private Behavior<Command> onLease(LeaseReceived received) {
    Lease l = received.lease();
    int before = lease.usable();
    if (lease.apply(l)) {
      demandPending = false;
      if (lease.usable() != before) {
        getContext().getLog().debug("backend {}: lease of {} slots (limit {}, epoch {})", backend.id(),
            lease.granted(), lease.limit(), lease.epoch());
      }
      closeIdleAboveGrant();
      openPreOpened();
      tellCapacity(false);
    }
    return next();
  }

  /**
   * Reports what this actor needs (in flight and waiting; while the back-end is down at
   * least the one slot its probe needs, since its queue then refuses work instead of holding
   * it), the slots it would keep for its pre-opened connections while nobody needs them, and
   * what it holds: also the lease's renewal.
   */
  private void sendDemand() {
    int wanted = busy + pending + backlog;
    if (!up) {
      wanted = Math.max(1, wanted);
    }
    entity.tell(new Demand(backend.id(), backend.limit(), wanted, settings.preOpen(),
        connections.size(), lease.usable(), lease.epoch(), lease.seq(), System.nanoTime(), leaseInbox));
  }

  private Behavior<Command> onReportTick() {
    long now = System.nanoTime();
    sendDemand();
    entity.tell(samples.drain(nodeId, busy, backlog, now));
    if (!lease.valid() && connections.size() > 0) {
      closeIdleAboveGrant(); // the lease lapsed: start nothing new, keep nothing idle
    }
    tellCapacity(true);
    return this;
  }

  /** Tells the queue what this actor can take now, when that differs from what it believes. */
  private void tellCapacity(boolean force) {
    if (retiring) {
      return; // it left the queue
    }
    int slots = lease.usable();
    int free = up ? Math.max(0, slots - busy - pending - closing) : 0;
    queue.tellCapacity(force, free, busy + pending, slots, up);
  }

  private Behavior<Command> onStatusTick() {
    long now = System.nanoTime();
    samples.rollInterval((now - lastStatusNanos) / 1e9);
    lastStatusNanos = now;
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus get) {
    get.replyTo().tell(status());
    return this;
  }

  private Behavior<Command> onGetMetrics(GetMetrics get) {
    get.replyTo().tell(new Metrics(status(), responseTimes.snapshot(), queueWaits.snapshot()));
    return this;
  }

  private Status status() {
    return new Status(backend.id(), up, lease.limit(), lease.granted(), busy, connections.size(),
        served, badGateway, gatewayTimeout, clientAborted, samples.lastIntervalRate(),
        samples.lastIntervalP99Millis(), lease.reason(), lease.valid());
  }

  /** Ends every request on this actor's connections and closes them: nothing is left hanging. */
  private Behavior<Command> stopConnections(String why) {
    for (BackendConnection c : List.copyOf(connections)) {
      Exchange e = c.state == BackendConnection.State.BUSY ? c.takeExchange() : c.pending;
      boolean sent = c.state == BackendConnection.State.BUSY;
      remove(c);
      c.close();
      if (e != null) {
        if (sent) {
          badGateway++;
          e.fail(HttpResponseStatus.BAD_GATEWAY, "back-end " + backend.id() + ": " + why, false);
        } else {
          queue.giveBack(e);
        }
      }
    }
    return this;
  }

  private static String describe(Throwable t) {
    if (t == null) {
      return "closed";
    }
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getClass().getSimpleName() + ": " + root.getMessage();
  }

}
