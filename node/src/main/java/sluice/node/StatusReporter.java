package sluice.node;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Logs one status line per back-end at a fixed interval: requests in flight against the
 * back-end's limit, the pool's queue, requests per second and p99 response time.
 */
final class StatusReporter extends AbstractBehavior<StatusReporter.Command> {

  sealed interface Command extends org.apache.pekko.actor.NoSerializationVerificationNeeded {}

  private enum Tick implements Command { INSTANCE }

  private record Reported(List<PoolStatus> pools, Throwable failure) implements Command {}

  private final Supplier<CompletionStage<List<PoolStatus>>> source;
  /** The limit reason last printed per back-end, so a change of limit is explained once. */
  private final java.util.Map<String, String> printedReasons = new java.util.HashMap<>();

  private StatusReporter(ActorContext<Command> context, TimerScheduler<Command> timers,
      Supplier<CompletionStage<List<PoolStatus>>> source, Duration interval) {
    super(context);
    context.setLoggerName(StatusReporter.class);
    this.source = source;
    timers.startTimerWithFixedDelay(Tick.INSTANCE, interval);
  }

  static Behavior<Command> create(Supplier<CompletionStage<List<PoolStatus>>> source, Duration interval) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers ->
        new StatusReporter(context, timers, source, interval)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(Reported.class, this::onReported)
        .build();
  }

  private Behavior<Command> onTick() {
    getContext().pipeToSelf(source.get(), Reported::new);
    return this;
  }

  private Behavior<Command> onReported(Reported reported) {
    if (reported.failure() != null) {
      getContext().getLog().warn("status: {}", reported.failure().toString());
      return this;
    }
    reported.pools().forEach(this::log);
    return this;
  }

  private void log(PoolStatus pool) {
    for (PoolStatus.BackendStatus b : pool.backends()) {
      getContext().getLog().info(
          "status pool={} backend={} {} in-flight={}/{} slots={}{} queue={} req/s={} p99={}ms served={} failed={}",
          pool.pool(), b.id(), b.up() ? "up" : "DOWN", b.inFlight(), b.limit(), b.granted(),
          b.leaseValid() ? "" : " (lease lapsed)", pool.queueLength(),
          Math.round(b.ratePerSecond()), String.format("%.1f", b.p99Millis()), b.served(), b.failed());
      if (!b.limitReason().isEmpty() && !b.limitReason().equals(printedReasons.put(b.id(), b.limitReason()))) {
        getContext().getLog().info("status pool={} backend={} limit {} because {}", pool.pool(), b.id(), b.limit(),
            b.limitReason());
      }
    }
    if (pool.rejectedFull() + pool.expired() + pool.noBackendUp() + pool.abandoned() + pool.clientAborted() > 0) {
      getContext().getLog().info("status pool={} 503-queue-full={} 503-queue-timeout={} 503-no-backend-up={} "
          + "client-gone={}", pool.pool(), pool.rejectedFull(), pool.expired(), pool.noBackendUp(),
          pool.abandoned() + pool.clientAborted());
    }
  }
}
