package sluice.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sluice.demo.ThrashingBackend;

/**
 * Three real node JVMs on loopback in front of one back-end that counts its own concurrent
 * requests (the demo back-end with a fixed 5 ms per request and no thrashing). Whatever a test
 * does to the nodes, the back-end must never see more than the limit L in flight from all of
 * them together. Times the tests measure are printed (they are figures, asserted only with
 * wide bounds: this machine is shared).
 */
class ClusterTest {
  private static final int L = 12;
  private static final Duration READY = Duration.ofSeconds(60);

  private ThrashingBackend backend;
  private final List<NodeProcess> nodes = new ArrayList<>();
  private final List<Clients> clients = new ArrayList<>();

  @BeforeEach
  void startBackend() {
    backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (Clients c : clients) {
      c.close();
    }
    for (NodeProcess n : nodes) {
      if (n.alive()) {
        n.signal("CONT"); // in case a test left one frozen
      }
      n.close();
    }
    backend.close();
  }

  /** Starts nodes with the given ports (all of them the seeds) at once and waits until each is ready. */
  private List<NodeProcess> start(List<NodeProcess.Ports> seeds, List<NodeProcess.Ports> which) throws Exception {
    return NodeProcess.startAll("node-", seeds, which, backend.port(), L, nodes, READY);
  }

  private List<NodeProcess> startThree() throws Exception {
    List<NodeProcess.Ports> seeds = List.of(NodeProcess.Ports.free(), NodeProcess.Ports.free(),
        NodeProcess.Ports.free());
    return start(seeds, seeds);
  }

  private Clients load(NodeProcess node, int connections) {
    Clients c = new Clients(node.ports.http(), connections);
    clients.add(c);
    return c;
  }

  private static int granted(NodeProcess n) {
    return n.status().map(NodeProcess.Status::granted).orElse(0);
  }

