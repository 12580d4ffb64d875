package sluice.node.tcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.time.Duration;
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
import sluice.node.backend.BackendActor;
import sluice.node.backend.BackendSamples;
import sluice.node.backend.LeaseState;
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
 * This node's side of one back-end of a TCP pool (L4), on one event loop: the L4 counterpart of
 * {@link BackendActor}. A slot is one relayed client connection: the actor takes a queued
 * {@link L4Connection} from its pool's {@link QueueActor} within the capacity it announced (a
 * {@link TcpRelay} of a TCP listener, or a flow of the pcap ingress: both kinds may share a
 * pool, and so the same slots), connects it to the back-end and holds the slot until it has
 * finished (for a relay: both of its connections have closed). It holds its lease from the back-end's entity exactly as the L7 actor does (Demand on
 * every report and when work waits, {@link LeaseState}), marks the back-end down when it
 * refuses connections and retries with backoff, closes relays idle for {@code idle-timeout},
 * and reports samples: a relay's lifetime (connect to both ends closed) as its response time.
 * For {@code /metrics} ({@link GetMetrics}) it counts in its own fields, on its loop: outcomes,
 * connect failures, the durations of completed relays, the times to the back-end's first
 * byte, and the queue waits of those it took.
 *
 * <p>Invariants: {@code relays} holds every relay this actor has a slot for (connecting,
 * relaying or ending), so the back-end never sees more connections from this actor than
 * {@code relays.size()}; a relay is added only while {@code relays.size() < lease.usable()}
 * and leaves only when it is finished or its connect failed. Every
 * relay taken ends here in exactly one of: completed, back-end failed, idle timeout, client
 * aborted, stopped; or goes back to the queue unconnected.
 */
public final class TcpBackendActor extends AbstractBehavior<TcpBackendActor.Command> {

  /** How long a relay that was broken off waits for the back-end to end its side before we close. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(1);

  /** Local to the node's event loop: never crosses nodes. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  /** Answered with the L7 actor's status record: the pool's status reads both alike. */
  public record GetStatus(ActorRef<BackendActor.Status> replyTo) implements Command {}

  /** For /metrics: the status, the connect failures, and the connection durations and queue waits since start. */
  public record GetMetrics(ActorRef<Metrics> replyTo) implements Command {}

  /**
   * @param status              as {@link GetStatus} answers it (served: completed, badGateway:
   *                            back-end failed, gatewayTimeout: idle timeout)
   * @param connectFailures     connects to the back-end that failed (refused, timed out); each
   *                            such client went back to the queue, unrelayed
   * @param connectionDurations connect to both sides closed, of every connection completed on this loop
   * @param firstBytes          connect to the back-end's first byte, of every connection whose
   *                            back-end sent one (counted when the actor next counts the
   *                            connection: at its end or at the next report)
   * @param queueWaits          joining the pool's queue to being taken here, of every client taken
   *                            (once each, unless it went back to the queue unconnected)
   */
  public record Metrics(BackendActor.Status status, long connectFailures, LatencyBuckets.Snapshot connectionDurations,
      LatencyBuckets.Snapshot firstBytes, LatencyBuckets.Snapshot queueWaits)
      implements NoSerializationVerificationNeeded {}

  private record FromQueue(QueueActor.ToBackend message) implements Command {}

  private record Connected(L4Connection relay) implements Command {}

  private record ConnectFailed(L4Connection relay, Throwable cause) implements Command {}

  private record Finished(L4Connection relay, L4Connection.Outcome outcome, long lifetimeNanos) implements Command {}

  private record LeaseReceived(Lease lease) implements Command {}

  private enum Tick implements Command { REPORT, IDLE, STATUS, RETRY_CONNECT }

  private final BackendSettings backend;
  private final ConnectionSettings settings;
  private final String nodeId;
  private final QueueLink queue;
  private final EntityRef<LeaseProtocol.Command> entity;
  private final ActorRef<Lease> leaseInbox;
  private final TimerScheduler<Command> timers;
  private final Bootstrap bootstrap;
  private final InetSocketAddress address;
  /** What a connection tells this actor: {@code events} also that it connected, {@code quietEvents} not. */
  private final Events events;
  private final Events quietEvents;
  private final LeaseState lease = new LeaseState(System::nanoTime);
  private final BackendSamples samples;

