package sluice.node.pool;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;
import sluice.backend.BackendEntity;
import sluice.node.backend.LeaseState;
import sluice.node.http.Forwarding;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.Balance;
import sluice.node.settings.PoolSettings;
import sluice.protocol.LeaseProtocol.Demand;
import sluice.protocol.LeaseProtocol.Lease;

/**
 * One pool's FIFO on this node, and this node's connections to the pool's back-ends.
 *
 * <p>A request the pool accepted is in exactly one place: the queue ({@link #queue}), or a
 * back-end connection ({@link BackendConnection#current}); it leaves through
 * {@link #finish}, which completes its reply once. The head of the queue goes to a back-end
 * with an idle connection and a free slot (round-robin or least-outstanding). Connections
 * open on demand up to the slots the back-end's entity granted, close when idle too long
 * or when the grant shrinks, and are replaced when the back-end closes them.
 */
public final class PoolQueue extends AbstractBehavior<PoolQueue.Command> {

  /** Local to the node: requests and responses never cross nodes. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  /**
   * A client request, already rewritten for the back-end; the pool completes {@code reply}.
   * {@code clientGone} turns true when the client's connection closes: a request still
   * waiting then is dropped from the queue rather than sent to a back-end.
   */
  public record Enqueue(org.apache.pekko.http.javadsl.model.HttpRequest request,
      CompletableFuture<HttpResponse> reply, BooleanSupplier clientGone) implements Command {}

  public record GetStatus(ActorRef<PoolStatus> replyTo) implements Command {}

  record LeaseReceived(Lease lease) implements Command {}

  private record Connected(BackendConnection connection) implements Command {}

  private record ConnectFailed(BackendConnection connection, Throwable cause) implements Command {}

  private record ResponseArrived(BackendConnection connection, HttpResponse response) implements Command {}

  private record ResponseBuffered(BackendConnection connection, HttpResponse response, Throwable failure)
      implements Command {}

  private record BodyDone(BackendConnection connection, Pending pending, Throwable failure) implements Command {}

  private record Closed(BackendConnection connection, Throwable cause) implements Command {}

  private record RetryConnect(BackendLink link) implements Command {}

  private enum Tick implements Command { EXPIRE, RESPONSE_TIMEOUTS, REPORT, IDLE, STATUS }

  private final PoolSettings settings;
  private final String nodeId;
  private final ConnectionGate gate;
  private final TimerScheduler<Command> timers;
  private final Http http;
  private final Materializer materializer;
  private final ClientConnectionSettings clientSettings;
  private final List<BackendLink> links = new ArrayList<>();
  /** This node's lease on each back-end, by back-end id. */
  private final Map<String, LeaseState> leases = new HashMap<>();
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private final ActorRef<Lease> leaseInbox;
  private final BackendConnection.Events events;
  private int roundRobin = -1;
  private long nextConnectionId;
  private boolean overThreshold;
  private long lastStatusNanos = System.nanoTime();

  private long accepted;
  private long served;
  private long rejectedFull;
  private long expired;
  private long badGateway;
  private long gatewayTimeout;
  private long abandoned;

