package sluice.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.protocol.LeaseProtocol;
import sluice.protocol.LeaseProtocol.Demand;
import sluice.protocol.LeaseProtocol.Lease;
import sluice.protocol.LimitDecision;
import sluice.protocol.LimitSpec;

class BackendEntityTest {
  private static final ActorTestKit testKit = ActorTestKit.create();
  private static final LimitSpec FIXED_8 = LimitSpec.fixed(8);

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private ActorRef<LeaseProtocol.Command> entity(String id) {
    return testKit.spawn(BackendEntity.create(id, Duration.ofHours(1), Duration.ofHours(1)));
  }

  /** A node's pool as the tests play it: it applies every lease and reports under the last. */
  private static final class Pool {
    final TestProbe<Lease> probe = testKit.createTestProbe();
    Lease last;

    Demand demand(String backendId, int wanted, int held) {
      return last == null
          ? new Demand(backendId, FIXED_8, wanted, held, 0, 0, 0, System.nanoTime(), probe.ref())
          : new Demand(backendId, FIXED_8, wanted, held, last.granted(), last.epoch(), last.seq(),
              System.nanoTime(), probe.ref());
    }

    /** The last lease the pool holds after the entity has settled. */
    Lease latest() {
      last = probe.receiveMessage();
      while (true) {
        try {
          last = probe.receiveMessage(Duration.ofMillis(200));
        } catch (AssertionError none) {
          return last;
        }
      }
    }
  }

  @Test
  void oneNodeGetsWhatItWantsUpToTheLimit() {
    var entity = entity("one");
    Pool node = new Pool();
    entity.tell(node.demand("one", 3, 0));
    assertEquals(3, node.latest().granted());
    entity.tell(node.demand("one", 100, 3));
    Lease lease = node.latest();
    assertEquals(8, lease.granted());
    assertEquals(8, lease.limit());
  }

