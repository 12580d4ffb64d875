package sluice.node;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import sluice.node.pool.PoolQueue;
import sluice.node.pool.PoolStatus;

/**
 * Logs one status line per back-end at a fixed interval: requests in flight against the
 * back-end's limit, the pool's queue, requests per second and p99 response time.
 */
final class StatusReporter extends AbstractBehavior<StatusReporter.Command> {

  sealed interface Command extends org.apache.pekko.actor.NoSerializationVerificationNeeded {}

  private enum Tick implements Command { INSTANCE }

  private record Reported(PoolStatus status) implements Command {}

  private final List<ActorRef<PoolQueue.Command>> pools;
  private final ActorRef<PoolStatus> statusAdapter;
  /** The limit reason last printed per back-end, so a change of limit is explained once. */
  private final java.util.Map<String, String> printedReasons = new java.util.HashMap<>();

  private StatusReporter(ActorContext<Command> context, TimerScheduler<Command> timers,
      List<ActorRef<PoolQueue.Command>> pools, Duration interval) {
    super(context);
    context.setLoggerName(StatusReporter.class);
    this.pools = pools;
    this.statusAdapter = context.messageAdapter(PoolStatus.class, Reported::new);
    timers.startTimerWithFixedDelay(Tick.INSTANCE, interval);
  }

  static Behavior<Command> create(List<ActorRef<PoolQueue.Command>> pools, Duration interval) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers ->
        new StatusReporter(context, timers, pools, interval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(Reported.class, this::onReported)
        .build();
  }

  private Behavior<Command> onTick() {
    pools.forEach(pool -> pool.tell(new PoolQueue.GetStatus(statusAdapter)));
    return this;
  }

  private Behavior<Command> onReported(Reported reported) {
    PoolStatus pool = reported.status();
    for (PoolStatus.BackendStatus b : pool.backends()) {
      getContext().getLog().info(
          "status pool={} backend={} {} in-flight={}/{} queue={} req/s={} p99={}ms served={} failed={}",
          pool.pool(), b.id(), b.up() ? "up" : "DOWN", b.inFlight(), b.limit(), pool.queueLength(),
          Math.round(b.ratePerSecond()), String.format("%.1f", b.p99Millis()), b.served(), b.failed());
      if (!b.limitReason().isEmpty() && !b.limitReason().equals(printedReasons.put(b.id(), b.limitReason()))) {
        getContext().getLog().info("status pool={} backend={} limit {} because {}", pool.pool(), b.id(), b.limit(),
            b.limitReason());
      }
    }
    if (pool.rejectedFull() + pool.expired() + pool.abandoned() > 0) {
      getContext().getLog().info("status pool={} 503-queue-full={} 503-queue-timeout={} client-gone={}",
          pool.pool(), pool.rejectedFull(), pool.expired(), pool.abandoned());
    }
    return this;
  }
}
