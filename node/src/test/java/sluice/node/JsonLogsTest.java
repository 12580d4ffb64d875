package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sluice.node.testing.TestBackend;

/**
 * A node started as a user starts it ({@code Main --config}, its own JVM, Sluice's own
 * logback.xml) with {@code log-format = json} in its file and the access log on standard output.
 */
class JsonLogsTest {

  @Test
  void withLogFormatJsonEveryLineAfterStartIsOneJsonObjectAndTheAccessLogGoesToStandardOutput() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      String config = """
          sluice {
            admin.listen = "127.0.0.1:0"
            status-interval = 0
            log-format = json
            access-log { enabled = true, format = json }
            defaults.limit { algorithm = fixed, value = 2 }
            pools.web.backends = ["%s"]
          }
          """.formatted(backend.address());
      try (ChildNode node = ChildNode.start(config, List.of("-Xmx256m", "-Dlogback.configurationFile=logback.xml"))) {
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          assertEquals(200, http.get("/json/1").status());
          assertEquals(200, http.get("/json/2").status());
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!node.output().contains("/json/2")) {
          assertTrue(System.nanoTime() < deadline, "no access-log line:\n" + node.output());
          Thread.sleep(50);
        }
        String out = node.output();
        List<String> lines = out.lines().toList();
        int listening = -1;
        for (int i = 0; i < lines.size(); i++) {
          if (lines.get(i).contains("sluice listening on")) {
            listening = i;
          }
        }
        assertTrue(listening >= 0, out);
        Map<String, Object> started = object(lines.get(listening));
        assertEquals("INFO", started.get("level"));
        assertEquals("sluice.node.SluiceNode", started.get("loggerName"));
        assertTrue(((String) started.get("formattedMessage")).startsWith("sluice listening on /127.0.0.1:"
            + node.httpPort()), started.toString());
        assertTrue(started.get("timestamp") instanceof Double, started.toString());
        assertFalse(((String) started.get("threadName")).isEmpty());
        // every line from the start-up line on is JSON: the ordinary logs and the access log
        int access = 0;
        for (String line : lines.subList(listening, lines.size())) {
          Map<String, Object> o = object(line);
          if (o.containsKey("termination")) {
            access++;
            assertEquals(200.0, o.get("status"), line);
            assertEquals(backend.address(), o.get("backend"), line);
            assertTrue(((String) o.get("uri")).startsWith("/json/"), line);
          }
        }
        assertEquals(2, access, out);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> object(String line) {
    Object o;
    try {
      o = Json.parse(line);
    } catch (RuntimeException e) {
      throw new AssertionError("not JSON: " + line, e);
    }
    assertTrue(o instanceof Map, line);
    return (Map<String, Object>) o;
  }
}
