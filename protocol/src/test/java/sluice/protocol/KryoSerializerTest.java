package sluice.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every message that crosses nodes survives a round trip through Pekko serialization. */
class KryoSerializerTest {
  private static ActorTestKit testKit;
  private static Serialization serialization;

  @BeforeAll
  static void start() {
    testKit = ActorTestKit.create();
    serialization = SerializationExtension.get(testKit.system().classicSystem());
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static Object roundTrip(Object message) {
    try {
      Serializer serializer = serialization.serializerFor(message.getClass());
      assertInstanceOf(KryoSerializer.class, serializer, "bound to the Kryo serializer");
      byte[] bytes = serializer.toBinary(message);
      return serializer.fromBinary(bytes, message.getClass());
    } catch (java.io.NotSerializableException e) {
      throw new AssertionError(e);
    }
  }

  private static final LimitSpec SPEC = new LimitSpec("band", 2, 300, 8,
      Map.of("metric", "throughput", "low", "100", "high", "120"));

  @Test
  void demandWithLimitSpec() {
    TestProbe<LeaseProtocol.Lease> probe = testKit.createTestProbe();
    LeaseProtocol.Demand demand = new LeaseProtocol.Demand("127.0.0.1:9001", SPEC, 12, 2, 3, 5,
        0x5eed_cafe_f00dL, 7L, -123_456_789_012L, probe.ref());
    assertEquals(demand, roundTrip(demand));
  }

  @Test
  void release() {
    TestProbe<LeaseProtocol.Lease> probe = testKit.createTestProbe();
    var release = new LeaseProtocol.Release("127.0.0.1:9001", probe.ref());
    assertEquals(release, roundTrip(release));
  }

  @Test
  void demandCarriesAWorkingReplyAddress() {
    TestProbe<LeaseProtocol.Lease> probe = testKit.createTestProbe();
    var back = (LeaseProtocol.Demand) roundTrip(
        new LeaseProtocol.Demand("b", LimitSpec.fixed(4), 1, 0, 0, 0L, 0L, 42L, probe.ref()));
    var lease = new LeaseProtocol.Lease("b", 9L, 1, 4, 1, 42L, 2_000_000_000L, "test");
    back.replyTo().tell(lease);
    assertEquals(lease, probe.receiveMessage());
  }

  @Test
  void getLeases() {
    TestProbe<LeaseProtocol.Leases> probe = testKit.createTestProbe();
    var get = new LeaseProtocol.GetLeases("127.0.0.1:9001", probe.ref());
    assertEquals(get, roundTrip(get));
  }

  @Test
  void leases() {
    var leases = new LeaseProtocol.Leases("127.0.0.1:9001", Long.MAX_VALUE, 24, false, "auto",
        "auto: 900 req/s, mean 4.0 ms, limit 20 -> 24", 1_234L, List.of(
            new LeaseProtocol.NodeLease("sluice@127.0.0.1:2552", 2, 12, 13),
            new LeaseProtocol.NodeLease("sluice@127.0.0.1:2553", 1, 11, 11)));
    assertEquals(leases, roundTrip(leases));
    var none = new LeaseProtocol.Leases("b", 7L, 0, true, "", "no limit yet", -1L, List.of());
    assertEquals(none, roundTrip(none));
    var pinnedAndDrained = new LeaseProtocol.Leases("b", 7L, 0, false, "auto", "drained", 5L,
        List.of(new LeaseProtocol.NodeLease("sluice@127.0.0.1:2552", 1, 0, 3)), 2, true);
    assertEquals(pinnedAndDrained, roundTrip(pinnedAndDrained));
  }

  @Test
  void setPinCarriesAWorkingReplyAddress() {
    TestProbe<LeaseProtocol.Leases> probe = testKit.createTestProbe();
    var pin = new LeaseProtocol.SetPin("127.0.0.1:9001", 2, "POST /backends/127.0.0.1:9001/pin?limit=2", probe.ref());
    var back = (LeaseProtocol.SetPin) roundTrip(pin);
    assertEquals(pin, back);
    var unpin = new LeaseProtocol.SetPin("127.0.0.1:9001", 0, "unpin", probe.ref());
    assertEquals(unpin, roundTrip(unpin));
    var leases = new LeaseProtocol.Leases("b", 1L, 2, false, "fixed", "pinned", 0L, List.of(), 2, false);
    back.replyTo().tell(leases);
    assertEquals(leases, probe.receiveMessage());
  }

  @Test
  void setDrain() {
    TestProbe<LeaseProtocol.Leases> probe = testKit.createTestProbe();
    var drain = new LeaseProtocol.SetDrain("127.0.0.1:9001", true, "POST /backends/127.0.0.1:9001/drain", probe.ref());
    assertEquals(drain, roundTrip(drain));
    var undrain = new LeaseProtocol.SetDrain("127.0.0.1:9001", false, "undrain", probe.ref());
    assertEquals(undrain, roundTrip(undrain));
  }

  @Test
  void setSpecCarriesTheSpecAndAWorkingReplyAddress() {
    TestProbe<LeaseProtocol.Leases> probe = testKit.createTestProbe();
    var spec = new LimitSpec("gradient", 2, 40, 8, Map.of("buffer", "0.5", "jitter", "10"));
    var set = new LeaseProtocol.SetSpec("127.0.0.1:9001", spec, "reload on node sluice@127.0.0.1:2552", probe.ref());
    var back = (LeaseProtocol.SetSpec) roundTrip(set);
    assertEquals(set, back);
    var leases = new LeaseProtocol.Leases("b", 1L, 8, false, "gradient", "new spec", 0L, List.of());
    back.replyTo().tell(leases);
    assertEquals(leases, probe.receiveMessage());
  }

  @Test
  void poolEditsRoundTripAndTheReplyAddressWorks() {
    TestProbe<PoolEdits.PoolEdited> probe = testKit.createTestProbe();
    var edit = new PoolEdits.EditPool("web", "127.0.0.1:9003", true, "admin call POST /pools/web/add", probe.ref());
    var back = (PoolEdits.EditPool) roundTrip(edit);
    assertEquals(edit, back);
    var remove = new PoolEdits.EditPool("web", "127.0.0.1:9003", false, "remove", probe.ref());
    assertEquals(remove, roundTrip(remove));
    var done = new PoolEdits.PoolEdited("127.0.0.1:2552", true, List.of("sluice.pools.web: back-end added"), List.of());
    assertEquals(done, roundTrip(done));
    var refused = new PoolEdits.PoolEdited("127.0.0.1:2553", false, List.of(), List.of("one", "two"));
    assertEquals(refused, roundTrip(refused));
    back.replyTo().tell(done);
    assertEquals(done, probe.receiveMessage());
  }

  @Test
  void lease() {
    var lease = new LeaseProtocol.Lease("127.0.0.1:9001", Long.MAX_VALUE, 3, 24, 12,
        Long.MIN_VALUE + 17, 2_000_000_000L, "fixed: initial");
    assertEquals(lease, roundTrip(lease));
  }

  @Test
  void sampleBatch() {
    var batch = new LeaseProtocol.SampleBatch("127.0.0.1:9001", "127.0.0.1:2552", 100_000_000L, 50, 2, 1,
        123_456_789L, 1_000_000L, 9_000_000L, 8, 55, 17, 3.5, 2);
    assertEquals(batch, roundTrip(batch));
    var l4 = new LeaseProtocol.SampleBatch("127.0.0.1:5432", "127.0.0.1:2552", 100_000_000L, 50, 2, 0,
        123_456_789L, 1_000_000L, 9_000_000L, 8, 55, 17, 0, 0, 5_000_000_000L, 48, 96_000_000L);
    assertEquals(l4, roundTrip(l4));
  }

  @Test
  void statusAndGetStatus() {
    TestProbe<LeaseProtocol.Status> probe = testKit.createTestProbe();
    var get = new LeaseProtocol.GetStatus("b", probe.ref());
    assertEquals(get, roundTrip(get));
    var status = new LeaseProtocol.Status("b", 0x1234_5678_9abcL, 10, 7, 2, true, "why");
    assertEquals(status, roundTrip(status));
    var learned = new LeaseProtocol.Status("b", 1L, 10, 7, 2, false, "why");
    assertEquals(learned, roundTrip(learned));
  }

  @Test
  void limitDecision() {
    var decision = new LimitDecision("b", 17, "auto: knee found");
    assertEquals(decision, roundTrip(decision));
  }

  @Test
  void unregisteredClassesAreRefused() {
    var serializer = new KryoSerializer((org.apache.pekko.actor.ExtendedActorSystem) testKit.system().classicSystem());
    assertThrows(IllegalArgumentException.class, () -> serializer.toBinary(new java.util.ArrayList<String>()));
  }
}
