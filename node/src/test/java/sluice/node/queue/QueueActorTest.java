package sluice.node.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.node.queue.QueueActor.Assign;
import sluice.node.queue.QueueActor.Backlog;
import sluice.node.queue.QueueActor.Capacity;
import sluice.node.queue.QueueActor.ToBackend;
import sluice.node.settings.Balance;
import sluice.node.settings.QueueSettings;

/** The queue actor alone, with test probes as its back-ends and plain work items. */
class QueueActorTest {
  private static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private final ConnectionGate gate = new ConnectionGate();

  private ActorRef<QueueActor.Command> queue(int max, Duration timeout, int refuseAbove, Balance balance) {
    return queue(2, max, timeout, refuseAbove, balance);
  }

  private ActorRef<QueueActor.Command> queue(int poolSize, int max, Duration timeout, int refuseAbove,
      Balance balance) {
    return testKit.spawn(QueueActor.create("web", poolSize,
        new QueueSettings(max, timeout, refuseAbove, Duration.ofSeconds(1)), balance, gate, "web-0",
        Duration.ofHours(1)));
  }

  /** Greets the queue as back-end {@code id} and returns the incarnation of the queue it learnt. */
  private static long join(ActorRef<QueueActor.Command> queue, TestProbe<ToBackend> backend, String id, long inc,
      int free) {
    queue.tell(new Capacity(backend.ref(), id, inc, 0, 0, 0, 0, free, true));
    Backlog hello = backend.expectMessageClass(Backlog.class);
    queue.tell(new Capacity(backend.ref(), id, inc, hello.queueIncarnation(), 0, free, 0, free, true));
    return hello.queueIncarnation();
  }

