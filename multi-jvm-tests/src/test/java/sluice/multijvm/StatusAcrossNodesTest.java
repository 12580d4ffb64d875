package sluice.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.demo.ThrashingBackend;
import sluice.node.Json;

/**
 * /status of two node JVMs: each lists both members and says which is itself, and each shows
 * the back-end entity's book, asked across nodes (GetLeases over Kryo) wherever the entity runs.
 */
class StatusAcrossNodesTest {
  private static final int L = 8;

  private ThrashingBackend backend;
  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopAll() throws Exception {
    for (NodeProcess n : nodes) {
      n.close();
    }
    if (backend != null) {
      backend.close();
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void eachNodeShowsBothMembersAndEveryMembersLease() throws Exception {
    backend = ThrashingBackend.create("127.0.0.1", 0, Duration.ofMillis(5), 0, 0, 100).start();
    List<NodeProcess.Ports> seeds = List.of(NodeProcess.Ports.free(), NodeProcess.Ports.free());
    NodeProcess.startAll("status-", seeds, seeds, backend.port(), L, nodes, Duration.ofSeconds(60));

    Set<String> ids = new HashSet<>();
    List<Map<String, Object>> statuses = new ArrayList<>();
    for (NodeProcess n : nodes) {
      String text = n.statusJson().orElseThrow();
      Map<String, Object> status = (Map<String, Object>) Json.parse(text);
      statuses.add(status);
      ids.add((String) status.get("node"));
    }
    assertEquals(2, ids.size(), "two nodes, two ids");

    for (Map<String, Object> status : statuses) {
      String self = (String) status.get("node");
      Map<String, Object> cluster = (Map<String, Object>) status.get("cluster");
      List<Map<String, Object>> members = (List<Map<String, Object>>) cluster.get("members");
      Set<String> addresses = new HashSet<>();
      for (Map<String, Object> m : members) {
        addresses.add((String) m.get("address"));
        assertEquals("Up", m.get("status"), status.toString());
        assertEquals(m.get("address").equals(self), m.get("self"), "self is the node itself: " + members);
      }
      assertEquals(ids, addresses, "both members, as " + self + " sees them");

      Map<String, Object> entity = ((List<Map<String, Object>>) cluster.get("backends")).get(0);
      assertEquals((double) L, entity.get("limit"), entity.toString());
      assertEquals("fixed", entity.get("algorithm"));
      List<Map<String, Object>> leases = (List<Map<String, Object>>) entity.get("leases");
      Set<String> holders = new HashSet<>();
      double granted = 0;
      for (Map<String, Object> lease : leases) {
        holders.add((String) lease.get("member"));
        granted += (Double) lease.get("granted");
      }
      assertEquals(ids, holders, "the entity's book has a lease for each node: " + entity);
      assertTrue(granted <= L, "grants within the limit: " + entity);
    }
  }
}
