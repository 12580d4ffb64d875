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
 * <p>The operator may pin the limit ({@link Pin}): the controller then drops the samples it
 * gets and decides nothing until {@link Unpin}, which starts the algorithm anew from the pinned
 * value (clamped to the spec's bounds) and tells the entity that limit.
 *
 * <p>State: the batches of the window being gathered; the limit last told to the entity;
 * whether the limit is pinned.
 */
public final class Controller extends AbstractBehavior<Controller.Command> {

  /** Local to the entity beside it: never crosses nodes. */
  public sealed interface Command extends org.apache.pekko.actor.NoSerializationVerificationNeeded
      permits Samples, WindowTick, Pin, Unpin {}

  /** A node's measurements, forwarded by the entity. */
  public record Samples(SampleBatch batch) implements Command {}

  /** The operator pinned the limit: gather nothing, decide nothing until {@link Unpin}. */
  public enum Pin implements Command { INSTANCE }

  /** The operator unpinned the limit: resume from {@code fromLimit}. */
  public record Unpin(int fromLimit) implements Command {}

  private enum WindowTick implements Command { INSTANCE }

  private final String backendId;
  private final LimitSpec spec;
  private LimitAlgorithm algorithm;
  private boolean pinned;
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
        .onMessageEquals(Pin.INSTANCE, this::onPin)
        .onMessage(Unpin.class, this::onUnpin)
        .build();
  }

  private Behavior<Command> onSamples(Samples samples) {
    if (!pinned) {
      window.add(samples.batch());
    }
    return this;
  }

  private Behavior<Command> onPin() {
    pinned = true;
    window.drain(0, toldLimit); // what was gathered under the old limit says nothing of the pinned one
    return this;
  }

  /** The algorithm starts anew from the pinned value: what it had learned was learned before the pin. */
  private Behavior<Command> onUnpin(Unpin unpin) {
    pinned = false;
    int from = clamp(unpin.fromLimit());
    algorithm = LimitAlgorithms.create(
        new LimitSpec(spec.algorithm(), spec.min(), spec.max(), from, spec.params()),
        System::nanoTime, RandomGenerator.getDefault());
    window.drain(0, toldLimit);
    windowStartNanos = System.nanoTime();
    toldLimit = clamp(algorithm.limit());
    decisions.tell(new LimitDecision(backendId, toldLimit, "unpinned: algorithm " + spec.algorithm()
        + " resumes from " + toldLimit));
    return this;
  }

  private Behavior<Command> onWindowTick() {
    if (pinned || window.isEmpty()) {
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
      String reason = String.format("%s: %.0f req/s, mean %.1f ms, max %.1f ms, queue %d%s, limit %d -> %d",
          spec.algorithm(), sample.throughput(), sample.meanRttNanos() / 1e6,
          sample.maxRttNanos() / 1e6, sample.queueLength(), l4(sample), toldLimit, next);
      getContext().getLog().debug("backend {}: limit {} -> {} ({})", backendId, toldLimit, next, reason);
      toldLimit = next;
      decisions.tell(new LimitDecision(backendId, next, reason));
    }
    return this;
  }

  /** An L4 window's bytes per second and time to first byte, for the reason; empty for HTTP. */
  private static String l4(WindowSample s) {
    if (s.bytes() == 0 && s.meanFirstByteNanos() == 0) {
      return "";
    }
    return String.format(", %.1f MB/s, first byte %.1f ms", s.bytesPerSecond() / 1e6, s.meanFirstByteNanos() / 1e6);
  }

  private int clamp(int limit) {
    return Math.max(1, Math.max(spec.min(), Math.min(spec.max(), limit)));
  }
}