  private PoolQueue(ActorContext<Command> context, TimerScheduler<Command> timers, PoolSettings settings,
      String nodeId, ConnectionGate gate, Duration reportInterval, Duration statusInterval) {
    super(context);
    context.setLoggerName(PoolQueue.class);
    this.settings = settings;
    this.nodeId = nodeId;
    this.gate = gate;
    this.timers = timers;
    this.http = Http.get(context.getSystem());
    this.materializer = Materializer.matFromSystem(context.getSystem());
    var connections = settings.connections();
    this.clientSettings = ClientConnectionSettings.create(context.getSystem().settings().config())
        .withConnectingTimeout(connections.connectTimeout())
        .withIdleTimeout(connections.idleTimeout().plus(connections.responseTimeout()).plusSeconds(5))
        .withUserAgentHeader(java.util.Optional.empty());
    ActorRef<Command> self = context.getSelf();
    this.leaseInbox = context.spawn(Behaviors.<Lease>receiveMessage(lease -> {
      self.tell(new LeaseReceived(lease));
      return Behaviors.same();
    }), "lease-inbox");
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
      public void response(BackendConnection c, HttpResponse response) {
        self.tell(new ResponseArrived(c, response));
      }

      @Override
      public void closed(BackendConnection c, Throwable cause) {
        self.tell(new Closed(c, cause));
      }
    };
    ClusterSharding sharding = ClusterSharding.get(context.getSystem());
    long now = System.nanoTime();
    for (BackendSettings backend : settings.backends()) {
      links.add(new BackendLink(backend, sharding.entityRefFor(BackendEntity.TYPE_KEY, backend.id()), now));
      leases.put(backend.id(), new LeaseState(System::nanoTime));
    }
    Duration queueTimeout = settings.queue().timeout();
    Duration expireEvery = clamp(queueTimeout.dividedBy(10), Duration.ofMillis(10), Duration.ofMillis(250));
    timers.startTimerWithFixedDelay(Tick.EXPIRE, expireEvery);
    timers.startTimerWithFixedDelay(Tick.RESPONSE_TIMEOUTS,
        clamp(connections.responseTimeout().dividedBy(10), Duration.ofMillis(10), Duration.ofMillis(500)));
    timers.startTimerWithFixedDelay(Tick.REPORT, reportInterval);
    timers.startTimerWithFixedDelay(Tick.IDLE,
        clamp(connections.idleTimeout().dividedBy(4), Duration.ofMillis(50), Duration.ofSeconds(1)));
    timers.startTimerWithFixedDelay(Tick.STATUS, statusInterval.isZero() ? Duration.ofSeconds(1) : statusInterval);
    links.forEach(this::sendDemand);
  }

  public static Behavior<Command> create(PoolSettings settings, String nodeId, ConnectionGate gate,
      Duration reportInterval, Duration statusInterval) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers ->
        new PoolQueue(context, timers, settings, nodeId, gate, reportInterval, statusInterval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Enqueue.class, this::onEnqueue)
        .onMessage(LeaseReceived.class, this::onLease)
        .onMessage(Connected.class, this::onConnected)
        .onMessage(ConnectFailed.class, this::onConnectFailed)
        .onMessage(ResponseArrived.class, this::onResponseArrived)
        .onMessage(ResponseBuffered.class, this::onResponseBuffered)
        .onMessage(BodyDone.class, this::onBodyDone)
        .onMessage(Closed.class, this::onClosed)
        .onMessageEquals(Tick.RESPONSE_TIMEOUTS, this::onResponseTimeoutTick)
        .onMessage(RetryConnect.class, this::onRetryConnect)
        .onMessageEquals(Tick.EXPIRE, this::onExpireTick)
        .onMessageEquals(Tick.REPORT, this::onReportTick)
        .onMessageEquals(Tick.IDLE, this::onIdleTick)
        .onMessageEquals(Tick.STATUS, this::onStatusTick)
        .onMessage(GetStatus.class, this::onGetStatus)
        .build();
  }

  // ---- requests in -------------------------------------------------------------------

  private Behavior<Command> onEnqueue(Enqueue enqueue) {
    accepted++;
    if (queue.size() >= settings.queue().max()) {
      rejectedFull++;
      enqueue.reply().complete(errorResponse(StatusCodes.SERVICE_UNAVAILABLE,
          "queue full: pool " + settings.name() + " has " + queue.size() + " requests waiting", true));
      return this;
    }
    queue.addLast(new Pending(enqueue.request(), enqueue.reply(), enqueue.clientGone(), System.nanoTime()));
    dispatchNext();
    return this;
  }

  /** Sends queued requests to idle connections, then opens connections the queue needs. */
  private void dispatchNext() {
    while (!queue.isEmpty()) {
      if (queue.peekFirst().needsNewConnection) {
        if (!openFor(queue.peekFirst())) {
          break;
        }
        queue.pollFirst();
        continue;
      }
      BackendLink link = pickLink();
      if (link == null) {
        break;
      }
      Pending next = queue.pollFirst();
      if (next.clientGone.getAsBoolean()) {
        abandon(next);
        continue;
      }
      send(link, link.idleConnection(), next);
    }
    if (!queue.isEmpty()) {
      askForMoreSlots();
    }
    openAsNeeded();
    updateGate();
  }

  private BackendLink pickLink() {
    int n = links.size();
    if (settings.balance() == Balance.LEAST_OUTSTANDING) {
      BackendLink best = null;
      double bestLoad = Double.MAX_VALUE;
      for (BackendLink link : links) {
        if (eligible(link)) {
          double load = (double) link.inFlight() / link.granted;
          if (load < bestLoad) {
            best = link;
            bestLoad = load;
          }
        }
      }
      return best;
    }
    for (int i = 1; i <= n; i++) {
      int index = Math.floorMod(roundRobin + i, n);
      if (eligible(links.get(index))) {
        roundRobin = index;
        return links.get(index);
      }
    }
    return null;
  }

  private static boolean eligible(BackendLink link) {
    return link.up && link.inFlight() < link.granted && link.idleConnection() != null;
  }

  private void send(BackendLink link, BackendConnection c, Pending pending) {
    link.transition(c, BackendConnection.State.WAITING);
    c.current = pending;
    c.awaitingHead = true;
    pending.attempts++;
    pending.sentNanos = System.nanoTime();
    link.recordDispatch();
    if (!c.send(pending.request)) {
      // the stream is already gone; its Closed event follows and puts the request back
      getContext().getLog().debug("backend {}: connection {} gone before send", link.id, c);
    }
  }

  /** Requests wait and a back-end has slots left in its limit: ask its entity now, not at the next report. */
  private void askForMoreSlots() {
    for (BackendLink link : links) {
      if (link.up && !link.demandPending && link.granted < link.limit) {
        link.demandPending = true;
        sendDemand(link);
      }
    }
  }

  /**
   * Opens a new connection for a request whose reused connection was closed under it,
   * making room by closing an idle connection if the grant is used up.
   *
   * @return false when every slot is busy: the request waits at the head of the queue
   */
  private boolean openFor(Pending pending) {
    BackendLink chosen = null;
    for (int i = 1; i <= links.size() && chosen == null; i++) {
      BackendLink link = links.get(Math.floorMod(roundRobin + i, links.size()));
      if (link.up && link.inFlight() + link.connecting() < link.granted
          && (link.connections.size() < link.granted || link.idleConnection() != null)) {
        chosen = link;
      }
    }
    if (chosen == null) {
      return false;
    }
    if (chosen.connections.size() >= chosen.granted) {
      retire(chosen.idleConnection());
    }
    open(chosen).current = pending;
    return true;
  }

  private void openAsNeeded() {
    int need = queue.size();
    for (BackendLink link : links) {
      need -= link.connecting();
    }
    boolean opened = true;
    while (need > 0 && opened) {
      opened = false;
      for (BackendLink link : links) {
        if (need > 0 && link.mayOpen()) {
          open(link);
          need--;
          opened = true;
        }
      }
    }
    int preOpen = settings.connections().preOpen();
    for (BackendLink link : links) {
      while (link.mayOpen() && link.connections.size() < preOpen) {
        open(link);
      }
    }
  }

  private BackendConnection open(BackendLink link) {
    BackendConnection c = BackendConnection.open(link, ++nextConnectionId, http, clientSettings, materializer, events);
    link.add(c);
    return c;
  }

  // ---- connection events -------------------------------------------------------------

  private Behavior<Command> onConnected(Connected event) {
    BackendConnection c = event.connection();
    if (c.state != BackendConnection.State.CONNECTING) {
      return this;
    }
    BackendLink link = c.link;
    if (!link.up) {
      getContext().getLog().info("backend {}: up again after {} ms", link.id,
          (System.nanoTime() - link.downSinceNanos) / 1_000_000);
    }
    link.up = true;
    link.failedConnects = 0;
    if (c.current != null) {
      Pending pending = c.current;
      c.current = null;
      send(link, c, pending);
    } else {
      makeIdle(c);
    }
    dispatchNext();
    return this;
  }

  private Behavior<Command> onConnectFailed(ConnectFailed event) {
    if (event.connection().state == BackendConnection.State.CONNECTING) {
      connectFailed(event.connection(), event.cause());
    }
    return this;
  }

  /** Called once per failed connection attempt, by whichever of its two events comes first. */
  private void connectFailed(BackendConnection c, Throwable cause) {
    BackendLink link = c.link;
    remove(c);
    if (c.current != null) {
      queue.addFirst(c.current); // it was never sent: it waits for another connection
      c.current = null;
    }
    link.failedConnects++;
    if (link.up) {
      link.up = false;
      link.downSinceNanos = System.nanoTime();
      getContext().getLog().warn("backend {}: down, cannot connect: {}", link.id, describe(cause));
    }
    scheduleRetry(link);
    dispatchNext();
  }

  private void scheduleRetry(BackendLink link) {
    if (link.retryScheduled) {
      return;
    }
    var conn = settings.connections();
    long factor = 1L << Math.min(20, Math.max(0, link.failedConnects - 1));
    Duration backoff = conn.downBackoffMin().multipliedBy(factor);
    if (backoff.compareTo(conn.downBackoffMax()) > 0) {
      backoff = conn.downBackoffMax();
    }
    link.retryScheduled = true;
    timers.startSingleTimer(new RetryKey(link.id), new RetryConnect(link), backoff);
  }

  private record RetryKey(String backendId) {}

  private Behavior<Command> onRetryConnect(RetryConnect retry) {
    BackendLink link = retry.link();
    link.retryScheduled = false;
    if (!link.up && link.connecting() == 0 && link.connections.size() < Math.max(1, link.granted)) {
      open(link);
    }
    return this;
  }

  private Behavior<Command> onResponseArrived(ResponseArrived event) {
    BackendConnection c = event.connection();
    HttpResponse response = event.response();
    if (c.state != BackendConnection.State.WAITING) {
      response.discardEntityBytes(materializer);
      return this;
    }
    c.awaitingHead = false;
    c.closeWhenDone = saysClose(response);
    ResponseEntity entity = response.entity();
    if (entity instanceof HttpEntity.Strict || entity.isKnownEmpty()) {
      complete(c, response);
      return this;
    }
    var length = entity.getContentLengthOption();
    if (length.isPresent() && length.getAsLong() <= settings.connections().bufferResponsesUpTo()) {
      getContext().pipeToSelf(
          entity.toStrict(settings.connections().responseTimeout().toMillis(), materializer),
          (strict, failure) -> new ResponseBuffered(c, failure == null ? response.withEntity(strict) : null, failure));
      return this;
    }
    // stream the body: the connection stays busy until the body is through
    Pending pending = c.current;
    ActorRef<Command> self = getContext().getSelf();
    Flow<ByteString, ByteString, Object> watch = Flow.of(ByteString.class).watchTermination((notUsed, done) -> {
      done.whenComplete((d, failure) -> self.tell(new BodyDone(c, pending, failure)));
      return (Object) notUsed;
    });
    ResponseEntity watched = ((org.apache.pekko.http.scaladsl.model.ResponseEntity) entity)
        .transformDataBytes(watch.asScala());
    c.link.transition(c, BackendConnection.State.STREAMING);
    sampleHead(c, response);
    served++;
    pending.reply.complete(Forwarding.forwardResponse(response.withEntity(watched)));
    return this;
  }

  private Behavior<Command> onResponseBuffered(ResponseBuffered event) {
    BackendConnection c = event.connection();
    if (c.state != BackendConnection.State.WAITING) {
      return this;
    }
    if (event.failure() != null) {
      getContext().getLog().warn("backend {}: response cut off on {}: {}", c.link.id, c, describe(event.failure()));
      Pending pending = discard(c, event.failure());
      c.link.recordDropped(System.nanoTime() - pending.sentNanos);
      badGateway(pending, "back-end " + c.link.id + " cut the response off");
      dispatchNext();
      return this;
    }
    complete(c, event.response());
    return this;
  }

  /** A whole response is in memory: answer the client and free the connection. */
  private void complete(BackendConnection c, HttpResponse response) {
    Pending pending = c.current;
    sampleHead(c, response);
    served++;
    pending.reply.complete(Forwarding.forwardResponse(response));
    release(c);
    dispatchNext();
  }

  private void sampleHead(BackendConnection c, HttpResponse response) {
    long rtt = System.nanoTime() - c.current.sentNanos;
    settings.loadHeader().flatMap(response::getHeader).ifPresent(header -> {
      try {
        c.link.recordReportedLoad(Double.parseDouble(header.value().trim()));
      } catch (NumberFormatException notANumber) {
        getContext().getLog().debug("backend {}: {} is not a number: '{}'", c.link.id, header.name(), header.value());
      }
    });
    if (response.status().intValue() >= 500) {
      c.link.recordDropped(rtt);
    } else {
      c.link.recordCompleted(rtt);
    }
  }

  private Behavior<Command> onBodyDone(BodyDone event) {
    BackendConnection c = event.connection();
    if (c.state != BackendConnection.State.STREAMING || c.current != event.pending()) {
      return this;
    }
    if (event.failure() != null) {
      getContext().getLog().warn("backend {}: response body failed on {}: {}", c.link.id, c, describe(event.failure()));
      discard(c, event.failure());
    } else {
      release(c);
    }
    dispatchNext();
    return this;
  }

  private Behavior<Command> onClosed(Closed event) {
    BackendConnection c = event.connection();
    BackendConnection.State was = c.state;
    if (was == BackendConnection.State.CLOSED) {
      return this;
    }
    if (was == BackendConnection.State.CONNECTING) {
      connectFailed(c, event.cause());
      return this;
    }
    remove(c);
    BackendLink link = c.link;
    switch (was) {
      case WAITING -> {
        Pending pending = c.current;
        c.current = null;
        // a reused connection may have been closed by the back-end while idle, before it saw
        // this request: try again on a new connection. A new connection that fails is the
        // request's own failure: only an idempotent request is tried again.
        boolean again = pending.replayable && pending.attempts < 3
            && (c.served > 0 || (isIdempotent(pending) && pending.attempts < 2));
        if (again) {
          getContext().getLog().debug("backend {}: {} closed before answering, sending the request again", link.id, c);
          pending.needsNewConnection = true;
          queue.addFirst(pending);
        } else {
          getContext().getLog().warn("backend {}: connection closed before the response: {}", link.id,
              describe(event.cause()));
          link.recordDropped(System.nanoTime() - pending.sentNanos);
          badGateway(pending, "back-end " + link.id + " closed the connection before responding");
        }
      }
      case STREAMING -> {
        // the body stream fails too (BodyDone) if it was still flowing; nothing more to answer
        c.current = null;
      }
      default -> getContext().getLog().debug("backend {}: idle connection {} closed by the back-end", link.id, c);
    }
    dispatchNext();
    return this;
  }

  private static boolean saysClose(HttpResponse response) {
    for (var header : response.getHeaders()) {
      if (header.is("connection") && header.value().toLowerCase(java.util.Locale.ROOT).contains("close")) {
        return true;
      }
    }
    return false;
  }

  private static boolean isIdempotent(Pending pending) {
    var method = pending.request.method();
    return method.equals(HttpMethods.GET) || method.equals(HttpMethods.HEAD) || method.equals(HttpMethods.PUT)
        || method.equals(HttpMethods.DELETE) || method.equals(HttpMethods.OPTIONS) || method.equals(HttpMethods.TRACE);
  }

  /** Answers 504 for every request whose response head is later than the response timeout. */
  private Behavior<Command> onResponseTimeoutTick() {
    long now = System.nanoTime();
    long timeoutNanos = settings.connections().responseTimeout().toNanos();
    List<BackendConnection> late = new ArrayList<>();
    for (BackendLink link : links) {
      for (BackendConnection c : link.connections) {
        if (c.state == BackendConnection.State.WAITING && c.awaitingHead && now - c.current.sentNanos >= timeoutNanos) {
          late.add(c);
        }
      }
    }
    for (BackendConnection c : late) {
      getContext().getLog().warn("backend {}: no response within {} ms on {}", c.link.id,
          settings.connections().responseTimeout().toMillis(), c);
      Pending pending = discard(c, new TimeoutException("response timeout"));
      c.link.recordDropped(now - pending.sentNanos);
      gatewayTimeout++;
      pending.reply.complete(errorResponse(StatusCodes.GATEWAY_TIMEOUT,
          "back-end " + c.link.id + " sent no response within " + settings.connections().responseTimeout().toMillis()
              + " ms", false));
    }
    if (!late.isEmpty()) {
      dispatchNext();
    }
    return this;
  }

  /** The request on {@code c} is done and the connection is clean: reuse it or let it go. */
  private void release(BackendConnection c) {
    c.current = null;
    c.served++;
    BackendLink link = c.link;
    if (c.closeWhenDone) {
      retire(c);
    } else if (link.connections.size() > link.granted) {
      retire(c);
      sendDemand(link);
    } else {
      makeIdle(c);
    }
  }

  private void makeIdle(BackendConnection c) {
    c.link.transition(c, BackendConnection.State.IDLE);
    c.idleSinceNanos = System.nanoTime();
  }

  /** Closes {@code c} once nothing is on it (it is idle or just finished). */
  private void retire(BackendConnection c) {
    remove(c);
    c.close();
  }

  /** Tears {@code c} down now, whatever is on it; returns the request it carried, if any. */
  private Pending discard(BackendConnection c, Throwable cause) {
    Pending pending = c.current;
    c.current = null;
    remove(c);
    c.abort(cause);
    return pending;
  }

  private void remove(BackendConnection c) {
    c.link.transition(c, BackendConnection.State.CLOSED);
  }

  // ---- leases, ticks, status ---------------------------------------------------------

  private Behavior<Command> onLease(LeaseReceived received) {
    Lease lease = received.lease();
    for (BackendLink link : links) {
      if (link.id.equals(lease.backendId())) {
        if (link.granted != lease.granted() || link.limit != lease.limit()) {
          getContext().getLog().debug("backend {}: lease {} of limit {}", link.id, lease.granted(), lease.limit());
        }
        if (!leases.get(link.id).apply(lease)) {
          continue; // overtaken by a newer lease, or from an entity incarnation left behind
        }
        link.leaseSeq = lease.seq();
        link.demandPending = false;
        link.granted = lease.granted();
        link.limit = lease.limit();
        link.limitReason = lease.reason();
        closeIdleAboveGrant(link);
      }
    }
    dispatchNext();
    return this;
  }

  private void closeIdleAboveGrant(BackendLink link) {
    boolean closed = false;
    while (link.connections.size() > link.granted) {
      BackendConnection idle = link.idleConnection();
      if (idle == null) {
        break;
      }
      retire(idle);
      closed = true;
    }
    if (closed) {
      sendDemand(link);
    }
  }

  private void sendDemand(BackendLink link) {
    int wanted = Math.max(settings.connections().preOpen(), link.inFlight() + queue.size());
    LeaseState lease = leases.get(link.id);
    link.entity.tell(new Demand(link.id, link.spec, wanted, link.connections.size(), link.granted,
        lease.epoch(), lease.seq(), System.nanoTime(), leaseInbox));
  }

  private Behavior<Command> onReportTick() {
    long now = System.nanoTime();
    for (BackendLink link : links) {
      sendDemand(link);
      link.entity.tell(link.drainSamples(nodeId, queue.size(), now));
    }
    return this;
  }

  private Behavior<Command> onExpireTick() {
    long now = System.nanoTime();
    long timeoutNanos = settings.queue().timeout().toNanos();
    boolean any = false;
    while (!queue.isEmpty() && queue.peekFirst().clientGone.getAsBoolean()) {
      abandon(queue.pollFirst());
      any = true;
    }
    while (!queue.isEmpty() && now - queue.peekFirst().enqueuedNanos >= timeoutNanos) {
      Pending pending = queue.pollFirst();
      expired++;
      any = true;
      pending.reply.complete(errorResponse(StatusCodes.SERVICE_UNAVAILABLE,
          "queue timeout: waited " + (now - pending.enqueuedNanos) / 1_000_000 + " ms in pool " + settings.name()
              + (links.stream().noneMatch(l -> l.up) ? " (no back-end is up)" : ""), true));
    }
    if (any) {
      updateGate();
    }
    return this;
  }

  private Behavior<Command> onIdleTick() {
    long now = System.nanoTime();
    long idleNanos = settings.connections().idleTimeout().toNanos();
    int preOpen = settings.connections().preOpen();
    for (BackendLink link : links) {
      for (BackendConnection c : List.copyOf(link.connections)) {
        if (c.state == BackendConnection.State.IDLE && now - c.idleSinceNanos >= idleNanos
            && link.connections.size() > preOpen) {
          getContext().getLog().debug("backend {}: closing idle connection {}", link.id, c);
          retire(c);
        }
      }
    }
    return this;
  }

  private Behavior<Command> onStatusTick() {
    long now = System.nanoTime();
    double seconds = (now - lastStatusNanos) / 1e9;
    lastStatusNanos = now;
    links.forEach(link -> link.rollInterval(seconds));
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus get) {
    List<PoolStatus.BackendStatus> backends = new ArrayList<>();
    int onConnections = 0;
    for (BackendLink link : links) {
      int inFlight = link.inFlight();
      onConnections += inFlight;
      backends.add(new PoolStatus.BackendStatus(link.id, link.up, link.limit, link.granted, inFlight,
          link.connections.size(), link.served, link.failed, link.lastIntervalRate, link.lastIntervalP99Millis,
          link.limitReason));
    }
    // requests being buffered are WAITING, so counted in inFlight; streamed ones were served already
    int streaming = 0;
    for (BackendLink link : links) {
      for (BackendConnection c : link.connections) {
        if (c.state == BackendConnection.State.STREAMING) {
          streaming++;
        }
      }
    }
    get.replyTo().tell(new PoolStatus(settings.name(), queue.size(), queue.size() + onConnections - streaming,
        accepted, served, rejectedFull, expired, badGateway, gatewayTimeout, abandoned, backends));
    return this;
  }

  // ---- helpers -----------------------------------------------------------------------

  /** The client left while its request waited: it ends here, never reaching a back-end. */
  private void abandon(Pending pending) {
    abandoned++;
    pending.request.discardEntityBytes(materializer);
    pending.reply.complete(errorResponse(StatusCodes.SERVICE_UNAVAILABLE, "client went away", false));
  }

  private void badGateway(Pending pending, String why) {
    badGateway++;
    pending.reply.complete(errorResponse(StatusCodes.BAD_GATEWAY, why, false));
  }

  private void updateGate() {
    boolean over = queue.size() > settings.queue().refuseConnectionsAbove();
    if (over != overThreshold) {
      overThreshold = over;
      gate.setOverThreshold(settings.name(), over);
      getContext().getLog().info("pool {}: queue {} {} {}: {} new client connections", settings.name(),
          queue.size(), over ? "above" : "back to", settings.queue().refuseConnectionsAbove(),
          over ? "refusing" : "accepting");
    }
  }

  private HttpResponse errorResponse(StatusCode status, String message, boolean retryAfter) {
    HttpResponse response = HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.TEXT_PLAIN_UTF8, message + "\n");
    if (retryAfter) {
      long seconds = Math.max(1, (settings.queue().retryAfter().toMillis() + 999) / 1000);
      response = response.addHeader(RawHeader.create("Retry-After", Long.toString(seconds)));
    }
    return response;
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

  private static Duration clamp(Duration d, Duration min, Duration max) {
    return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
  }
}
