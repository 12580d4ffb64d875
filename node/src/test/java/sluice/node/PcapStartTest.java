package sluice.node;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.SluiceSettings;
import sluice.node.testing.NetnsLab;

/** A pcap ingress that cannot start stops the node's start with a message that says why. */
class PcapStartTest {

  private static SluiceSettings settings(String iface, String backend) {
    return SettingsReader.read(ConfigFactory.parseString("""
        sluice {
          http.listen = "127.0.0.1:0"
          admin.listen = "127.0.0.1:0"
          cluster.port = 0
          status-interval = 0
          pools.db.backends = ["%s"]
          tcp = [ { pcap { interface = "%s", virtual-address = "192.0.2.80:80" }, pool = db } ]
        }
        """.formatted(backend, iface)));
  }

  @Test
  void anInterfaceThatIsNotThereIsNamed() {
    Optional<String> why = NetnsLab.cannotRun();
    Assumptions.assumeTrue(why.isEmpty(), () -> "skipped: " + why.get());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> SluiceNode.start(settings("nosuch0", "127.0.0.1:9"), ConfigFactory.parseResources("application-test.conf")));
    assertTrue(e.getMessage().contains("pcap nosuch0 192.0.2.80:80: no network interface named 'nosuch0'"),
        e.getMessage());
  }

  @Test
  void anIpv6BackendIsRefused() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> SluiceNode.start(settings("lo", "[::1]:9"), ConfigFactory.parseResources("application-test.conf")));
    assertTrue(e.getMessage().contains("the pcap ingress forwards to IPv4 back-ends only, not"), e.getMessage());
  }
}
