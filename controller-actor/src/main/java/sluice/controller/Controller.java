package sluice.controller;

import java.time.Duration;
import java.util.random.RandomGenerator;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import sluice.controller.algorithm.LimitAlgorithm;
import sluice.controller.algorithm.LimitAlgorithms;
import sluice.controller.algorithm.WindowSample;
import sluice.protocol.LeaseProtocol.SampleBatch;
import sluice.protocol.LimitDecision;
import sluice.protocol.LimitSpec;

/**
 * One per back-end, beside its entity. Gathers the sample batches that nodes report into
 * windows, feeds each window to the limit algorithm, and tells the entity every new limit
 * (clamped to the spec's [min, max], never below 1) with the reason.
 *
 * <p>State: the batches of the window being gathered; the limit last told to the entity.
 */
public final class Controller extends AbstractBehavior<Controller.Command> {

  /** Local to the entity beside it: never crosses nodes. */
  public sealed interface Command extends org.apache.pekko.actor.NoSerializationVerificationNeeded
      permits Samples, WindowTick {}

  /** A node's measurements, forwarded by the entity. */
  public record Samples(SampleBatch batch) implements Command {}

  private enum WindowTick implements Command { INSTANCE }

  private final String backendId;
  private final LimitSpec spec;
  private final LimitAlgorithm algorithm;
  private final ActorRef<LimitDecision> decisions;
  private final WindowAccumulator window = new WindowAccumulator();
  private int toldLimit;
  private long windowStartNanos = System.nanoTime();

  private Controller(
      ActorContext<Command> context,
      TimerScheduler<Command> timers,
      String backendId,
      LimitSpec spec,
      Duration windowLength,
      ActorRef<LimitDecision> decisions) {
    super(context);
    context.setLoggerName(Controller.class);
    this.backendId = backendId;
    this.spec = spec;
    this.decisions = decisions;
    this.algorithm = LimitAlgorithms.create(spec, System::nanoTime, RandomGenerator.getDefault());
    this.toldLimit = clamp(algorithm.limit());
    decisions.tell(new LimitDecision(backendId, toldLimit,
        "initial limit of algorithm " + spec.algorithm()));
    timers.startTimerWithFixedDelay(WindowTick.INSTANCE, windowLength);
  }

  /**
   * @param windowLength how long to gather samples before each decision
   * @param decisions    where new limits go (the entity)
   */
  public static Behavior<Command> create(
      String backendId, LimitSpec spec, Duration windowLength, ActorRef<LimitDecision> decisions) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers ->
        new Controller(context, timers, backendId, spec, windowLength, decisions)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Samples.class, this::onSamples)
        .onMessageEquals(WindowTick.INSTANCE, this::onWindowTick)
        .build();
  }

  private Behavior<Command> onSamples(Samples samples) {
    window.add(samples.batch());
    return this;
  }

  private Behavior<Command> onWindowTick() {
    if (window.isEmpty()) {
      windowStartNanos = System.nanoTime();
      return this;
    }
    long now = System.nanoTime();
    WindowSample sample = window.drain(now - windowStartNanos, toldLimit);
    windowStartNanos = now;
    if (sample.completed() + sample.dropped() + sample.arrivals() + sample.queueLength() == 0) {
      return this; // an idle back-end: nothing to learn, nothing to decide
    }
    algorithm.onSample(sample);
    int next = clamp(algorithm.limit());
    if (next != toldLimit) {
      String reason = String.format("%s: %.0f req/s, mean %.1f ms, max %.1f ms, queue %d, limit %d -> %d",
          spec.algorithm(), sample.throughput(), sample.meanRttNanos() / 1e6,
          sample.maxRttNanos() / 1e6, sample.queueLength(), toldLimit, next);
      getContext().getLog().debug("backend {}: limit {} -> {} ({})", backendId, toldLimit, next, reason);
      toldLimit = next;
      decisions.tell(new LimitDecision(backendId, next, reason));
    }
    return this;
  }

  private int clamp(int limit) {
    return Math.max(1, Math.max(spec.min(), Math.min(spec.max(), limit)));
  }
}