  @Test
  void twoNodesShareAndNeverExceedTheLimit() {
    var entity = entity("two");
    Pool a = new Pool();
    Pool b = new Pool();
    entity.tell(a.demand("two", 100, 0));
    assertEquals(8, a.latest().granted());
    // a holds all 8; b asks: a's grant drops to its fair share, b gets only what is free (nothing yet)
    entity.tell(b.demand("two", 100, 0));
    assertEquals(0, b.latest().granted());
    assertEquals(4, a.latest().granted());
    // a reports it let 4 connections go: b may now take them
    entity.tell(a.demand("two", 100, 4));
    entity.tell(b.demand("two", 100, 0));
    assertEquals(4, b.latest().granted());
    TestProbe<LeaseProtocol.Status> status = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.GetStatus("two", status.ref()));
    assertEquals(8, status.receiveMessage().granted());
  }

  @Test
  void theLeasesQueryShowsEveryHolderAndTheLastDecision() {
    var entity = entity("query");
    Pool a = new Pool();
    Pool b = new Pool();
    entity.tell(a.demand("query", 3, 0));
    entity.tell(b.demand("query", 2, 0));
    assertEquals(3, a.latest().granted());
    assertEquals(2, b.latest().granted());
    TestProbe<LeaseProtocol.Leases> probe = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.GetLeases("query", probe.ref()));
    LeaseProtocol.Leases leases = probe.receiveMessage();
    assertEquals("fixed", leases.algorithm());
    assertEquals(8, leases.limit());
    assertEquals("initial limit of algorithm fixed", leases.lastReason());
    // both pools live in this one test system: one member with two pools
    assertEquals(1, leases.nodes().size());
    assertEquals(new LeaseProtocol.NodeLease(leases.nodes().get(0).member(), 2, 5, 5), leases.nodes().get(0));
    assertTrue(leases.lastDecisionAgoMillis() >= 0, "a decision was made: " + leases);
  }

  @Test
  void aLowerLimitIsHonouredAsNodesGiveSlotsBack() {
    var entity = entity("lower");
    Pool a = new Pool();
    Pool b = new Pool();
    entity.tell(a.demand("lower", 4, 4));
    entity.tell(b.demand("lower", 4, 0));
    assertEquals(4, a.latest().granted());
    assertEquals(4, b.latest().granted());
    entity.tell(new LimitDecision("lower", 4, "test"));
    assertEquals(2, a.latest().granted());
    assertEquals(2, b.latest().granted());
    // a still holds 4 connections: even if b asks for more, nothing beyond 4 in total is lent
    entity.tell(b.demand("lower", 10, 2));
    assertEquals(2, b.latest().granted());
  }

  @Test
  void aReportOlderThanALoweredGrantDoesNotFreeSlots() {
    var entity = entity("stale");
    Pool a = new Pool();
    Pool b = new Pool();
    entity.tell(a.demand("stale", 100, 0));
    Lease full = a.latest();
    assertEquals(8, full.granted());
    entity.tell(b.demand("stale", 100, 0));
    Lease lowered = a.latest();
    assertEquals(4, lowered.granted());
    // a report a counted before it saw the lowered grant says 0 held; a may hold 8 by now
    entity.tell(new Demand("stale", FIXED_8, 100, 0, 8, full.epoch(), full.seq(), System.nanoTime(), a.probe.ref()));
    entity.tell(b.demand("stale", 100, 0));
    assertEquals(0, b.latest().granted());
    // once a confirms after the lowered lease, its freed slots move to b
    entity.tell(a.demand("stale", 100, 4));
    entity.tell(b.demand("stale", 100, 0));
    assertEquals(4, b.latest().granted());
  }

  @Test
  void slotsOfANodeThatDiesGoBack() {
    var entity = entity("dies");
    Pool a = new Pool();
    Pool b = new Pool();
    entity.tell(a.demand("dies", 8, 8));
    assertEquals(8, a.latest().granted());
    entity.tell(b.demand("dies", 8, 0));
    assertEquals(0, b.latest().granted(), "a still holds everything");
    a.probe.stop();
    assertEquals(8, b.latest().granted());
  }

  @Test
  void aPinLowersTheGrantAtOnceAndCountsHeldSlotsUntilReportedThenUnpinResumes() {
    var entity = entity("pin");
    Pool node = new Pool();
    entity.tell(node.demand("pin", 100, 0));
    assertEquals(8, node.latest().granted());
    entity.tell(node.demand("pin", 100, 8));
    node.latest();
    TestProbe<LeaseProtocol.Leases> admin = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.SetPin("pin", 2, "test", admin.ref()));
    LeaseProtocol.Leases pinned = admin.receiveMessage();
    assertEquals(2, pinned.limit());
    assertEquals(2, pinned.pinned());
    assertEquals(false, pinned.drained());
    Lease lowered = node.latest();
    assertEquals(2, lowered.granted());
    assertEquals(2, lowered.limit());
    // the node may still hold 8 until it reports under the lowered lease: the book counts them
    assertEquals(8, pinned.nodes().get(0).counted());
    entity.tell(node.demand("pin", 100, 2));
    assertEquals(2, node.latest().granted());
    entity.tell(new LeaseProtocol.SetPin("pin", 0, "test", admin.ref()));
    LeaseProtocol.Leases unpinned = admin.receiveMessage();
    assertEquals(0, unpinned.pinned());
    assertEquals(2, unpinned.limit(), "the controller resumes from the pinned value");
    // the fixed controller, resumed from 2, tells its own limit again: 8
    TestProbe<LeaseProtocol.Leases> get = testKit.createTestProbe();
    LeaseProtocol.Leases after = get.awaitAssert(Duration.ofSeconds(3), () -> {
      entity.tell(new LeaseProtocol.GetLeases("pin", get.ref()));
      LeaseProtocol.Leases l = get.receiveMessage();
      assertEquals(8, l.limit(), l.toString());
      return l;
    });
    assertEquals(0, after.pinned());
    entity.tell(node.demand("pin", 100, 2));
    assertEquals(8, node.latest().granted());
  }

  @Test
  void aDrainGrantsNothingToAnyNodeUntilUndrained() {
    var entity = entity("drain");
    Pool node = new Pool();
    entity.tell(node.demand("drain", 100, 0));
    assertEquals(8, node.latest().granted());
    entity.tell(node.demand("drain", 100, 8));
    node.latest();
    TestProbe<LeaseProtocol.Leases> admin = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.SetDrain("drain", true, "test", admin.ref()));
    LeaseProtocol.Leases drained = admin.receiveMessage();
    assertTrue(drained.drained());
    assertEquals(0, drained.limit());
    assertEquals(0, node.latest().granted());
    // what is in flight counts until the node reports it done
    assertEquals(8, drained.nodes().get(0).counted());
    entity.tell(node.demand("drain", 100, 0));
    assertEquals(0, node.latest().granted(), "drained: nothing new even with the slots free");
    entity.tell(new LeaseProtocol.SetDrain("drain", false, "test", admin.ref()));
    LeaseProtocol.Leases back = admin.receiveMessage();
    assertEquals(false, back.drained());
    assertEquals(8, back.limit());
    entity.tell(node.demand("drain", 100, 0));
    assertEquals(8, node.latest().granted());
  }

  @Test
  void aNewSpecReplacesTheControllerAndDemandsWithTheOldSpecDoNotChangeItBack() {
    var entity = entity("spec");
    Pool node = new Pool();
    entity.tell(node.demand("spec", 100, 0));
    assertEquals(8, node.latest().granted());
    TestProbe<LeaseProtocol.Leases> admin = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.SetSpec("spec", LimitSpec.fixed(3), "test reload", admin.ref()));
    LeaseProtocol.Leases answer = admin.receiveMessage();
    assertEquals("fixed", answer.algorithm());
    // the new controller's first decision lowers the grant; the node still holds 8 until it reports
    Lease lowered = node.latest();
    assertEquals(3, lowered.limit());
    assertEquals(3, lowered.granted());
    entity.tell(node.demand("spec", 100, 3)); // still with FIXED_8: a node not yet reloaded
    assertEquals(3, node.latest().granted(), "a demand with the old spec does not change it back");
    entity.tell(new LeaseProtocol.SetSpec("spec", LimitSpec.fixed(3), "the same again", admin.ref()));
    assertEquals(3, admin.receiveMessage().limit(), "the same spec changes nothing");
    entity.tell(new LeaseProtocol.SetSpec("spec", LimitSpec.fixed(12), "raise", admin.ref()));
    admin.receiveMessage();
    entity.tell(node.demand("spec", 100, 3));
    assertEquals(12, node.latest().granted());
  }

  @Test
  void aNewSpecUnderAPinKeepsThePin() {
    var entity = entity("spec-pin");
    Pool node = new Pool();
    entity.tell(node.demand("spec-pin", 100, 0));
    assertEquals(8, node.latest().granted());
    TestProbe<LeaseProtocol.Leases> admin = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.SetPin("spec-pin", 2, "test", admin.ref()));
    admin.receiveMessage();
    entity.tell(new LeaseProtocol.SetSpec("spec-pin", LimitSpec.fixed(5), "test reload", admin.ref()));
    LeaseProtocol.Leases pinned = admin.receiveMessage();
    assertEquals(2, pinned.limit());
    assertEquals(2, pinned.pinned());
    entity.tell(new LeaseProtocol.SetPin("spec-pin", 0, "test", admin.ref()));
    admin.receiveMessage();
    TestProbe<LeaseProtocol.Leases> get = testKit.createTestProbe();
    get.awaitAssert(Duration.ofSeconds(3), () -> {
      entity.tell(new LeaseProtocol.GetLeases("spec-pin", get.ref()));
      LeaseProtocol.Leases l = get.receiveMessage();
      assertEquals(5, l.limit(), "unpinned, the new spec's controller sets the limit: " + l);
      return l;
    });
  }
}
