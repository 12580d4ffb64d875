package sluice.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessorSharingTest {

  private final List<String> done = new ArrayList<>();

  private static long ms(double millis) {
    return Math.round(millis * 1_000_000);
  }

  private static ThrashingParams usl(double s0Millis, double alpha, double beta) {
    return new ThrashingParams(Duration.ofNanos(ms(s0Millis)), alpha, beta, 0);
  }

  @Test
  void aRequestAloneTakesS0() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 0.5, 0.1));
    ps.admit("a", ms(10), done::add);

    assertEquals(ms(12), ps.nextCompletionNanos());
    ps.advance(ms(11.999), done::add);
    assertEquals(List.of(), done);
    ps.advance(ms(12), done::add);
    assertEquals(List.of("a"), done);
    assertEquals(0, ps.inService());
    assertEquals(Long.MAX_VALUE, ps.nextCompletionNanos());
  }

  @Test
  void requestsAdmittedTogetherShareAndFinishTogether() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 0.5, 0.0)); // slowdown(2) = 1.5
    ps.admit("a", 0, done::add);
    ps.admit("b", 0, done::add);

    assertEquals(ms(3), ps.nextCompletionNanos());
    ps.advance(ms(3), done::add);
    assertEquals(List.of("a", "b"), done);
  }

  @Test
  void aLaterArrivalSlowsTheFirstAndSpeedsUpWhenItLeaves() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 1.0, 0.0)); // slowdown(2) = 2
    ps.admit("a", 0, done::add);
    ps.admit("b", ms(1), done::add); // a has half its work done
    assertEquals(ms(3), ps.nextCompletionNanos()); // a's other half at half speed

    ps.advance(ms(3), done::add);
    assertEquals(List.of("a"), done);
    assertEquals(ms(4), ps.nextCompletionNanos()); // b: half done by 3 ms, alone from then on
    ps.advance(ms(4), done::add);
    assertEquals(List.of("a", "b"), done);
  }

  @Test
  void lookingLateCompletesEachAtItsOwnTime() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 1.0, 0.0));
    ps.admit("a", 0, done::add);
    ps.admit("b", ms(1), done::add);
    ps.advance(ms(50), done::add); // a left at 3 ms, b at 4 ms
    ps.admit("c", ms(50), done::add);

    assertEquals(List.of("a", "b"), done);
    assertEquals(ms(52), ps.nextCompletionNanos());
  }

  @Test
  void thrashingFollowsTheUniversalScalabilityLaw() {
    ThrashingParams p = usl(2, 0.04, 0.0024);
    ProcessorSharing<Integer> ps = new ProcessorSharing<>(p);
    for (int i = 0; i < 20; i++) {
      ps.admit(i, 0, j -> {});
    }
    // all 20 share the server from 0 on: each takes s0 * slowdown(20)
    assertEquals(p.responseTimeAt(20).toNanos(), ps.nextCompletionNanos(), 1.0);
    assertEquals(20.0, p.bestN(), 1e-9);
  }

  @Test
  void newParamsApplyToTheWorkLeft() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 0, 0));
    ps.admit("a", 0, done::add);
    ps.changeParams(usl(10, 0, 0), ms(1), done::add); // half done; the other half takes 5 ms
    assertEquals(ms(6), ps.nextCompletionNanos());

    ps.changeParams(usl(0, 0, 0), ms(2), done::add); // no delay: done at once
    assertEquals(List.of("a"), done);
  }

  @Test
  void withoutDelayARequestIsDoneWhenAdmitted() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(0, 0.5, 0.5));
    ps.admit("a", ms(7), done::add);
    assertEquals(List.of("a"), done);
    assertEquals(0, ps.inService());
  }

  @Test
  void timeNeverGoesBack() {
    ProcessorSharing<String> ps = new ProcessorSharing<>(usl(2, 1.0, 0)); // slowdown(2) = 2
    ps.admit("a", ms(1), done::add);
    ps.advance(ms(2), done::add); // a is half done
    ps.admit("b", ms(1.5), done::add); // a clock read before the last event: counts as 2 ms

    assertEquals(ms(4), ps.nextCompletionNanos()); // a's other half at half speed
    ps.advance(ms(4), done::add);
    assertEquals(List.of("a"), done);
  }
}