  /** Every relay holding a slot of this actor. */
  private final List<L4Connection> relays = new ArrayList<>();

  private int backlog;

  private boolean up = true;
  /** Down, and the backoff has passed: the next client is the probe. */
  private boolean probing;
  private long downSinceNanos;
  private int failedConnects;
  private boolean retryScheduled;
  private boolean demandPending;
  private long lastStatusNanos = System.nanoTime();

  private long completed;
  private long backendFailed;
  private long idleTimedOut;
  private long clientAborted;
  private long connectFailures;
  private final LatencyBuckets connectionDurations = new LatencyBuckets();
  private final LatencyBuckets firstBytes = new LatencyBuckets();
  private final LatencyBuckets queueWaits = new LatencyBuckets();

  private TcpBackendActor(ActorContext<Command> context, TimerScheduler<Command> timers, BackendSettings backend,
      ConnectionSettings settings, String nodeId, ActorRef<QueueActor.Command> queue,
      EntityRef<LeaseProtocol.Command> entity, EventLoop loop, Class<? extends Channel> channelType,
      InetSocketAddress address, Duration reportInterval, Duration statusInterval) {
    super(context);
    context.setLoggerName(TcpBackendActor.class);
    this.backend = backend;
    this.settings = settings;
    this.nodeId = nodeId;
    this.entity = entity;
    this.timers = timers;
    this.address = address;
    this.samples = new BackendSamples(backend.id(), System.nanoTime());
    this.queue = new QueueLink(queue, context.messageAdapter(QueueActor.ToBackend.class, FromQueue::new),
        backend.id());
    ActorRef<Command> self = context.getSelf();
    this.leaseInbox = context.spawn(Behaviors.<Lease>receiveMessage(lease -> {
      self.tell(new LeaseReceived(lease));
      return Behaviors.same();
    }), "lease-inbox", Props.empty().withDispatcherSameAsParent());
    this.events = new Events(self, true);
    this.quietEvents = new Events(self, false);

    this.bootstrap = EventLoops.channelFor(EventLoops.noDelay(new Bootstrap()), channelType, address)
        .group(loop)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
            settings.connectTimeout().toMillis()));
    timers.startTimerWithFixedDelay(Tick.REPORT, reportInterval);
    timers.startTimerWithFixedDelay(Tick.IDLE,
        SweepPeriod.of(settings.idleTimeout(), 4, Duration.ofMillis(50), Duration.ofSeconds(1)));
    timers.startTimerWithFixedDelay(Tick.STATUS, statusInterval.isZero() ? Duration.ofSeconds(1) : statusInterval);
    sendDemand();
    tellCapacity(true);
  }

  /**
   * A connection's events as messages to the actor. A successful connect matters only to a
   * back-end that is down (it is up again: {@code up} and no failed connect since go together,
   * see {@link #onConnected} and {@link #onConnectFailed}); {@code reportConnected}
   * false leaves that message out, one message fewer per connection when all is well. (A
   * connect started while all was well does not report even if another failed meanwhile: the
   * back-end is then marked up by the next probe, after the backoff.)
   */
  private record Events(ActorRef<Command> self, boolean reportConnected) implements L4Connection.Events {
    @Override
    public void connected(L4Connection relay) {
      if (reportConnected) {
        self.tell(new Connected(relay));
      }
    }

    @Override
    public void connectFailed(L4Connection relay, Throwable cause) {
      self.tell(new ConnectFailed(relay, cause));
    }

    @Override
    public void finished(L4Connection relay, L4Connection.Outcome outcome, long lifetimeNanos) {
      self.tell(new Finished(relay, outcome, lifetimeNanos));
    }
  }

  /**
   * @param loop    the event loop this actor, its pool's queue and the pool's clients run on
   * @param address the back-end's address, resolved
   */
  public static Behavior<Command> create(BackendSettings backend, ConnectionSettings settings, String nodeId,
      ActorRef<QueueActor.Command> queue, EntityRef<LeaseProtocol.Command> entity, EventLoop loop,
      Class<? extends Channel> channelType, InetSocketAddress address, Duration reportInterval,
      Duration statusInterval) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> new TcpBackendActor(context, timers, backend,
        settings, nodeId, queue, entity, loop, channelType, address, reportInterval, statusInterval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FromQueue.class, this::onFromQueue)
        .onMessage(Connected.class, this::onConnected)
        .onMessage(ConnectFailed.class, this::onConnectFailed)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(LeaseReceived.class, this::onLease)
        .onMessageEquals(Tick.REPORT, this::onReportTick)
        .onMessageEquals(Tick.IDLE, this::onIdleTick)
        .onMessageEquals(Tick.STATUS, this::onStatusTick)
        .onMessageEquals(Tick.RETRY_CONNECT, this::onRetryConnect)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(GetMetrics.class, this::onGetMetrics)
        .onSignal(PreRestart.class, signal -> stopRelays("the back-end's actor restarted after an internal error"))
        .onSignal(PostStop.class, signal -> {
          stopRelays("the node is stopping");
          entity.tell(new LeaseProtocol.Release(backend.id(), leaseInbox));
          return this;
        })
        .build();
  }

  // ---- work from the queue ------------------------------------------------------------

  private Behavior<Command> onFromQueue(FromQueue message) {
    if (message.message() instanceof QueueActor.Assign assign) {
      onAssign(assign);
    } else if (message.message() instanceof QueueActor.Backlog b) {
      onBacklog(b);
    }
    return this;
  }

  private void onAssign(QueueActor.Assign assign) {
    queue.assigned(assign);
    L4Connection relay = (L4Connection) assign.work();
    if (relay.abandoned() || !(up || probing) || relays.size() >= lease.usable()) {
      tellCapacity(true); // first the lower capacity, so that the client does not come straight back
      queue.giveBack(relay);
      return;
    }
    probing = false; // this client is the probe: one at a time until it connects
    relays.add(relay);
    queueWaits.record(System.nanoTime() - relay.enqueuedNanos());
    samples.dispatched(relays.size());
    relay.connect(bootstrap, address, up ? quietEvents : events);
    tellCapacity(false);
  }

  private void onBacklog(QueueActor.Backlog message) {
    backlog = queue.backlog(message);
    if (backlog > 0 && up && !demandPending && lease.granted() < lease.limit()) {
      demandPending = true; // clients wait and the limit has room: ask the entity now
      sendDemand();
    }
    tellCapacity(false);
  }

  // ---- connections --------------------------------------------------------------------

  private Behavior<Command> onConnected(Connected event) {
    if (!relays.contains(event.relay())) {
      return this;
    }
    if (!up) {
      getContext().getLog().info("backend {}: up again after {} ms", backend.id(),
          (System.nanoTime() - downSinceNanos) / 1_000_000);
      up = true;
      tellCapacity(true);
    }
    failedConnects = 0;
    return this;
  }

  private Behavior<Command> onConnectFailed(ConnectFailed event) {
    if (!relays.remove(event.relay())) {
      return this;
    }
    queue.giveBack(event.relay()); // never connected: another back-end, or this one later
    failedConnects++;
    connectFailures++;
    if (up) {
      up = false;
      downSinceNanos = System.nanoTime();
      getContext().getLog().warn("backend {}: down, cannot connect: {}", backend.id(), describe(event.cause()));
    }
    probing = false;
    scheduleRetry();
    tellCapacity(true);
    return this;
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

  /** The backoff has passed: the next waiting client tries the back-end again. */
  private Behavior<Command> onRetryConnect() {
    retryScheduled = false;
    if (!up) {
      probing = true;
      tellCapacity(true);
    }
    return this;
  }

  private Behavior<Command> onFinished(Finished done) {
    if (!relays.remove(done.relay())) {
      return this;
    }
    count(done.relay());
    switch (done.outcome()) {
      case COMPLETED -> {
        completed++;
        samples.completed(done.lifetimeNanos());
        connectionDurations.record(done.lifetimeNanos());
      }
      case BACKEND_FAILED -> {
        backendFailed++;
        samples.dropped(done.lifetimeNanos());
        getContext().getLog().debug("backend {}: reset a relayed connection after {} ms", backend.id(),
            done.lifetimeNanos() / 1_000_000);
      }
      case IDLE_TIMEOUT -> idleTimedOut++;
      case CLIENT_ABORTED -> clientAborted++;
      case STOPPED -> { }
    }
    if (relays.size() >= lease.usable()) {
      sendDemand(); // above a shrunk grant: the entity hears the slot is back as soon as it is
    }
    tellCapacity(false);
    return this;
  }

  /** Each relay ends itself if it has been idle or has waited too long (see {@link L4Connection#sweep}). */
  private Behavior<Command> onIdleTick() {
    long now = System.nanoTime();
    for (L4Connection relay : List.copyOf(relays)) {
      relay.sweep(now, settings);
    }
    return this;
  }

  // ---- lease and reports --------------------------------------------------------------

  private Behavior<Command> onLease(LeaseReceived message) {
    int before = lease.usable();
    if (lease.apply(message.lease())) {
      demandPending = false;
      if (lease.usable() != before) {
        getContext().getLog().debug("backend {}: lease of {} slots (limit {}, epoch {})", backend.id(),
            lease.granted(), lease.limit(), lease.epoch());
      }
      tellCapacity(false);
    }
    return this;
  }

  /** What this actor needs (relays and waiting clients) and holds (relays): also the lease's renewal. */
  private void sendDemand() {
    entity.tell(new Demand(backend.id(), backend.limit(), relays.size() + backlog, 0, relays.size(),
        lease.usable(), lease.epoch(), lease.seq(), System.nanoTime(), leaseInbox));
  }

  private Behavior<Command> onReportTick() {
    sendDemand();
    for (L4Connection relay : relays) {
      count(relay);
    }
    entity.tell(samples.drain(nodeId, relays.size(), backlog, System.nanoTime()));
    tellCapacity(true);
    return this;
  }

  /** Adds what {@code relay} moved since it was last counted, and its first byte once, to the window. */
  private void count(L4Connection relay) {
    samples.relayed(relay.takeRelayedBytes());
    long firstByte = relay.takeFirstByteNanos();
    if (firstByte >= 0) {
      samples.firstByte(firstByte);
      firstBytes.record(firstByte);
    }
  }

  /** As {@link BackendActor}'s: what this actor can take now, when that differs from what the queue believes. */
  private void tellCapacity(boolean force) {
    int slots = lease.usable();
    int room = Math.max(0, slots - relays.size());
    boolean open = up || probing;
    int free = up ? room : probing ? Math.min(1, room) : 0;
    queue.tellCapacity(force, free, relays.size(), slots, open);
  }

  private Behavior<Command> onStatusTick() {
    long now = System.nanoTime();
    samples.rollInterval((now - lastStatusNanos) / 1e9);
    lastStatusNanos = now;
    return this;
  }

  /**
   * The L7 status record, read for L4: in flight and connections are the relays holding a slot,
   * served the relays completed, badGateway those the back-end reset, gatewayTimeout those
   * closed idle, the rate and p99 those of relays completed (lifetimes).
   */
  private Behavior<Command> onGetStatus(GetStatus get) {
    get.replyTo().tell(status());
    return this;
  }

  private BackendActor.Status status() {
    return new BackendActor.Status(backend.id(), up, lease.limit(), lease.granted(), relays.size(),
        relays.size(), completed, backendFailed, idleTimedOut, clientAborted, samples.lastIntervalRate(),
        samples.lastIntervalP99Millis(), lease.reason(), lease.valid());
  }

  private Behavior<Command> onGetMetrics(GetMetrics get) {
    get.replyTo().tell(new Metrics(status(), connectFailures, connectionDurations.snapshot(), firstBytes.snapshot(),
        queueWaits.snapshot()));
    return this;
  }

  /** Closes every relay now (the clients see RST): nothing is left hanging. */
  private Behavior<Command> stopRelays(String why) {
    if (!relays.isEmpty()) {
      getContext().getLog().info("backend {}: {}; closing {} relayed connections", backend.id(), why, relays.size());
    }
    for (L4Connection relay : List.copyOf(relays)) {
      relay.closeNow(L4Connection.Outcome.STOPPED);
    }
    relays.clear();
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
