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
  /** The node has applied every lease sent to it. */
  private static final long SEQ = Long.MAX_VALUE;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private ActorRef<LeaseProtocol.Command> entity(String id) {
    return testKit.spawn(BackendEntity.create(id, Duration.ofHours(1)));
  }

  /** The last lease a node holds after the entity has settled. */
  private static Lease latest(TestProbe<Lease> node) {
    Lease last = node.receiveMessage();
    while (true) {
      try {
        last = node.receiveMessage(Duration.ofMillis(200));
      } catch (AssertionError none) {
        return last;
      }
    }
  }

  @Test
  void oneNodeGetsWhatItWantsUpToTheLimit() {
    var entity = entity("one");
    TestProbe<Lease> node = testKit.createTestProbe();
    entity.tell(new Demand("one", FIXED_8, 3, 0, SEQ, node.ref()));
    assertEquals(3, latest(node).granted());
    entity.tell(new Demand("one", FIXED_8, 100, 3, SEQ, node.ref()));
    Lease lease = latest(node);
    assertEquals(8, lease.granted());
    assertEquals(8, lease.limit());
  }

  @Test
  void twoNodesShareAndNeverExceedTheLimit() {
    var entity = entity("two");
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    entity.tell(new Demand("two", FIXED_8, 100, 0, SEQ, a.ref()));
    assertEquals(8, latest(a).granted());
    // a holds all 8; b asks: a's grant drops to its fair share, b gets only what is free (nothing yet)
    entity.tell(new Demand("two", FIXED_8, 100, 0, SEQ, b.ref()));
    assertEquals(0, latest(b).granted());
    assertEquals(4, latest(a).granted());
    // a reports it let 4 connections go: b may now take them
    entity.tell(new Demand("two", FIXED_8, 100, 4, SEQ, a.ref()));
    entity.tell(new Demand("two", FIXED_8, 100, 0, SEQ, b.ref()));
    assertEquals(4, latest(b).granted());
    TestProbe<LeaseProtocol.Status> status = testKit.createTestProbe();
    entity.tell(new LeaseProtocol.GetStatus("two", status.ref()));
    assertEquals(8, status.receiveMessage().granted());
  }

  @Test
  void aLowerLimitIsHonouredAsNodesGiveSlotsBack() {
    var entity = entity("lower");
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    entity.tell(new Demand("lower", FIXED_8, 4, 4, SEQ, a.ref()));
    entity.tell(new Demand("lower", FIXED_8, 4, 0, SEQ, b.ref()));
    assertEquals(4, latest(a).granted());
    assertEquals(4, latest(b).granted());
    entity.tell(new LimitDecision("lower", 4, "test"));
    assertEquals(2, latest(a).granted());
    assertEquals(2, latest(b).granted());
    // a still holds 4 connections: even if b asks for more, nothing beyond 4 in total is lent
    entity.tell(new Demand("lower", FIXED_8, 10, 2, SEQ, b.ref()));
    assertEquals(2, latest(b).granted());
  }

  @Test
  void aReportOlderThanALoweredGrantDoesNotFreeSlots() {
    var entity = entity("stale");
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    entity.tell(new Demand("stale", FIXED_8, 100, 0, SEQ, a.ref()));
    Lease full = latest(a);
    assertEquals(8, full.granted());
    entity.tell(new Demand("stale", FIXED_8, 100, 0, SEQ, b.ref()));
    Lease lowered = latest(a);
    assertEquals(4, lowered.granted());
    // a report a counted before it saw the lowered grant says 0 held; a may hold 8 by now
    entity.tell(new Demand("stale", FIXED_8, 100, 0, full.seq(), a.ref()));
    entity.tell(new Demand("stale", FIXED_8, 100, 0, SEQ, b.ref()));
    assertEquals(0, latest(b).granted());
    // once a confirms after the lowered lease, its freed slots move to b
    entity.tell(new Demand("stale", FIXED_8, 100, 4, lowered.seq(), a.ref()));
    entity.tell(new Demand("stale", FIXED_8, 100, 0, SEQ, b.ref()));
    assertEquals(4, latest(b).granted());
  }

  @Test
  void slotsOfANodeThatDiesGoBack() {
    var entity = entity("dies");
    TestProbe<Lease> a = testKit.createTestProbe();
    TestProbe<Lease> b = testKit.createTestProbe();
    entity.tell(new Demand("dies", FIXED_8, 8, 8, SEQ, a.ref()));
    assertEquals(8, latest(a).granted());
    entity.tell(new Demand("dies", FIXED_8, 8, 0, SEQ, b.ref()));
    assertTrue(latest(b).granted() == 0, "a still holds everything");
    a.stop();
    assertEquals(8, latest(b).granted());
  }
}
