package sluice.node.queue;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import sluice.node.loop.SweepPeriod;
import sluice.node.settings.Balance;
import sluice.node.settings.QueueSettings;

/**
 * One pool's FIFO on one event loop of this node. It holds {@link Work} (it knows nothing of
 * HTTP), refuses work above {@code queue.max}, times work out after {@code queue.timeout},
 * drops work whose client left, tells the {@link ConnectionGate} while it is above the
 * refuse threshold, and hands its head to a back-end actor that has a free slot
 * (round-robin or least-outstanding).
 *
 * <p>No back-end up: while every back-end of the pool is known down on this loop (each has
 * told a {@link Capacity} with {@code up} false: its last connection attempt failed), the
 * queue refuses what waits and what arrives ({@link Work.Refusal#NO_BACKEND_UP}) instead of
 * holding it to its timeout; the first back-end that is up again ends that. A back-end not
 * yet heard from, or not yet tried (start-up), counts as up, and so does one whose lease
 * lapsed: work waits for those as it always did.
 *
 * <p>Slots: a back-end actor tells the queue its {@link Capacity}: how many more items it can
 * take, counted after the first {@code received} items the queue sent it. The queue counts
 * the items it sent ({@code sent}), so the items still on their way are {@code sent -
 * received} and the back-end's credit is {@code free - (sent - received)}; no item is ever
 * sent beyond it. Both counts belong to one session, named by the queue's incarnation (a
 * restarted queue is a new one) and the back-end's; a back-end that does not know the
 * queue's incarnation is greeted with a {@link Backlog} and counts from 0 again. An item a
 * back-end cannot take after all (its slots shrank on the way) comes back as
 * {@link Returned} and goes to the head of the queue again.
 *
 * <p>Every item the queue accepted is in exactly one place: the FIFO, on its way to a
 * back-end, or ended by the queue (refused because full or because no back-end is up, timed
 * out, dropped unserved); the counters say
 * which. When the queue stops or restarts, everything waiting is refused.
 *
 * <p>A reload may change the pool while it runs: {@link Reconfigure} gives new settings (what
 * waits stays, a lower {@code max} refuses only new work); a back-end actor that the reload
 * removed tells {@link Leave} and is sent nothing more (what reaches it on the way it gives
 * back); a new one joins with its first {@link Capacity}. A removed pool's queue gets
 * {@link Close} and answers {@link Closed} once nothing has waited in it for the grace given
 * (new work may still come from client connections that picked the pool before the reload).
 * The latest settings live in a {@link Current} that the actor's factory reads too, so a
 * restart after a bug keeps them.
 */
public final class QueueActor extends AbstractBehavior<QueueActor.Command> {

  /** Local to one event loop: never crosses nodes. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  /** New work from a client. */
  public record Enqueue(Work work) implements Command {}

  /**
   * A back-end actor's capacity: it can take {@code free} more items beyond the first
   * {@code received} of this session; {@code inFlight} and {@code slots} are what it has busy
   * and may use (for least-outstanding and the status).
   */
  public record Capacity(ActorRef<ToBackend> backend, String backendId, long backendIncarnation,
      long queueIncarnation, long received, int free, int inFlight, int slots, boolean up) implements Command {}

  /**
   * Work a back-end actor could not take after all; it goes back to the head of the queue.
   * The back-end tells its lower {@link Capacity} first, so the item does not bounce.
   */
  public record Returned(Work work) implements Command {}

  public record GetStatus(ActorRef<QueueStatus> replyTo) implements Command {}

  /** A reload changed the pool: its queue settings, balance, or how many back-ends it has. */
  public record Reconfigure(QueueSettings settings, Balance balance, int poolSize) implements Command {}

  /** A back-end actor leaves the pool (a reload removed it): nothing more is sent to it. */
  public record Leave(ActorRef<ToBackend> backend, String backendId) implements Command {}

