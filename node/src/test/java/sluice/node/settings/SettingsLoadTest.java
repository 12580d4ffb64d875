package sluice.node.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsLoadTest {

  @TempDir
  Path dir;

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  @Test
  void theFileIsReadOverReferenceConf() throws IOException {
    Path file = write("sluice.conf", SettingsReaderTest.FULL_EXAMPLE);
    assertEquals(SettingsReaderTest.read(SettingsReaderTest.FULL_EXAMPLE), SettingsReader.load(Optional.of(file)));
  }

  @Test
  void overridesWinOverTheFile() throws IOException {
    Path file = write("sluice.conf", SettingsReaderTest.ONE_POOL + "sluice.pools.web.queue.max = 300\n");
    var overrides = ConfigFactory.parseString("""
        sluice.pools.web.queue.max = "7"
        sluice.http.listen = "127.0.0.1:0"
        sluice.cluster.seed-nodes.0 = "10.0.0.1:2552"
        """);
    SluiceSettings s = SettingsReader.read(SettingsReader.loadConfig(Optional.of(file), overrides));
    assertEquals(7, s.pools().get("web").queue().max());
    assertEquals(Duration.ofSeconds(30), s.pools().get("web").queue().timeout());
    assertEquals(0, s.http().port());
    assertEquals(java.util.List.of("10.0.0.1:2552"), s.cluster().seedNodes());
  }

  @Test
  void systemPropertiesOverrideTheFile() throws IOException {
    Path file = write("sluice.conf", SettingsReaderTest.ONE_POOL + "sluice.report-interval = 200ms\n");
    System.setProperty("sluice.report-interval", "50ms");
    System.setProperty("sluice.pools.web.queue.max", "11");
    try {
      SluiceSettings s = SettingsReader.load(Optional.of(file));
      assertEquals(Duration.ofMillis(50), s.reportInterval());
      assertEquals(11, s.pools().get("web").queue().max());
    } finally {
      System.clearProperty("sluice.report-interval");
      System.clearProperty("sluice.pools.web.queue.max");
    }
    assertEquals(Duration.ofMillis(200), SettingsReader.load(Optional.of(file)).reportInterval());
  }

  @Test
  void aBadSystemPropertyIsReportedByItsKey() throws IOException {
    Path file = write("sluice.conf", SettingsReaderTest.ONE_POOL);
    System.setProperty("sluice.pools.web.queue.max", "many");
    try {
      SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.load(Optional.of(file)));
      assertEquals(java.util.List.of("sluice.pools.web.queue.max: must be a whole number at least 1, was 'many'"),
          e.problems());
    } finally {
      System.clearProperty("sluice.pools.web.queue.max");
    }
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("nope.conf");
    SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.load(Optional.of(missing)));
    assertEquals("configuration file " + missing + ": not found", e.problems().get(0));
  }

  @Test
  void aDirectoryIsNotAFile() {
    SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.load(Optional.of(dir)));
    assertEquals("configuration file " + dir + ": not a regular file", e.problems().get(0));
  }

  @Test
  void anUnparsableFileIsNamedWithTheLine() throws IOException {
    Path file = write("broken.conf", "sluice {\n  pools {\n    web { backends = [ }\n");
    SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.load(Optional.of(file)));
    assertTrue(e.getMessage().contains("configuration file " + file + ": cannot be read:"), e.getMessage());
    assertTrue(e.getMessage().contains("broken.conf: 3"), e.getMessage());
  }

  @Test
  void anUnresolvedSubstitutionIsNamed() throws IOException {
    Path file = write("subst.conf", SettingsReaderTest.ONE_POOL + "sluice.http.listen = ${nowhere}\n");
    SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.load(Optional.of(file)));
    assertTrue(e.getMessage().contains("configuration file " + file + ": cannot resolve"), e.getMessage());
    assertTrue(e.getMessage().contains("nowhere"), e.getMessage());
  }

  @Test
  void withoutAFileOnlyReferenceConfAndOverridesCount() {
    SettingsException e = assertThrows(SettingsException.class,
        () -> SettingsReader.read(SettingsReader.loadConfig(Optional.empty(), ConfigFactory.empty())));
    assertTrue(e.getMessage().contains("sluice.pools: must name at least one pool"), e.getMessage());
  }
}
