package sluice.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import sluice.node.settings.SettingsReader;

/** deploy/systemd/sluice.service, read line by line: the settings a graceful stop and a restart depend on. */
class SystemdUnitTest {
  static final Path UNIT = Path.of("systemd", "sluice.service");

  /** Every {@code Key=value} of the unit by section, a key given twice keeping both values. */
  static Map<String, List<String>> read(Path unit) throws IOException {
    Map<String, List<String>> keys = new LinkedHashMap<>();
    String section = "";
    for (String raw : Files.readAllLines(unit)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1);
        continue;
      }
      int eq = line.indexOf('=');
      assertTrue(eq > 0, "not Key=value: " + raw);
      keys.computeIfAbsent(section + "." + line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1).strip());
    }
    return keys;
  }

  static String one(Map<String, List<String>> unit, String key) {
    List<String> values = unit.getOrDefault(key, List.of());
    assertEquals(1, values.size(), key + " given once: " + values);
    return values.get(0);
  }

  @Test
  void theUnitStopsGracefullyAndRestartsADownedNode() throws IOException {
    Map<String, List<String>> unit = read(UNIT);
    assertEquals("simple", one(unit, "Service.Type"));
    assertEquals("sluice", one(unit, "Service.User"));
    assertEquals("/usr/bin/java $JAVA_OPTS -jar /opt/sluice/sluice.jar --config /etc/sluice/sluice.conf",
        one(unit, "Service.ExecStart"));
    assertEquals("SIGTERM", one(unit, "Service.KillSignal"));
    assertEquals("143", one(unit, "Service.SuccessExitStatus"));
    assertEquals("on-failure", one(unit, "Service.Restart"));
    // exit 3 (downed by the cluster) must be restarted; 2 and 78 (bad command line or configuration) not
    List<String> prevented = List.of(one(unit, "Service.RestartPreventExitStatus").split("\\s+"));
    assertEquals(List.of("2", "78"), prevented);
    assertTrue(Long.parseLong(one(unit, "Service.LimitNOFILE")) >= 65536);
    assertEquals("yes", one(unit, "Service.NoNewPrivileges"));
    assertEquals("strict", one(unit, "Service.ProtectSystem"));
    assertEquals("/var/log/sluice", one(unit, "Service.ReadWritePaths"));
    assertEquals("multi-user.target", one(unit, "Install.WantedBy"));
  }

  @Test
  void theStopTimeoutLeavesRoomAboveTheDrainTimeout() throws IOException {
    String stop = one(read(UNIT), "Service.TimeoutStopSec");
    assertTrue(stop.matches("\\d+s"), "TimeoutStopSec in seconds: " + stop);
    Duration timeoutStop = Duration.ofSeconds(Long.parseLong(stop.substring(0, stop.length() - 1)));
    // the file the unit is documented with, and the default of a file that sets none
    Duration exampleDrain = ExamplesTest.load("single-node.conf").drainTimeout();
    Duration defaultDrain = SettingsReader.read(ConfigFactory.parseString(
        "sluice.pools.web.backends = [\"127.0.0.1:9001\"]")).drainTimeout();
    for (Duration drain : List.of(exampleDrain, defaultDrain)) {
      // the leave after the drain takes a few seconds; 20 s of room is what the unit promises
      assertTrue(timeoutStop.compareTo(drain.plusSeconds(20)) >= 0,
          "TimeoutStopSec " + timeoutStop + " must exceed drain-timeout " + drain + " by 20 s");
    }
  }

  @Test
  void systemdAcceptsTheUnit() throws Exception {
    Path analyze = Path.of("/usr/bin/systemd-analyze");
    Assumptions.assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed here");
    Process verify = new ProcessBuilder(analyze.toString(), "verify", UNIT.toString()).redirectErrorStream(true).start();
    String output = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(verify.waitFor(30, TimeUnit.SECONDS), "systemd-analyze verify ran too long");
    assertEquals(0, verify.exitValue(), output);
    assertEquals("", output.strip(), "systemd-analyze verify has nothing to say");
  }

  @Test
  void theDockerImageAndTheUnitRunTheSameJarPath() throws IOException {
    String dockerfile = Files.readString(Path.of("kubernetes", "Dockerfile"));
    assertTrue(dockerfile.contains("COPY node/target/sluice.jar /opt/sluice/sluice.jar"), dockerfile);
    String readme = Files.readString(Path.of("README.md"));
    assertTrue(readme.contains("/opt/sluice/sluice.jar") && readme.contains("/etc/sluice/sluice.conf"),
        "deploy/README.md names the paths the unit runs");
  }
}