  /** The pool was removed: answer {@link Closed} once nothing has waited for {@code grace}. */
  public record Close(Duration grace, ActorRef<Closed> replyTo) implements Command {}

  public record Closed(String pool, ActorRef<Command> queue) implements NoSerializationVerificationNeeded {}

  /**
   * The queue's latest settings, kept outside the actor so that a restart after a bug starts
   * from them rather than from those it was created with. Touched on the queue's thread only.
   */
  public static final class Current {
    QueueSettings settings;
    Balance balance;
    int poolSize;

    public Current(QueueSettings settings, Balance balance, int poolSize) {
      this.settings = settings;
      this.balance = balance;
      this.poolSize = poolSize;
    }
  }

  private enum Tick implements Command { EXPIRE, REPORT }

  /** What the queue sends to back-end actors. */
  public sealed interface ToBackend extends NoSerializationVerificationNeeded {}

  /** One item for the back-end, sent within its credit. */
  public record Assign(Work work, long queueIncarnation, long backendIncarnation) implements ToBackend {}

  /** How many items wait; also the greeting that starts a session. */
  public record Backlog(long queueIncarnation, int waiting) implements ToBackend {}

  /** A pool's queue as seen at one moment. */
  public record QueueStatus(int waiting, long accepted, long rejectedFull, long expired, long noBackendUp,
      long abandoned, long stoppedWaiting) implements NoSerializationVerificationNeeded {}

  /** The queue's view of one back-end actor. */
  private static final class Backend {
    final ActorRef<ToBackend> ref;
    final String id;
    long incarnation;
    long sent;
    long received;
    int free;
    int inFlight;
    int slots;
    boolean up;
    /** True until the back-end has told its capacity in a session of this queue. */
    boolean greeting = true;

    Backend(ActorRef<ToBackend> ref, String id) {
      this.ref = ref;
      this.id = id;
    }

    long credit() {
      return greeting ? 0 : free - (sent - received);
    }
  }

  private final String pool;
  private final Current current;
  private QueueSettings settings;
  private Balance balance;
  private final ConnectionGate gate;
  private final String gateKey;
  private final TimerScheduler<Command> timers;
  /** How many back-ends the pool has: until all of them told their capacity, they cannot all be down. */
  private int poolSize;
  /** Whether work is refused while every back-end is known down (else it waits, as for a lapsed lease). */
  private final boolean refuseWhileAllDown;
  private final long incarnation = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
  private final ArrayDeque<Work> waiting = new ArrayDeque<>();
  private final List<Backend> backends = new ArrayList<>();
  private int roundRobin = -1;
  private boolean overThreshold;
  /** Every back-end of the pool is known down: work is refused, not queued. */
  private boolean noneUp;
  /** The pool was removed: who waits for {@link Closed}, and since when nothing has waited (0: something waits). */
  private Close closing;
  private long emptySinceNanos;

  private long accepted;
  private long rejectedFull;
  private long expired;
  private long noBackendUp;
  private long abandoned;
  private long stoppedWaiting;

  private QueueActor(ActorContext<Command> context, TimerScheduler<Command> timers, String pool, Current current,
      boolean refuseWhileAllDown, ConnectionGate gate, String gateKey, Duration reportInterval) {
    super(context);
    context.setLoggerName(QueueActor.class);
    this.pool = pool;
    this.current = current;
    this.poolSize = current.poolSize;
    this.refuseWhileAllDown = refuseWhileAllDown;
    this.settings = current.settings;
    this.balance = current.balance;
    this.gate = gate;
    this.gateKey = gateKey;
    this.timers = timers;
    startExpireTimer();
    timers.startTimerWithFixedDelay(Tick.REPORT, reportInterval);
  }

  private void startExpireTimer() {
    Duration expireEvery = SweepPeriod.of(settings.timeout(), 10, Duration.ofMillis(10), Duration.ofMillis(250));
    timers.startTimerWithFixedDelay(Tick.EXPIRE, expireEvery);
  }