  private static List<TestWork> items(int n) {
    List<TestWork> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new TestWork("w" + i));
    }
    return out;
  }

  @Test
  void workGoesOutInOrderAndNeverBeyondTheCredit() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> b = testKit.createTestProbe();
    long qInc = join(queue, b, "b", 7, 2);
    List<TestWork> work = items(5);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    assertSame(work.get(0), b.expectMessageClass(Assign.class).work());
    assertSame(work.get(1), b.expectMessageClass(Assign.class).work());
    b.expectMessageClass(Backlog.class); // the third waits: back-ends hear of the backlog
    b.expectNoMessage(Duration.ofMillis(100));
    // the back-end took both and finished one: one more credit, counted after the two it received
    queue.tell(new Capacity(b.ref(), "b", 7, qInc, 2, 1, 1, 2, true));
    assertSame(work.get(2), b.expectMessageClass(Assign.class).work());
    b.expectNoMessage(Duration.ofMillis(100));
    // a capacity told before the third arrived must not count it twice
    queue.tell(new Capacity(b.ref(), "b", 7, qInc, 2, 1, 1, 2, true));
    b.expectNoMessage(Duration.ofMillis(100));
    queue.tell(new Capacity(b.ref(), "b", 7, qInc, 3, 2, 0, 2, true));
    assertSame(work.get(3), b.expectMessageClass(Assign.class).work());
    assertSame(work.get(4), b.expectMessageClass(Assign.class).work());
  }

  @Test
  void returnedWorkGoesBackToTheHead() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> b = testKit.createTestProbe();
    long qInc = join(queue, b, "b", 1, 1);
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    assertSame(work.get(0), b.expectMessageClass(Assign.class).work());
    b.expectMessageClass(Backlog.class);
    // its slot went away on the way: lower capacity first, then the item back
    queue.tell(new Capacity(b.ref(), "b", 1, qInc, 1, 0, 0, 0, true));
    queue.tell(new QueueActor.Returned(work.get(0)));
    b.expectNoMessage(Duration.ofMillis(100));
    queue.tell(new Capacity(b.ref(), "b", 1, qInc, 1, 1, 0, 1, true));
    assertSame(work.get(0), b.expectMessageClass(Assign.class).work(), "the returned item is first again");
  }

  @Test
  void roundRobinSpreadsOverBackendsWithCredit() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> a = testKit.createTestProbe();
    TestProbe<ToBackend> c = testKit.createTestProbe();
    join(queue, a, "a", 1, 5);
    join(queue, c, "c", 2, 5);
    items(4).forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    assertEquals("w0", a.expectMessageClass(Assign.class).work().toString());
    assertEquals("w1", c.expectMessageClass(Assign.class).work().toString());
    assertEquals("w2", a.expectMessageClass(Assign.class).work().toString());
    assertEquals("w3", c.expectMessageClass(Assign.class).work().toString());
  }

  @Test
  void aFullQueueRefusesAndATimedOutTestWorkIsRefused() throws Exception {
    var queue = queue(2, Duration.ofMillis(200), 2, Balance.ROUND_ROBIN);
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    QueueActor.QueueStatus s = status.receiveMessage();
    assertEquals(2, s.waiting());
    assertEquals(1, s.rejectedFull());
    assertEquals(Work.Refusal.QUEUE_FULL, work.get(2).refusal);
    Thread.sleep(400);
    queue.tell(new QueueActor.GetStatus(status.ref()));
    s = status.receiveMessage();
    assertEquals(0, s.waiting());
    assertEquals(2, s.expired());
    assertEquals(Work.Refusal.QUEUE_TIMEOUT, work.get(0).refusal);
    assertEquals(Work.Refusal.QUEUE_TIMEOUT, work.get(1).refusal);
  }

  @Test
  void workWhoseClientLeftIsDroppedUnsent() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    work.get(0).gone = true;
    TestProbe<ToBackend> b = testKit.createTestProbe();
    join(queue, b, "b", 3, 5);
    assertSame(work.get(1), b.expectMessageClass(Assign.class).work());
    assertSame(work.get(2), b.expectMessageClass(Assign.class).work());
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    assertEquals(1, status.receiveMessage().abandoned());
    assertNull(work.get(0).refusal);
  }

  @Test
  void aboveTheThresholdTheGateRefusesAndEverythingWaitingIsAnsweredWhenTheQueueStops() {
    var queue = queue(100, Duration.ofMinutes(1), 2, Balance.ROUND_ROBIN);
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    status.receiveMessage();
    assertTrue(gate.refusing());
    testKit.stop(queue);
    for (TestWork w : work) {
      assertInstanceOf(Work.Refusal.class, w.refusal);
      assertEquals(Work.Refusal.STOPPING, w.refusal);
    }
    assertTrue(!gate.refusing(), "a stopped queue refuses no connections");
  }

  @Test
  void aRestartedBackendStartsANewSession() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> b = testKit.createTestProbe();
    long qInc = join(queue, b, "b", 1, 1);
    List<TestWork> work = items(2);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    Assign first = b.expectMessageClass(Assign.class);
    assertEquals(1, first.backendIncarnation());
    b.expectMessageClass(Backlog.class);
    // the back-end restarted (new incarnation) and counts from 0: its 1 free slot is real
    queue.tell(new Capacity(b.ref(), "b", 2, qInc, 0, 1, 0, 1, true));
    Assign second = b.expectMessageClass(Assign.class);
    assertSame(work.get(1), second.work());
    assertEquals(2, second.backendIncarnation());
  }

  @Test
  void aBugRestartsTheQueueAndWhatWaitedIsAnswered() {
    ActorRef<QueueActor.Command> queue = testKit.spawn(Behaviors.supervise(QueueActor.create("web", 1,
        new QueueSettings(100, Duration.ofMinutes(1), 100, Duration.ofSeconds(1)), Balance.ROUND_ROBIN, gate, "web-0",
        Duration.ofHours(1))).onFailure(SupervisorStrategy.restart()));
    TestWork bomb = new TestWork("bomb") {
      boolean thrown;

      @Override
      public boolean abandoned() {
        if (!thrown) {
          thrown = true;
          throw new IllegalStateException("a bug, for the test");
        }
        return false;
      }
    };
    TestWork waiting = new TestWork("waiting");
    queue.tell(new QueueActor.Enqueue(bomb));
    queue.tell(new QueueActor.Enqueue(waiting));
    TestProbe<ToBackend> b = testKit.createTestProbe();
    queue.tell(new Capacity(b.ref(), "b", 1, 0, 0, 0, 0, 1, true)); // greets, then dispatch meets the bomb
    Backlog hello = b.expectMessageClass(Backlog.class);
    queue.tell(new Capacity(b.ref(), "b", 1, hello.queueIncarnation(), 0, 1, 0, 1, true));
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    status.receiveMessage(Duration.ofSeconds(5));
    assertEquals(Work.Refusal.STOPPING, bomb.refusal, "answered when the queue restarted");
    assertEquals(Work.Refusal.STOPPING, waiting.refusal);
    // the restarted queue is a new one: at the back-end's next capacity report it is greeted
    // again (a new incarnation) and then served
    queue.tell(new Capacity(b.ref(), "b", 1, hello.queueIncarnation(), 0, 1, 0, 1, true));
    Backlog again = b.expectMessageClass(Backlog.class);
    assertTrue(again.queueIncarnation() != hello.queueIncarnation());
    queue.tell(new Capacity(b.ref(), "b", 1, again.queueIncarnation(), 0, 1, 0, 1, true));
    TestWork after = new TestWork("after");
    queue.tell(new QueueActor.Enqueue(after));
    assertSame(after, b.expectMessageClass(Assign.class).work());
  }

  private static QueueActor.QueueStatus status(ActorRef<QueueActor.Command> queue) {
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    return status.receiveMessage();
  }

  @Test
  void whileTheOnlyBackendIsDownWaitingAndNewWorkIsRefusedAndItFlowsAgainWhenItIsUp() {
    var queue = queue(1, 100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> b = testKit.createTestProbe();
    long qInc = join(queue, b, "b", 1, 1);
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    assertSame(work.get(0), b.expectMessageClass(Assign.class).work());
    b.expectMessageClass(Backlog.class);
    // its connection attempt failed: down, and the item it held comes back after
    queue.tell(new Capacity(b.ref(), "b", 1, qInc, 1, 0, 0, 1, false));
    queue.tell(new QueueActor.Returned(work.get(0)));
    TestWork later = new TestWork("later");
    queue.tell(new QueueActor.Enqueue(later));
    QueueActor.QueueStatus s = status(queue);
    assertEquals(0, s.waiting());
    assertEquals(4, s.noBackendUp());
    for (TestWork w : work) {
      assertEquals(Work.Refusal.NO_BACKEND_UP, w.refusal, w.name);
    }
    assertEquals(Work.Refusal.NO_BACKEND_UP, later.refusal);
    // up again: work goes out at once
    queue.tell(new Capacity(b.ref(), "b", 1, qInc, 1, 1, 0, 1, true));
    TestWork after = new TestWork("after");
    queue.tell(new QueueActor.Enqueue(after));
    assertSame(after, b.expectMessageClass(Assign.class).work());
    assertNull(after.refusal);
    assertEquals(4, status(queue).noBackendUp());
  }

  @Test
  void oneBackendDownOfTwoRefusesNothing() {
    var queue = queue(2, 100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> a = testKit.createTestProbe();
    TestProbe<ToBackend> c = testKit.createTestProbe();
    long qInc = join(queue, a, "a", 1, 0);
    join(queue, c, "c", 2, 1);
    queue.tell(new Capacity(a.ref(), "a", 1, qInc, 0, 0, 0, 1, false));
    List<TestWork> work = items(3);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    assertSame(work.get(0), c.expectMessageClass(Assign.class).work());
    QueueActor.QueueStatus s = status(queue);
    assertEquals(2, s.waiting(), "the rest waits for the live back-end's slots");
    assertEquals(0, s.noBackendUp());
    assertNull(work.get(1).refusal);
    c.expectMessageClass(Backlog.class);
    queue.tell(new Capacity(c.ref(), "c", 2, qInc, 1, 1, 0, 1, true));
    assertSame(work.get(1), c.expectMessageClass(Assign.class).work());
  }

  @Test
  void aBackendNotYetHeardFromIsNotDown() {
    var queue = queue(2, 100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> a = testKit.createTestProbe();
    long qInc = join(queue, a, "a", 1, 0);
    queue.tell(new Capacity(a.ref(), "a", 1, qInc, 0, 0, 0, 1, false));
    TestWork w = new TestWork("w");
    queue.tell(new QueueActor.Enqueue(w));
    QueueActor.QueueStatus s = status(queue);
    assertEquals(1, s.waiting(), "the pool's second back-end has not told its capacity: it may be up");
    assertNull(w.refusal);
    // it tells it is down too: now none is up
    TestProbe<ToBackend> c = testKit.createTestProbe();
    queue.tell(new Capacity(c.ref(), "c", 2, 0, 0, 0, 0, 0, false));
    s = status(queue);
    assertEquals(0, s.waiting());
    assertEquals(Work.Refusal.NO_BACKEND_UP, w.refusal);
  }

  @Test
  void aBackEndThatLeftGetsNothingMoreAndTheOthersTakeItsShare() {
    var queue = queue(100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestProbe<ToBackend> a = testKit.createTestProbe();
    TestProbe<ToBackend> c = testKit.createTestProbe();
    join(queue, a, "a", 1, 5);
    join(queue, c, "c", 2, 5);
    queue.tell(new QueueActor.Leave(a.ref(), "a"));
    items(4).forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    for (int i = 0; i < 4; i++) {
      assertEquals("w" + i, c.expectMessageClass(Assign.class).work().toString());
    }
    a.expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aReconfiguredQueueKeepsWhatWaitsAndRefusesOnlyNewWorkAboveItsNewMax() {
    var queue = queue(1, 10, Duration.ofMinutes(1), 10, Balance.ROUND_ROBIN);
    List<TestWork> work = items(5);
    work.forEach(w -> queue.tell(new QueueActor.Enqueue(w)));
    queue.tell(new QueueActor.Reconfigure(new QueueSettings(2, Duration.ofMinutes(1), 2, Duration.ofSeconds(1)),
        Balance.ROUND_ROBIN, 1));
    TestWork late = new TestWork("late");
    queue.tell(new QueueActor.Enqueue(late));
    TestProbe<QueueActor.QueueStatus> status = testKit.createTestProbe();
    queue.tell(new QueueActor.GetStatus(status.ref()));
    assertEquals(5, status.receiveMessage().waiting(), "what waited stays");
    assertEquals(Work.Refusal.QUEUE_FULL, late.refusal);
    work.forEach(w -> assertNull(w.refusal));
    TestProbe<ToBackend> b = testKit.createTestProbe();
    join(queue, b, "b", 1, 5);
    for (int i = 0; i < 5; i++) {
      assertEquals("w" + i, b.expectMessageClass(Assign.class).work().toString());
    }
  }

  @Test
  void aClosedQueueAnswersOnceNothingHasWaitedForTheGrace() {
    var queue = queue(1, 100, Duration.ofMinutes(1), 100, Balance.ROUND_ROBIN);
    TestWork waiting = new TestWork("w");
    queue.tell(new QueueActor.Enqueue(waiting));
    TestProbe<QueueActor.Closed> closed = testKit.createTestProbe();
    queue.tell(new QueueActor.Close(Duration.ofMillis(300), closed.ref()));
    closed.expectNoMessage(Duration.ofMillis(500)); // something waits: no answer, however long
    TestProbe<ToBackend> b = testKit.createTestProbe();
    join(queue, b, "b", 1, 1);
    assertSame(waiting, b.expectMessageClass(Assign.class).work());
    long served = System.nanoTime();
    QueueActor.Closed answer = closed.receiveMessage(Duration.ofSeconds(3));
    assertEquals("web", answer.pool());
    assertTrue(System.nanoTime() - served >= Duration.ofMillis(250).toNanos(), "not before the grace");
    closed.expectNoMessage(Duration.ofMillis(300));
  }
}
