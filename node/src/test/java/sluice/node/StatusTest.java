package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sluice.node.testing.TestBackend;

/** The operator's /status JSON of one node: pools, back-ends, the cluster and the entities' books. */
class StatusTest {

  @Test
  @SuppressWarnings("unchecked")
  void statusShowsLimitsAlgorithmLastDecisionMembersAndLeases() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      var settings = TestSettings.onePool(backend.port(), 3,
          TestSettings.queue(100, Duration.ofSeconds(30), 100), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings);
          RawHttp http = RawHttp.connect(node.httpPort())) {
        for (int i = 0; i < 5; i++) {
          assertEquals(200, http.get("/s" + i).status());
        }
        String text = Nodes.adminGet(node, "/status");
        Map<String, Object> status = (Map<String, Object>) Json.parse(text);
        String self = (String) status.get("node");
        assertEquals("Up", status.get("member"), text);

        Map<String, Object> pool = ((List<Map<String, Object>>) status.get("pools")).get(0);
        assertEquals("web", pool.get("pool"));
        assertEquals(0.0, pool.get("queue"));
        assertEquals(5.0, pool.get("served"));
        Map<String, Object> b = ((List<Map<String, Object>>) pool.get("backends")).get(0);
        assertEquals(backend.address(), b.get("id"));
        assertEquals(3.0, b.get("limit"));
        assertEquals(0.0, b.get("inFlight"));
        assertEquals("fixed", b.get("algorithm"));
        assertEquals("initial limit of algorithm fixed", b.get("limitReason"), "the reason the lease carried");

        Map<String, Object> cluster = (Map<String, Object>) status.get("cluster");
        List<Map<String, Object>> members = (List<Map<String, Object>>) cluster.get("members");
        assertEquals(List.of(Map.of("address", self, "status", "Up", "self", true)), members);

        Map<String, Object> entity = ((List<Map<String, Object>>) cluster.get("backends")).get(0);
        assertEquals(backend.address(), entity.get("backend"), text);
        assertEquals(3.0, entity.get("limit"));
        assertEquals(false, entity.get("learning"));
        assertEquals("fixed", entity.get("algorithm"));
        Map<String, Object> decision = (Map<String, Object>) entity.get("lastDecision");
        assertEquals("initial limit of algorithm fixed", decision.get("reason"));
        assertTrue((Double) decision.get("agoMillis") >= 0, text);
        List<Map<String, Object>> leases = (List<Map<String, Object>>) entity.get("leases");
        assertEquals(1, leases.size(), text);
        assertEquals(self, leases.get(0).get("member"), "the lease is this node's: " + text);
        assertEquals(1.0, leases.get(0).get("pools"), "one event loop, one pool holding slots");
        PoolStatus.BackendStatus seen = Nodes.status(node).backends().get(0);
        assertEquals((double) seen.granted(), leases.get(0).get("granted"), "the entity's book and the node agree");
      }
    }
  }
}
