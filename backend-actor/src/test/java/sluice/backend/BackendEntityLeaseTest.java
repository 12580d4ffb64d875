package sluice.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.LeaseProtocol.Demand;
import sluice.protocol.LeaseProtocol.Lease;
import sluice.protocol.LimitSpec;

/**
 * The entity's learning and expiry, with its timers on {@link ManualTime} and its clock
 * moved by hand in the same steps.
 */
class BackendEntityLeaseTest {
  private static final ActorTestKit testKit = ActorTestKit.create("BackendEntityLeaseTest",
      ManualTime.config().withFallback(ConfigFactory.load()));
  private static final ManualTime manualTime = ManualTime.get(testKit.system());
  private static final LimitSpec FIXED_8 = LimitSpec.fixed(8);
  private static final Duration LEASE = Duration.ofSeconds(1);
  private static final Duration TICK = LEASE.dividedBy(4);
  private static final long OLD_EPOCH = 42;
  private static final Address M1 = new Address("pekko", "sluice", "10.0.0.1", 2552);
  private static final Address M2 = new Address("pekko", "sluice", "10.0.0.2", 2552);

  private final AtomicLong nanos = new AtomicLong();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** Members as the tests declare them: each pool lives on the member given. */
  private static Members members(Map<ActorRef<Lease>, Address> pools) {
    Set<Address> up = new HashSet<>(pools.values());
    return new Members() {
      @Override
      public Set<Address> up() {
        return up;
      }

      @Override
      public Address memberOf(ActorRef<?> pool) {
        return pools.get(pool);
      }
    };
  }

  /** An entity that has started (its timer runs from now on the manual clock). */
  private ActorRef<LeaseProtocol.Command> entity(String id, Members members) {
    var entity = testKit.spawn(BackendEntity.create(id, Duration.ofHours(1), LEASE, system -> members, nanos::get));
    status(entity, id);
    return entity;
  }

  private static LeaseProtocol.Status status(ActorRef<LeaseProtocol.Command> entity, String id) {
    TestProbe<LeaseProtocol.Status> probe = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.GetStatus(id, probe.ref()));
    return probe.receiveMessage();
  }

  /** The entity's clock and timers move together, one tick at a time. */
  private void advance(Duration by) {
    for (Duration left = by; !left.isZero(); ) {
      Duration step = left.compareTo(TICK) < 0 ? left : TICK;
      nanos.addAndGet(step.toNanos());
      manualTime.timePasses(step);
      left = left.minus(step);
    }
  }

  private Demand demand(String id, int wanted, int held, int grantedNow, long epoch, long seq, TestProbe<Lease> pool) {
    return new Demand(id, FIXED_8, wanted, held, grantedNow, epoch, seq, nanos.get(), pool.ref());
  }

  /** The last lease a pool holds after the entity has settled. */
  private static Lease latest(TestProbe<Lease> pool) {
    Lease last = pool.receiveMessage();
    while (true) {
      try {
        last = pool.receiveMessage(Duration.ofMillis(200));
      } catch (AssertionError none) {
        return last;
      }
    }
  }

  @Test
  void aNewEntityLearnsBeforeGranting() {
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    var entity = entity("learns", members(Map.of(a.ref(), M1, b.ref(), M2)));
    // a still holds 8 under a lease of the old incarnation
    entity.tell(demand("learns", 8, 8, 8, OLD_EPOCH, 7, a));
    a.expectNoMessage(Duration.ofMillis(300));
    LeaseProtocol.Status learning = status(entity, "learns");
    assertTrue(learning.learning());
    assertEquals(8, learning.limit(), "the controller has spoken, yet nothing is lent");
    // b's member reports too: learning ends, and a's 8 leave nothing for b
    entity.tell(demand("learns", 8, 0, 0, 0, 0, b));
    Lease toA = latest(a);
    assertEquals(learning.epoch(), toA.epoch());
    assertEquals(4, toA.granted());
    assertEquals(0, latest(b).granted());
    assertFalse(status(entity, "learns").learning());
    entity.tell(demand("learns", 8, 0, 0, toA.epoch(), 0, b));
    assertEquals(0, latest(b).granted(), "a has not confirmed the new epoch yet");
    // a applies the new lease and lets 4 connections go: b gets them
    entity.tell(demand("learns", 8, 4, 4, toA.epoch(), toA.seq(), a));
    assertEquals(4, latest(b).granted());
  }

  @Test
  void learningEndsAfterALeaseTimeWhenAMemberNeverReports() {
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> silent = testKit.createTestProbe();
    var entity = entity("deadline", members(Map.of(a.ref(), M1, silent.ref(), M2)));
    entity.tell(demand("deadline", 4, 0, 0, 0, 0, a));
    advance(LEASE.dividedBy(2));
    entity.tell(demand("deadline", 4, 0, 0, 0, 0, a));
    advance(LEASE.dividedBy(2).minus(TICK));
    a.expectNoMessage(Duration.ofMillis(300));
    assertTrue(status(entity, "deadline").learning());
    advance(TICK);
    assertEquals(4, latest(a).granted());
    assertFalse(status(entity, "deadline").learning());
  }

  @Test
  void anExpiredNodesSlotsGoToTheOtherNodeAfterTheLeaseTime() {
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    var entity = entity("expires", members(Map.of(a.ref(), M1, b.ref(), M1)));
    entity.tell(demand("expires", 8, 8, 0, 0, 0, a));
    Lease toA = latest(a);
    assertEquals(8, toA.granted());
    entity.tell(demand("expires", 8, 0, 0, 0, 0, b));
    assertEquals(0, latest(b).granted());
    assertEquals(4, latest(a).granted());
    // a falls silent, holding 8 as far as the entity knows; b goes on reporting
    advance(LEASE.dividedBy(2));
    entity.tell(demand("expires", 8, 0, 0, toA.epoch(), 0, b));
    assertEquals(0, latest(b).granted());
    advance(LEASE.dividedBy(2).minus(TICK));
    b.expectNoMessage(Duration.ofMillis(300));
    assertEquals(2, status(entity, "expires").nodes());
    advance(TICK);
    assertEquals(8, latest(b).granted());
    assertEquals(1, status(entity, "expires").nodes());
  }
}
