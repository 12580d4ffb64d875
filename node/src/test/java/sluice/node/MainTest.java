package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The command line: what a user sees for bad arguments and bad configuration. */
class MainTest {

  private record Run(int code, String err) {}

  private static Run run(String... args) {
    PrintStream old = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      return new Run(Main.run(args), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(old);
    }
  }

  @Test
  void noArgumentsSaysWhatToDo() {
    Run r = run();
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--config FILE"), r.err());
  }

  @Test
  void unknownArgumentIsNamed() {
    Run r = run("--confg", "x");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown argument '--confg'"), r.err());
  }

  @Test
  void missingFileIsNamed() {
    Run r = run("--config", "/nonexistent/sluice.conf");
    assertEquals(78, r.code());
    assertTrue(r.err().contains("/nonexistent/sluice.conf"), r.err());
  }

  @Test
  void badValuesAreAllNamedByKeyAndNothingStarts() throws Exception {
    Path file = Files.createTempFile("bad", ".conf");
    Files.writeString(file, """
        sluice {
          http.listen = "127.0.0.1:99999"
          pools.web {
            backends = ["127.0.0.1:9001"]
            queue { max = 0, timeout = -1s }
            limit { algorithm = fixed, value = 0 }
          }
          routes = [ { path-prefix = "api", pool = nope } ]
        }
        """);
    Run r = run("--config", file.toString());
    assertEquals(78, r.code());
    for (String key : new String[] {"sluice.http.listen", "sluice.pools.web.queue.max", "sluice.pools.web.queue.timeout",
        "sluice.pools.web.limit.value", "sluice.routes[0].path-prefix", "sluice.routes[0].pool"}) {
      assertTrue(r.err().contains(key), key + " named in:\n" + r.err());
    }
  }
}
