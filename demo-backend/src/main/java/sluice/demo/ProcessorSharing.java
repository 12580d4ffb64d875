package sluice.demo;

import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * Processor sharing under the Universal Scalability Law, kept in virtual time.
 *
 * <p>Invariants: a job is either in service (in {@code inService}, with a finish tag) or gone.
 * {@code attained} is the work every job in service has received per unit of its own demand
 * since the last rebase; all jobs progress at the same rate, so a job admitted when {@code
 * attained = v} finishes when {@code attained = v + 1}. Tags therefore grow in admission order
 * and jobs finish first-in first-out: a deque is enough, and each admission or departure costs
 * O(1), whatever the number in service. Only the caller's thread touches an instance; time comes
 * in as a parameter ({@code nowNanos}, any monotonic clock), so a run can be replayed exactly.
 *
 * <p>Between events the number in service {@code n} is constant, and {@code attained} grows at
 * {@code 1 / (s0 * slowdown(n))} per nanosecond. {@link #advance} walks from one departure to the
 * next, so a job that finished before {@code nowNanos} is removed at its exact finish time and the
 * jobs left behind speed up from then on, even if the caller looks late.
 *
 * @param <T> what the caller tracks per job (a connection, a test label)
 */
final class ProcessorSharing<T> {

  private record Job<T>(T job, double tag) {}

  /** Tags that differ by less than this finish together (jobs admitted at the same instant). */
  private static final double TAG_EPSILON = 1e-9;

  private final ArrayDeque<Job<T>> inService = new ArrayDeque<>();
  private ThrashingParams params;
  private double attained;
  private long lastNanos;
  private boolean started;

  ProcessorSharing(ThrashingParams params) {
    this.params = params;
  }

  ThrashingParams params() {
    return params;
  }

  int inService() {
    return inService.size();
  }

  /** Starts serving {@code job} at {@code nowNanos}; first completes whatever finished before. */
  void admit(T job, long nowNanos, Consumer<? super T> completed) {
    advance(nowNanos, completed);
    inService.addLast(new Job<>(job, attained + 1.0));
    if (params.s0().isZero()) {
      advance(nowNanos, completed);
    }
  }

  /** Changes the law from {@code nowNanos} on; work already done is kept. */
  void changeParams(ThrashingParams next, long nowNanos, Consumer<? super T> completed) {
    advance(nowNanos, completed);
    params = next;
    advance(nowNanos, completed);
  }

  /**
   * Completes, in order, every job whose work was done by {@code nowNanos}. Time never goes
   * back: a {@code nowNanos} before the last event counts as the last event.
   */
  void advance(long nowNanos, Consumer<? super T> completed) {
    if (started && nowNanos < lastNanos) {
      nowNanos = lastNanos;
    }
    if (!started || inService.isEmpty()) {
      started = true;
      attained = 0.0; // rebase while idle, so tags stay small and precise
      lastNanos = nowNanos;
      if (inService.isEmpty()) {
        return;
      }
    }
    double s0Nanos = params.s0().toNanos();
    while (!inService.isEmpty()) {
      Job<T> head = inService.peekFirst();
      double nanosPerUnit = s0Nanos * params.slowdown(inService.size());
      double finishNanos = lastNanos + (head.tag() - attained) * nanosPerUnit;
      if (finishNanos > nowNanos) {
        attained += (nowNanos - lastNanos) / nanosPerUnit;
        lastNanos = nowNanos;
        return;
      }
      attained = head.tag();
      lastNanos = Math.max(lastNanos, Math.min(nowNanos, (long) finishNanos));
      while (!inService.isEmpty() && inService.peekFirst().tag() <= attained + TAG_EPSILON) {
        completed.accept(inService.pollFirst().job());
      }
    }
    attained = 0.0;
    lastNanos = nowNanos;
  }

  /** When the next job will finish if nothing arrives, or {@link Long#MAX_VALUE} if none is in. */
  long nextCompletionNanos() {
    if (inService.isEmpty()) {
      return Long.MAX_VALUE;
    }
    double nanosPerUnit = params.s0().toNanos() * params.slowdown(inService.size());
    double finishNanos = lastNanos + (inService.peekFirst().tag() - attained) * nanosPerUnit;
    return (long) Math.ceil(finishNanos);
  }

  /** Forgets every job in service without completing it (the server stopped). */
  void clear() {
    inService.clear();
    attained = 0.0;
  }
}
