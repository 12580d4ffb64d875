package sluice.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.protocol.LeaseProtocol.SampleBatch;
import sluice.protocol.LimitDecision;
import sluice.protocol.LimitSpec;

/** The controller actor: windows of node samples in, clamped limit decisions out. */
class ControllerTest {
  private static final ActorTestKit testKit = ActorTestKit.create(
      ManualTime.config().withFallback(ConfigFactory.parseString("pekko.actor.serialize-messages = on")));
  private static final ManualTime time = ManualTime.get(testKit.system());
  private static final Duration WINDOW = Duration.ofMillis(250);

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** One node's 250 ms: 100 completed at 5 ms, as many in flight as the limit, a queue behind. */
  private static SampleBatch busy(String node, int dropped, int inFlight) {
    return new SampleBatch("b", node, WINDOW.toNanos(), 100, dropped, 0, 100 * 5_000_000L, 4_000_000L, 9_000_000L,
        inFlight, 120, 50, 0, 0);
  }

  private ActorRef<Controller.Command> controller(LimitSpec spec, TestProbe<LimitDecision> decisions) {
    return testKit.spawn(Controller.create("b", spec, WINDOW, decisions.ref()));
  }

  @Test
  void theFirstDecisionIsTheInitialLimit() {
    TestProbe<LimitDecision> decisions = testKit.createTestProbe();
    controller(new LimitSpec("aimd", 2, 10, 6, Map.of()), decisions);
    LimitDecision first = decisions.receiveMessage();
    assertEquals(6, first.limit());
    assertTrue(first.reason().contains("aimd"), first.reason());
  }

  @Test
  void decisionsFollowTheAlgorithmWithinTheBoundsAndOnlyWhenTheLimitChanges() {
    TestProbe<LimitDecision> decisions = testKit.createTestProbe();
    var controller = controller(new LimitSpec("aimd", 2, 10, 9, Map.of()), decisions);
    assertEquals(9, decisions.receiveMessage().limit());

    controller.tell(new Controller.Samples(busy("n1", 0, 9)));
    time.timePasses(WINDOW);
    assertEquals(10, decisions.receiveMessage().limit(), "aimd adds one on a limit-bound window");

    controller.tell(new Controller.Samples(busy("n1", 0, 10)));
    time.timePasses(WINDOW);
    decisions.expectNoMessage(Duration.ofMillis(100)); // 11 is above max: clamped to 10, unchanged

    time.timePasses(WINDOW); // a window without samples decides nothing
    decisions.expectNoMessage(Duration.ofMillis(100));

    controller.tell(new Controller.Samples(busy("n1", 5, 10)));
    LimitDecision backOff;
    time.timePasses(WINDOW);
    backOff = decisions.receiveMessage();
    assertEquals(9, backOff.limit(), "aimd backs off on drops");
    assertTrue(backOff.reason().contains("limit 10 -> 9"), backOff.reason());
  }

  @Test
  void samplesOfSeveralNodesInOneWindowAreOneWindow() {
    TestProbe<LimitDecision> decisions = testKit.createTestProbe();
    var controller = controller(new LimitSpec("aimd", 1, 100, 10, Map.of()), decisions);
    assertEquals(10, decisions.receiveMessage().limit());
    // each node alone is below the limit; together they fill it: the window is limit-bound
    controller.tell(new Controller.Samples(new SampleBatch("b", "n1", WINDOW.toNanos(), 50, 0, 0, 50 * 5_000_000L,
        4_000_000L, 9_000_000L, 5, 60, 0, 0, 0)));
    controller.tell(new Controller.Samples(new SampleBatch("b", "n2", WINDOW.toNanos(), 50, 0, 0, 50 * 5_000_000L,
        4_000_000L, 9_000_000L, 5, 60, 7, 0, 0)));
    time.timePasses(WINDOW);
    assertEquals(11, decisions.receiveMessage().limit());
  }

  @Test
  void anL4BandOnBytesPerSecondSeesTheBytesOfEveryNodeAndTheReasonShowsThem() {
    TestProbe<LimitDecision> decisions = testKit.createTestProbe();
    var spec = new LimitSpec("band", 1, 100, 10, Map.of("metric", "bytes-per-second", "low", "1000000",
        "high", "2000000"));
    var controller = controller(spec, decisions);
    assertEquals(10, decisions.receiveMessage().limit());
    // two nodes relay 300 kB each in 250 ms: 2.4 MB/s together, above the band: one step down
    for (String node : new String[] {"n1", "n2"}) {
      controller.tell(new Controller.Samples(new SampleBatch("b", node, WINDOW.toNanos(), 10, 0, 0, 10 * 5_000_000L,
          4_000_000L, 9_000_000L, 5, 10, 3, 0, 0, 300_000L, 10, 10 * 2_000_000L)));
    }
    time.timePasses(WINDOW);
    LimitDecision down = decisions.receiveMessage();
    assertEquals(9, down.limit());
    assertTrue(down.reason().contains("2.4 MB/s, first byte 2.0 ms"), down.reason());
  }

  @Test
  void pinnedItDecidesNothingAndUnpinnedItResumesFromThePinnedValueWithinTheBounds() {
    TestProbe<LimitDecision> decisions = testKit.createTestProbe();
    var controller = controller(new LimitSpec("aimd", 2, 10, 6, Map.of()), decisions);
    assertEquals(6, decisions.receiveMessage().limit());
    controller.tell(Controller.Pin.INSTANCE);
    controller.tell(new Controller.Samples(busy("n1", 0, 6)));
    time.timePasses(WINDOW);
    decisions.expectNoMessage(Duration.ofMillis(100)); // a limit-bound window, but pinned: no decision

    controller.tell(new Controller.Unpin(4));
    LimitDecision resumed = decisions.receiveMessage();
    assertEquals(4, resumed.limit());
    assertTrue(resumed.reason().contains("resumes from 4"), resumed.reason());
    controller.tell(new Controller.Samples(busy("n1", 0, 4)));
    time.timePasses(WINDOW);
    assertEquals(5, decisions.receiveMessage().limit(), "aimd moves on from the pinned value");

    controller.tell(Controller.Pin.INSTANCE);
    controller.tell(new Controller.Unpin(50));
    assertEquals(10, decisions.receiveMessage().limit(), "a pin above max resumes from max");
  }
}
