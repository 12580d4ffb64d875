package sluice.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.demo.ThrashingBackend;
import sluice.node.Json;

/**
 * The admin calls across two node JVMs: a pin and a drain sent to the node that does not host the
 * back-end's entity cross to it (SetPin, SetDrain over Kryo) and reach both nodes' back-end actors.
 */
class AdminAcrossNodesTest {
  private static final int L = 8;

  private ThrashingBackend backend;
  private ThrashingBackend second;
  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopAll() throws Exception {
    for (NodeProcess n : nodes) {
      n.close();
    }
    if (backend != null) {
      backend.close();
    }
    if (second != null) {
      second.close();
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void aPinAndADrainOnOneNodeReachTheOther() throws Exception {
    backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start();
    List<NodeProcess.Ports> seeds = List.of(NodeProcess.Ports.free(), NodeProcess.Ports.free());
    NodeProcess.startAll("admin-", seeds, seeds, backend.port(), L, nodes, Duration.ofSeconds(60));
    String id = "127.0.0.1:" + backend.port();
    // the call goes to the node without the entity, so that it must cross to the other JVM
    NodeProcess caller = nodes.stream().filter(n -> n.status().orElseThrow().entitiesHere().isEmpty())
        .findFirst().orElseThrow(() -> new AssertionError("one of two nodes hosts no entity"));

    HttpResponse<String> pin = caller.post("/backends/" + id + "/pin?limit=2").orElseThrow();
    assertEquals(200, pin.statusCode(), pin.body());
    assertEquals(true, ((Map<String, Object>) Json.parse(pin.body())).get("pinned"), pin.body());
    for (NodeProcess n : nodes) {
      NodeProcess.Status s = await(n, st -> st.limit() == 2, "pinned at 2 on " + n);
      assertTrue(s.granted() <= 2, n + ": " + s);
      Map<String, Object> b = backendOf(n);
      assertEquals(true, b.get("pinned"), b.toString());
    }

    HttpResponse<String> drain = caller.post("/backends/" + id + "/drain").orElseThrow();
    assertEquals(200, drain.statusCode(), drain.body());
    for (NodeProcess n : nodes) {
      await(n, st -> st.limit() == 0 && st.granted() == 0, "drained on " + n);
      assertEquals(true, backendOf(n).get("drained"));
    }

    assertEquals(200, caller.post("/backends/" + id + "/undrain").orElseThrow().statusCode());
    assertEquals(200, caller.post("/backends/" + id + "/unpin").orElseThrow().statusCode());
    for (NodeProcess n : nodes) {
      await(n, st -> st.limit() == L, "back to " + L + " on " + n);
      Map<String, Object> b = backendOf(n);
      assertEquals(false, b.get("pinned"), b.toString());
      assertEquals(false, b.get("drained"), b.toString());
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void aBackEndAddedOnOneNodeJoinsThePoolOnBothAndARemovalLeavesBoth() throws Exception {
    backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start();
    second = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start();
    List<NodeProcess.Ports> seeds = List.of(NodeProcess.Ports.free(), NodeProcess.Ports.free());
    NodeProcess.startAll("edit-", seeds, seeds, backend.port(), L, nodes, Duration.ofSeconds(60));
    String added = "127.0.0.1:" + second.port();
    NodeProcess caller = nodes.get(0);

    HttpResponse<String> add = caller.post("/pools/web/add?backend=" + added).orElseThrow();
    assertEquals(200, add.statusCode(), add.body());
    Map<String, Object> answer = (Map<String, Object>) Json.parse(add.body());
    assertEquals(true, answer.get("applied"), add.body());
    List<Map<String, Object>> perNode = (List<Map<String, Object>>) answer.get("nodes");
    assertEquals(2, perNode.size(), "both nodes answered: " + add.body());
    for (Map<String, Object> n : perNode) {
      assertEquals(List.of("sluice.pools.web: back-end " + added + " added (limit fixed value=" + L + ")"),
          n.get("changes"), add.body());
    }
    for (NodeProcess n : nodes) {
      awaitBackends(n, List.of("127.0.0.1:" + backend.port(), added), true);
    }
    // both nodes send it requests
    try (Clients one = new Clients(nodes.get(0).ports.http(), 4);
        Clients two = new Clients(nodes.get(1).ports.http(), 4)) {
      for (NodeProcess n : nodes) {
        awaitServed(n, added);
      }
      assertEquals(Map.of(), one.errors());
      assertEquals(Map.of(), two.errors());
    }

    HttpResponse<String> remove = nodes.get(1).post("/pools/web/remove?backend=" + added).orElseThrow();
    assertEquals(200, remove.statusCode(), remove.body());
    for (NodeProcess n : nodes) {
      awaitBackends(n, List.of("127.0.0.1:" + backend.port()), false);
    }
  }

  @SuppressWarnings("unchecked")
  private static void awaitServed(NodeProcess n, String id) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      last = n.statusJson().orElse("");
      if (!last.isEmpty()) {
        Map<String, Object> pool = ((List<Map<String, Object>>) ((Map<String, Object>) Json.parse(last))
            .get("pools")).get(0);
        for (Map<String, Object> b : (List<Map<String, Object>>) pool.get("backends")) {
          if (b.get("id").equals(id) && ((Double) b.get("served")) >= 50) {
            return;
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError(n + ": back-end " + id + " never served 50 requests; last: " + last);
  }

  /** Waits until the node's pool lists exactly these back-ends (with a grant for each, if asked). */
  @SuppressWarnings("unchecked")
  private static void awaitBackends(NodeProcess n, List<String> ids, boolean granted) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      last = n.statusJson().orElse("");
      if (!last.isEmpty()) {
        Map<String, Object> pool = ((List<Map<String, Object>>) ((Map<String, Object>) Json.parse(last))
            .get("pools")).get(0);
        List<Map<String, Object>> backends = (List<Map<String, Object>>) pool.get("backends");
        if (backends.stream().map(b -> b.get("id")).toList().equals(ids)
            && (!granted || backends.stream().allMatch(b -> ((Double) b.get("granted")) > 0))) {
          return;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError(n + " never had back-ends " + ids + "; last: " + last);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> backendOf(NodeProcess n) {
    Map<String, Object> status = (Map<String, Object>) Json.parse(n.statusJson().orElseThrow());
    Map<String, Object> pool = ((List<Map<String, Object>>) status.get("pools")).get(0);
    return ((List<Map<String, Object>>) pool.get("backends")).get(0);
  }

  private static NodeProcess.Status await(NodeProcess n, Predicate<NodeProcess.Status> condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      NodeProcess.Status s = n.status().orElse(null);
      if (s != null && condition.test(s)) {
        return s;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("never " + what + "; last: " + s);
      }
      Thread.sleep(20);
    }
  }
}