  /** Polls until {@code condition} holds; the time it took, or fails after {@code timeout}. */
  private static Duration await(String what, Duration timeout, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + ": not within " + timeout);
      }
      Thread.sleep(10);
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    System.out.printf("MEASURED %s: %d ms%n", what, took.toMillis());
    return took;
  }

  private void assertNeverAboveTheLimit() {
    int max = backend.stats().maxInFlight();
    System.out.printf("MEASURED the back-end's most in flight: %d (limit %d)%n", max, L);
    assertTrue(max <= L, "the back-end saw " + max + " requests in flight, above the limit " + L);
  }

  private static void assertNoErrors(String who, Clients c) {
    assertEquals(Map.of(), c.errors(), who + "'s clients saw errors");
    assertTrue(c.ok.get() > 0, who + "'s clients were served");
  }

  @Test
  void theLimitHoldsOverThreeNodesUnderLoad() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24)); // 72 clients against a limit of 12
    }
    await("every node holds slots under even load", Duration.ofSeconds(20),
        () -> three.stream().allMatch(n -> granted(n) >= 3));
    long before = backend.stats().served();
    Thread.sleep(4_000);
    long served = backend.stats().served() - before;
    int sum = three.stream().mapToInt(ClusterTest::granted).sum();
    System.out.printf("MEASURED served in 4 s through 3 nodes: %d (%.0f req/s); slots held: %d of %d%n", served,
        served / 4.0, sum, L);
    assertTrue(sum <= L, "slots held " + sum + " above the limit");
    assertNeverAboveTheLimit();
    for (int i = 0; i < 3; i++) {
      assertNoErrors(three.get(i).name, each.get(i));
    }
  }

  @Test
  void slotsFollowTheLoadFromOneNodeToAnother() throws Exception {
    List<NodeProcess> three = startThree();
    NodeProcess a = three.get(0);
    NodeProcess b = three.get(1);
    Clients onA = load(a, 48);
    await("node 1 holds at least 90% of L under all the load", Duration.ofSeconds(20),
        () -> granted(a) >= Math.ceil(0.9 * L));
    onA.close();
    clients.remove(onA);
    Clients onB = load(b, 48);
    Duration took = await("slots follow the load to node 2 (90% of L)", Duration.ofSeconds(10),
        () -> granted(b) >= Math.ceil(0.9 * L));
    assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0);
    await("node 1, with nothing waiting, gives its spare slots back", Duration.ofSeconds(10),
        () -> granted(a) <= 1);
    assertNeverAboveTheLimit();
    assertNoErrors(b.name, onB);
  }

  @Test
  void aKilledNodesSlotsAreBackInUseWithinTheLeaseTime() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24));
    }
    // the node to kill must not host the back-end's entity: that is the next test
    NodeProcess victim = three.stream()
        .filter(n -> n.status().map(s -> s.entitiesHere().isEmpty()).orElse(false))
        .findFirst().orElseThrow();
    await("all three hold slots", Duration.ofSeconds(20), () -> three.stream().allMatch(n -> granted(n) >= 3));
    List<NodeProcess> others = three.stream().filter(n -> n != victim).toList();
    long killed = System.nanoTime();
    victim.kill();
    Duration back = await("a killed node's slots back in use by the others",
        Duration.ofSeconds(15), () -> others.stream().mapToInt(ClusterTest::granted).sum() >= L - 1);
    System.out.printf("MEASURED from SIGKILL to the others holding %d+ slots: %d ms%n", L - 1,
        Duration.ofNanos(System.nanoTime() - killed).toMillis());
    assertTrue(back.compareTo(Duration.ofSeconds(15)) < 0);
    Thread.sleep(1_000);
    assertNeverAboveTheLimit();
    for (int i = 0; i < 3; i++) {
      if (three.get(i) != victim) {
        assertNoErrors(three.get(i).name, each.get(i));
      }
    }
  }

  @Test
  void killingTheNodeThatHostsTheEntityMovesItAndTheLimitHolds() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24));
    }
    await("all three hold slots", Duration.ofSeconds(20), () -> three.stream().allMatch(n -> granted(n) >= 3));
    NodeProcess host = three.stream()
        .filter(n -> n.status().map(s -> !s.entitiesHere().isEmpty()).orElse(false))
        .findFirst().orElseThrow();
    List<NodeProcess> others = three.stream().filter(n -> n != host).toList();
    host.kill();
    Predicate<NodeProcess> hosts = n -> n.status().map(s -> !s.entitiesHere().isEmpty()).orElse(false);
    await("the entity runs on another node", Duration.ofSeconds(60), () -> others.stream().anyMatch(hosts));
    long servedAfterMove = backend.stats().served();
    await("the others serve again with the moved entity's leases", Duration.ofSeconds(30),
        () -> backend.stats().served() > servedAfterMove + 100
            && others.stream().allMatch(n -> granted(n) >= 1));
    Thread.sleep(1_000);
    assertNeverAboveTheLimit();
    for (int i = 0; i < 3; i++) {
      if (three.get(i) != host) {
        assertNoErrors(three.get(i).name + " (requests wait in its queue while the entity moves)", each.get(i));
      }
    }
  }

  @Test
  void aGracefulLeaveFinishesItsRequestsAndGivesItsSlotsBack() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24));
    }
    await("all three hold slots", Duration.ofSeconds(20), () -> three.stream().allMatch(n -> granted(n) >= 3));
    NodeProcess leaving = three.get(2);
    List<NodeProcess> others = three.subList(0, 2);
    long servedByLeaving = leaving.status().orElseThrow().served();
    leaving.terminate();
    Optional<Integer> exit = leaving.awaitExit(Duration.ofSeconds(30));
    // the JVM ends with 143 (128 + SIGTERM) once its shutdown hooks, the graceful stop, are done
    assertEquals(Optional.of(143), exit, "the leaving node stops of itself:\n" + leaving.output());
    assertTrue(leaving.output().contains("draining"), "it drained:\n" + leaving.output());
    await("the leaving node's slots are the others' at once (not after a lease time)", Duration.ofSeconds(5),
        () -> others.stream().mapToInt(ClusterTest::granted).sum() >= L - 1);
    System.out.printf("MEASURED served by the leaving node before it stopped: %d; its clients saw %s%n",
        servedByLeaving, each.get(2).errors());
    Thread.sleep(1_000);
    assertNeverAboveTheLimit();
    assertNoErrors(others.get(0).name, each.get(0));
    assertNoErrors(others.get(1).name, each.get(1));
    // its own clients got answers for what they had sent; afterwards the port is closed
    assertTrue(each.get(2).errors().keySet().stream().noneMatch(k -> k.startsWith("status")),
        "no error status from the leaving node: " + each.get(2).errors());
  }

  @Test
  void aNodeThatJoinsUnderLoadServesAtOnceAndGetsAShare() throws Exception {
    List<NodeProcess.Ports> ports = List.of(NodeProcess.Ports.free(), NodeProcess.Ports.free(),
        NodeProcess.Ports.free());
    List<NodeProcess> two = start(ports, ports.subList(0, 2));
    Clients onFirst = load(two.get(0), 24);
    Clients onSecond = load(two.get(1), 24);
    await("two nodes share the slots", Duration.ofSeconds(20), () -> two.stream().allMatch(n -> granted(n) >= 4));
    long started = System.nanoTime();
    NodeProcess third = start(ports, ports.subList(2, 3)).get(0);
    System.out.printf("MEASURED a third node from start to ready under load: %d ms%n",
        Duration.ofNanos(System.nanoTime() - started).toMillis());
    Clients onThird = load(third, 24);
    await("the joining node gets a share", Duration.ofSeconds(10), () -> granted(third) >= 3);
    Thread.sleep(2_000);
    assertNeverAboveTheLimit();
    assertNoErrors(third.name, onThird);
    assertNoErrors(two.get(0).name, onFirst);
    assertNoErrors(two.get(1).name, onSecond);
  }

  @Test
  void aNodeFrozenPastItsLeaseTimeNeverTakesTheBackendAboveTheLimit() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24));
    }
    await("all three hold slots", Duration.ofSeconds(20), () -> three.stream().allMatch(n -> granted(n) >= 3));
    NodeProcess frozen = three.stream()
        .filter(n -> n.status().map(s -> s.entitiesHere().isEmpty()).orElse(false))
        .findFirst().orElseThrow();
    List<NodeProcess> others = three.stream().filter(n -> n != frozen).toList();
    frozen.signal("STOP");
    await("the others take the frozen node's slots once its lease lapsed", Duration.ofSeconds(15),
        () -> others.stream().mapToInt(ClusterTest::granted).sum() >= L - 1);
    Thread.sleep(2_000); // frozen past its lease time (2 s) in all
    frozen.signal("CONT");
    // it comes back: either it was not downed and renews (with a lease that lapsed: it starts
    // nothing until then), or the cluster downed it and it stops itself
    Duration settled = await("the frozen node rejoins or stops", Duration.ofSeconds(60), () -> !frozen.alive()
        || frozen.status().map(s -> s.member().equals("Up") && s.leaseValid()).orElse(false));
    System.out.printf("MEASURED after SIGCONT the frozen node %s after %d ms%n",
        frozen.alive() ? "renewed its lease" : "had been downed and stopped (exit " + frozen.awaitExit(
            Duration.ofSeconds(10)).orElse(-1) + ")", settled.toMillis());
    if (!frozen.alive()) {
      assertEquals(Optional.of(3), frozen.awaitExit(Duration.ofSeconds(5)), "a downed node exits with 3");
    }
    Thread.sleep(2_000);
    assertNeverAboveTheLimit();
    for (int i = 0; i < 3; i++) {
      if (three.get(i) != frozen) {
        assertNoErrors(three.get(i).name, each.get(i));
      }
    }
  }

  @Test
  void aNodeFrozenLongerThanTheResolverWaitsIsDownedAndStopsItself() throws Exception {
    List<NodeProcess> three = startThree();
    List<Clients> each = new ArrayList<>();
    for (NodeProcess n : three) {
      each.add(load(n, 24));
    }
    await("all three hold slots", Duration.ofSeconds(20), () -> three.stream().allMatch(n -> granted(n) >= 3));
    NodeProcess frozen = three.stream()
        .filter(n -> n.status().map(s -> s.entitiesHere().isEmpty()).orElse(false))
        .findFirst().orElseThrow();
    List<NodeProcess> others = three.stream().filter(n -> n != frozen).toList();
    frozen.signal("STOP");
    // unreachable after the failure detector's pause (about 3-5 s), downed stable-after (5 s) later
    Thread.sleep(15_000);
    frozen.signal("CONT");
    Optional<Integer> exit = frozen.awaitExit(Duration.ofSeconds(40));
    System.out.printf("MEASURED a node frozen for 15 s: exit %s after it resumed%n", exit);
    assertEquals(Optional.of(3), exit, "the downed node stops itself, exit 3:\n" + frozen.output());
    assertTrue(frozen.output().contains("downed by the cluster"), frozen.output());
    await("the others hold the slots", Duration.ofSeconds(5),
        () -> others.stream().mapToInt(ClusterTest::granted).sum() >= L - 1);
    assertNeverAboveTheLimit();
    for (int i = 0; i < 3; i++) {
      if (three.get(i) != frozen) {
        assertNoErrors(three.get(i).name, each.get(i));
      }
    }
  }
}
