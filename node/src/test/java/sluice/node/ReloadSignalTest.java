package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.node.testing.TestBackend;

/**
 * SIGHUP reloads the configuration of a node started as a user starts it ({@code Main --config},
 * in its own JVM): the JVM does not stop on it (its default), the change is logged and applies.
 */
class ReloadSignalTest {

  private static String config(TestBackend... backends) {
    StringBuilder list = new StringBuilder();
    for (TestBackend b : backends) {
      list.append(list.length() > 0 ? ", " : "").append('"').append(b.address()).append('"');
    }
    return """
        sluice {
          admin.listen = "127.0.0.1:0"
          status-interval = 0
          defaults.limit { algorithm = fixed, value = 2 }
          pools.web.backends = [%s]
        }
        """.formatted(list);
  }

  @Test
  void sighupReloadsTheFileAndTheAddedBackEndServes() throws Exception {
    try (TestBackend a = TestBackend.started(); TestBackend b = TestBackend.started();
        ChildNode node = ChildNode.start(config(a), List.of("-Xmx256m"))) {
      try (RawHttp client = RawHttp.connect(node.httpPort())) {
        for (int i = 0; i < 20; i++) {
          assertEquals(200, client.get("/before/" + i).status());
        }
      }
      assertEquals(0, b.requests().size());

      Files.writeString(node.configFile(), config(a, b));
      node.signal("HUP");
      String logged = "reload (SIGHUP): sluice.pools.web: back-end " + b.address() + " added";
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!node.output().contains(logged)) {
        assertTrue(node.isAlive(), "the node stopped on SIGHUP:\n" + node.output());
        assertTrue(System.nanoTime() < deadline, "no reload logged:\n" + node.output());
        Thread.sleep(50);
      }
      // the new back-end gets requests (its lease comes at the next report, within a second)
      try (RawHttp client = RawHttp.connect(node.httpPort())) {
        for (int i = 0; b.served() < 10; i++) {
          assertEquals(200, client.get("/after/" + i).status());
          assertTrue(System.nanoTime() < deadline, "b never served: " + b.served());
        }
      }
      assertTrue(node.isAlive());
      assertTrue(a.served() >= 20 && b.served() >= 10, a.served() + ", " + b.served());
    }
  }
}