  /**
   * A queue that refuses its work while every back-end of the pool is known down.
   *
   * @param poolSize how many back-ends the pool has (each has a back-end actor on this loop)
   * @param gateKey  this queue's name at the gate (pool and loop)
   */
  public static Behavior<Command> create(String pool, int poolSize, QueueSettings settings, Balance balance,
      ConnectionGate gate, String gateKey, Duration reportInterval) {
    return create(pool, new Current(settings, balance, poolSize), gate, gateKey, reportInterval);
  }

  /** As {@link #create(String, int, QueueSettings, Balance, ConnectionGate, String, Duration)}, from {@code current}. */
  public static Behavior<Command> create(String pool, Current current, ConnectionGate gate, String gateKey,
      Duration reportInterval) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> new QueueActor(context, timers, pool, current,
        true, gate, gateKey, reportInterval)));
  }

  /**
   * A queue whose work waits while every back-end is down (L4: a waiting client connection is
   * what makes its back-end actor try the back-end again).
   */
  public static Behavior<Command> createWaitingWhileAllDown(String pool, QueueSettings settings, Balance balance,
      ConnectionGate gate, String gateKey, Duration reportInterval) {
    Current current = new Current(settings, balance, 0);
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> new QueueActor(context, timers, pool, current,
        false, gate, gateKey, reportInterval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Enqueue.class, this::onEnqueue)
        .onMessage(Capacity.class, this::onCapacity)
        .onMessage(Returned.class, this::onReturned)
        .onMessageEquals(Tick.EXPIRE, this::onExpireTick)
        .onMessageEquals(Tick.REPORT, this::onReportTick)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(Reconfigure.class, this::onReconfigure)
        .onMessage(Leave.class, this::onLeave)
        .onMessage(Close.class, this::onClose)
        .onSignal(PreRestart.class, signal -> stopWaiting("the pool's queue restarted after an internal error"))
        .onSignal(PostStop.class, signal -> stopWaiting("the node is stopping"))
        .build();
  }

  // ---- work in ----------------------------------------------------------------------

  private Behavior<Command> onEnqueue(Enqueue enqueue) {
    Work work = enqueue.work();
    accepted++;
    if (closing != null) {
      emptySinceNanos = 0; // work still comes: the grace starts again once it is gone
    }
    work.setEnqueuedNanos(System.nanoTime());
    if (noneUp) {
      refuseNoBackendUp(work);
      return this;
    }
    if (waiting.isEmpty()) {
      Backend backend = pick();
      if (backend != null) {
        assign(backend, work);
        return this;
      }
    }
    if (waiting.size() >= settings.max()) {
      rejectedFull++;
      work.refuse(Work.Refusal.QUEUE_FULL, "queue full: pool " + pool + " has " + waiting.size() + " requests waiting");
      return this;
    }
    boolean wasEmpty = waiting.isEmpty();
    waiting.addLast(work);
    if (wasEmpty) {
      tellBacklog(); // work waits: back-ends may ask their entity for more slots now
    }
    updateGate();
    return this;
  }

  private Behavior<Command> onReturned(Returned returned) {
    Work work = returned.work();
    if (noneUp) {
      if (work.abandoned()) {
        abandoned++;
      } else {
        refuseNoBackendUp(work);
      }
      return this;
    }
    waiting.addFirst(work);
    dispatch();
    return this;
  }

  /** Hands the head of the queue to back-ends while any has credit. */
  private void dispatch() {
    while (!waiting.isEmpty()) {
      Work head = waiting.peekFirst();
      if (head.abandoned()) {
        waiting.pollFirst();
        abandoned++;
        continue;
      }
      Backend backend = pick();
      if (backend == null) {
        break;
      }
      waiting.pollFirst();
      assign(backend, head);
    }
    updateGate();
  }

  private void assign(Backend backend, Work work) {
    backend.sent++;
    backend.ref.tell(new Assign(work, incarnation, backend.incarnation));
  }

  private Backend pick() {
    int n = backends.size();
    if (balance == Balance.LEAST_OUTSTANDING) {
      Backend best = null;
      double bestLoad = Double.MAX_VALUE;
      for (Backend b : backends) {
        if (b.up && b.credit() > 0) {
          double load = (double) (b.inFlight + b.sent - b.received) / Math.max(1, b.slots);
          if (load < bestLoad) {
            best = b;
            bestLoad = load;
          }
        }
      }
      return best;
    }
    for (int i = 1; i <= n; i++) {
      int index = (roundRobin + i) % n;
      Backend b = backends.get(index);
      if (b.up && b.credit() > 0) {
        roundRobin = index;
        return b;
      }
    }
    return null;
  }

  // ---- back-ends ---------------------------------------------------------------------

  private Behavior<Command> onCapacity(Capacity capacity) {
    Backend backend = find(capacity.backendId());
    if (backend == null || !backend.ref.equals(capacity.backend())) {
      // new, or its actor was started again: a new session
      Backend fresh = new Backend(capacity.backend(), capacity.backendId());
      if (backend == null) {
        backends.add(fresh);
      } else {
        backends.set(backends.indexOf(backend), fresh);
      }
      backend = fresh;
      getContext().getLog().debug("pool {}: back-end {} joined the queue", pool, capacity.backendId());
    }
    backend.inFlight = capacity.inFlight();
    backend.slots = capacity.slots();
    backend.up = capacity.up();
    updateNoneUp(backend.id);
    if (capacity.queueIncarnation() != incarnation) {
      // the back-end does not know this queue yet: greet it, it starts counting from 0
      backend.greeting = true;
      backend.ref.tell(new Backlog(incarnation, waiting.size()));
      return this;
    }
    if (backend.greeting || capacity.backendIncarnation() != backend.incarnation) {
      backend.greeting = false;
      backend.incarnation = capacity.backendIncarnation();
      backend.sent = 0;
    }
    backend.received = capacity.received();
    backend.free = capacity.free();
    dispatch();
    return this;
  }

  private Backend find(String id) {
    for (Backend b : backends) {
      if (b.id.equals(id)) {
        return b;
      }
    }
    return null;
  }

  private void tellBacklog() {
    Backlog backlog = new Backlog(incarnation, waiting.size());
    for (Backend b : backends) {
      b.ref.tell(backlog);
    }
  }

  // ---- ticks, status -----------------------------------------------------------------

  private Behavior<Command> onExpireTick() {
    long now = System.nanoTime();
    long timeoutNanos = settings.timeout().toNanos();
    while (!waiting.isEmpty()) {
      Work head = waiting.peekFirst();
      if (head.abandoned()) {
        waiting.pollFirst();
        abandoned++;
      } else if (now - head.enqueuedNanos() >= timeoutNanos) {
        waiting.pollFirst();
        expired++;
        head.refuse(Work.Refusal.QUEUE_TIMEOUT, "queue timeout: waited " + (now - head.enqueuedNanos()) / 1_000_000
            + " ms in pool " + pool);
      } else {
        break;
      }
    }
    updateGate();
    answerClosedOnceIdle(now);
    return this;
  }

  // ---- a reload ----------------------------------------------------------------------

  private Behavior<Command> onReconfigure(Reconfigure r) {
    boolean timeoutChanged = !r.settings().timeout().equals(settings.timeout());
    current.settings = r.settings();
    current.balance = r.balance();
    current.poolSize = r.poolSize();
    settings = r.settings();
    balance = r.balance();
    poolSize = r.poolSize();
    if (timeoutChanged) {
      startExpireTimer();
    }
    getContext().getLog().debug("pool {}: reconfigured: {}, {}, {} back-ends", pool, settings, balance, poolSize);
    updateGate();
    dispatch();
    return this;
  }

  private Behavior<Command> onLeave(Leave leave) {
    Backend gone = null;
    for (Backend b : backends) {
      if (b.ref.equals(leave.backend())) {
        gone = b;
      }
    }
    if (gone != null) {
      backends.remove(gone);
      roundRobin = backends.isEmpty() ? -1 : Math.min(roundRobin, backends.size() - 1);
      getContext().getLog().debug("pool {}: back-end {} left the queue", pool, leave.backendId());
      updateNoneUp(leave.backendId());
      dispatch();
    }
    return this;
  }

  private Behavior<Command> onClose(Close close) {
    closing = close;
    emptySinceNanos = 0;
    answerClosedOnceIdle(System.nanoTime());
    return this;
  }

  /** The pool was removed: once nothing has waited for the grace, the node may retire its back-ends. */
  private void answerClosedOnceIdle(long now) {
    if (closing == null) {
      return;
    }
    if (!waiting.isEmpty()) {
      emptySinceNanos = 0;
      return;
    }
    if (emptySinceNanos == 0) {
      emptySinceNanos = now;
    }
    if (now - emptySinceNanos >= closing.grace().toNanos()) {
      closing.replyTo().tell(new Closed(pool, getContext().getSelf()));
      closing = null;
    }
  }

  // ---- no back-end up ----------------------------------------------------------------

  /** True when every back-end of the pool has told it is down; one not heard from yet is not. */
  private boolean allKnownDown() {
    if (!refuseWhileAllDown || backends.size() < poolSize) {
      return false;
    }
    for (Backend b : backends) {
      if (b.up) {
        return false;
      }
    }
    return true;
  }

  /** After {@code changed} told its capacity (or left): enters or leaves the state where work is refused. */
  private void updateNoneUp(String changed) {
    boolean now = allKnownDown();
    if (now == noneUp) {
      return;
    }
    noneUp = now;
    if (now) {
      getContext().getLog().warn("pool {}: no back-end is up (last: {}); answering the {} requests waiting and "
          + "new ones with 503 until one is back", pool, changed, waiting.size());
      while (!waiting.isEmpty()) {
        Work work = waiting.pollFirst();
        if (work.abandoned()) {
          abandoned++;
        } else {
          refuseNoBackendUp(work);
        }
      }
      updateGate();
    } else {
      getContext().getLog().info("pool {}: back-end {} is up again; queueing requests", pool, changed);
    }
  }

  private void refuseNoBackendUp(Work work) {
    noBackendUp++;
    work.refuse(Work.Refusal.NO_BACKEND_UP, "no back-end of pool " + pool + " is up");
  }

  private Behavior<Command> onReportTick() {
    tellBacklog();
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus get) {
    get.replyTo().tell(new QueueStatus(waiting.size(), accepted, rejectedFull, expired, noBackendUp, abandoned,
        stoppedWaiting));
    return this;
  }

  private void updateGate() {
    boolean over = waiting.size() > settings.refuseConnectionsAbove();
    if (over != overThreshold) {
      overThreshold = over;
      gate.setOverThreshold(gateKey, over);
      getContext().getLog().info("pool {}: queue {} {} {}: {} new client connections", pool, waiting.size(),
          over ? "above" : "back to", settings.refuseConnectionsAbove(), over ? "refusing" : "accepting");
    }
  }

  /** Answers everything still waiting: nothing is left without an answer. */
  private Behavior<Command> stopWaiting(String why) {
    if (!waiting.isEmpty()) {
      getContext().getLog().warn("pool {}: {}; answering the {} requests still waiting with 503", pool, why,
          waiting.size());
    }
    while (!waiting.isEmpty()) {
      Work work = waiting.pollFirst();
      if (work.abandoned()) {
        abandoned++;
      } else {
        stoppedWaiting++;
        work.refuse(Work.Refusal.STOPPING, why);
      }
    }
    if (overThreshold) {
      overThreshold = false;
      gate.setOverThreshold(gateKey, false);
    }
    return this;
  }

}
