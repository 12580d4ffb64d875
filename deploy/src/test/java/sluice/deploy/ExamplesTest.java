package sluice.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.SettingsException;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.SluiceSettings;

/** The HOCON examples, read as {@code --config FILE} reads them: through the node's settings reader. */
class ExamplesTest {
  static final Path EXAMPLES = Path.of("examples");

  static SluiceSettings load(String name) {
    return SettingsReader.load(Optional.of(EXAMPLES.resolve(name)));
  }

  @Test
  void everyExampleIsAValidConfiguration() throws IOException {
    List<String> files;
    try (Stream<Path> listed = Files.list(EXAMPLES)) {
      files = listed.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".conf")).sorted().toList();
    }
    assertEquals(List.of("cluster-common.conf", "node1.conf", "node2.conf", "node3.conf", "single-node.conf"), files);
    List<String> problems = new ArrayList<>();
    for (String file : files) {
      try {
        load(file);
      } catch (SettingsException e) {
        problems.add(file + ": " + e.getMessage());
      }
    }
    assertEquals(List.of(), problems);
  }

  @Test
  void theThreeNodesShareSeedsAndPoolAndDifferInPorts() {
    List<SluiceSettings> nodes = List.of(load("node1.conf"), load("node2.conf"), load("node3.conf"));
    List<String> seeds = List.of("127.0.0.1:2552", "127.0.0.1:2553", "127.0.0.1:2554");
    Set<Integer> ports = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      SluiceSettings n = nodes.get(i);
      assertEquals(seeds, n.cluster().seedNodes(), "node" + (i + 1) + " seeds");
      // each node is one of the seeds, at the address the others are given for it
      assertEquals(seeds.get(i), n.cluster().host() + ":" + n.cluster().port(), "node" + (i + 1) + " cluster address");
      assertEquals(8080 + 10 * i, n.http().port(), "node" + (i + 1) + " http port");
      assertEquals(8081 + 10 * i, n.admin().port(), "node" + (i + 1) + " admin port");
      for (String host : List.of(n.http().host(), n.cluster().host(), n.admin().host())) {
        assertEquals("127.0.0.1", host, "node" + (i + 1) + " binds loopback only");
      }
      assertEquals(Optional.empty(), n.admin().token(), "a loopback operator's listener needs no token");
      assertEquals(List.of("127.0.0.1:9001"), n.pools().get("web").backends().stream().map(BackendSettings::id).toList());
      assertEquals(Duration.ofSeconds(10), n.drainTimeout());
      ports.addAll(List.of(n.http().port(), n.admin().port(), n.cluster().port()));
    }
    assertEquals(9, ports.size(), "no two listeners of the three nodes share a port: " + ports);
    assertFalse(ports.contains(9001), "no node listens on the back-end's port");
  }

  @Test
  void theSingleNodeFormsAClusterOfItsOwn() {
    SluiceSettings n = load("single-node.conf");
    assertEquals(List.of(), n.cluster().seedNodes());
    assertEquals(List.of("web"), List.copyOf(n.pools().keySet()));
    assertEquals(List.of("127.0.0.1:9001", "127.0.0.1:9002"),
        n.pools().get("web").backends().stream().map(BackendSettings::id).toList());
    assertEquals("127.0.0.1", n.admin().host());
  }
}
