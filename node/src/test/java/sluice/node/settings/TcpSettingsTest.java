package sluice.node.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@code sluice.tcp}: TCP listeners, each bound to a pool that then serves TCP only. */
class TcpSettingsTest {

  static final String TWO_POOLS = """
      sluice.pools {
        web { backends = ["127.0.0.1:9001"] }
        db { backends = ["127.0.0.1:5432"] }
      }
      """;

  static SluiceSettings read(String hocon) {
    return SettingsReader.read(ConfigFactory.parseString(hocon));
  }

  static List<String> problems(String hocon) {
    return assertThrows(SettingsException.class, () -> read(hocon)).problems();
  }

  @Test
  void noTcpListenerByDefault() {
    SluiceSettings s = read("sluice.pools.web.backends = [\"127.0.0.1:9001\"]");
    assertEquals(List.of(), s.tcp());
    assertEquals(Set.of(), s.tcpPools());
  }

  @Test
  void aListenerIsReadAndItsPoolLeavesHttpToTheOthers() {
    SluiceSettings s = read(TWO_POOLS + """
        sluice.tcp = [ { listen = "127.0.0.1:7000", pool = db }, { listen = "[::1]:7001", pool = db } ]
        """);
    assertEquals(List.of(new TcpSettings("127.0.0.1", 7000, "127.0.0.1:7000", "db"),
        new TcpSettings("::1", 7001, "[::1]:7001", "db")), s.tcp());
    assertEquals(Set.of("db"), s.tcpPools());
    // two pools and no routes would be refused; one of them serves TCP, so the other takes every request
    assertEquals(Optional.of("web"), s.defaultPool());
  }

  @Test
  void onlyTcpPoolsNeedNoRoutes() {
    SluiceSettings s = read("""
        sluice.pools.db.backends = ["127.0.0.1:5432"]
        sluice.tcp = [ { listen = "127.0.0.1:0", pool = db }, { listen = "127.0.0.1:0", pool = db } ]
        """);
    assertEquals(Optional.empty(), s.defaultPool());
    assertEquals(2, s.tcp().size(), "port 0 (any free port) twice is no clash");
  }

  @Test
  void badListenersAreRefusedNamingTheirKey() {
    List<String> p = problems(TWO_POOLS + """
        sluice.tcp = [
          { listen = "127.0.0.1:7000", pool = dbb },
          { listen = "127.0.0.1", pool = db },
          { listen = "127.0.0.1:70000", pool = db },
          { listen = "127.0.0.1:7002", pool = db, timeout = 5s },
          { pool = db },
          { listen = "127.0.0.1:7003" },
          "127.0.0.1:7004"
        ]
        """);
    assertEquals(List.of(
        "sluice.tcp[0].pool: must name a pool of sluice.pools (db, web), was 'dbb'",
        "sluice.tcp[1].listen: must be \"host:port\" with port 0-65535 (IPv6 as \"[address]:port\"), was '127.0.0.1'",
        "sluice.tcp[2].listen: must be \"host:port\" with port 0-65535 (IPv6 as \"[address]:port\"), was "
            + "'127.0.0.1:70000'",
        "sluice.tcp[3].timeout: unknown key; allowed here: listen, pcap, pool",
        "sluice.tcp[4].listen: missing; must be \"host:port\" with port 0-65535",
        "sluice.tcp[5].pool: missing; must be the name of a pool",
        "sluice.tcp[6]: must be an object { listen = \"host:port\", pool = name }, was '127.0.0.1:7004'"), p);
  }

  @Test
  void aTyposKeyIsRefusedWithTheClosestKey() {
    List<String> p = problems(TWO_POOLS + "sluice.tcp = [ { lisen = \"127.0.0.1:7000\", pool = db } ]");
    assertTrue(p.contains("sluice.tcp[0].lisen: unknown key (did you mean listen?); allowed here: listen, pcap, pool"),
        p.toString());
  }

  @Test
  void anAddressBoundTwiceIsRefused() {
    List<String> p = problems(TWO_POOLS + """
        sluice.http.listen = "127.0.0.1:8080"
        sluice.tcp = [
          { listen = "127.0.0.1:7000", pool = db },
          { listen = "127.0.0.1:7000", pool = db },
          { listen = "127.0.0.1:8080", pool = db },
          { listen = "127.0.0.1:8081", pool = db }
        ]
        """);
    assertEquals(List.of(
        "sluice.tcp[1].listen: address 127.0.0.1:7000 is already bound by sluice.tcp[0].listen; every listener needs "
            + "its own address",
        "sluice.tcp[2].listen: address 127.0.0.1:8080 is already bound by sluice.http.listen; every listener needs "
            + "its own address",
        "sluice.tcp[3].listen: address 127.0.0.1:8081 is already bound by sluice.admin.listen; every listener needs "
            + "its own address"), p);
  }

  @Test
  void aPoolServesHttpOrTcpNotBoth() {
    List<String> p = problems(TWO_POOLS + """
        sluice.tcp = [ { listen = "127.0.0.1:7000", pool = db } ]
        sluice.routes = [ { path-prefix = "/db", pool = db }, { pool = web } ]
        sluice.default-pool = db
        """);
    assertEquals(List.of(
        "sluice.routes[0].pool: pool 'db' serves a TCP listener (sluice.tcp); a pool serves either HTTP routes or "
            + "TCP listeners, not both",
        "sluice.default-pool: pool 'db' serves a TCP listener (sluice.tcp); a pool serves either HTTP routes or "
            + "TCP listeners, not both"), p);
  }

  @Test
  void tcpMustBeAList() {
    List<String> p = problems(TWO_POOLS + "sluice.tcp { listen = \"127.0.0.1:7000\", pool = db }");
    assertEquals(1, p.size(), p.toString());
    assertTrue(p.get(0).startsWith("sluice.tcp: must be a list of TCP listeners"), p.get(0));
  }

  @Test
  void aPcapIngressIsReadOffByDefaultAndItsPoolServesTcp() {
    assertTrue(read("sluice.pools.web.backends = [\"127.0.0.1:9001\"]").tcp().stream().noneMatch(TcpSettings::isPcap));
    SluiceSettings s = read(TWO_POOLS + """
        sluice.tcp = [
          { pcap { interface = eth0, virtual-address = "192.0.2.80:80" }, pool = db }
        ]
        """);
    PcapSettings pcap = new PcapSettings("eth0", "eth0", "192.0.2.80", 80);
    assertEquals(List.of(TcpSettings.pcap(pcap, "db")), s.tcp());
    assertTrue(s.tcp().get(0).isPcap());
    assertEquals("pcap eth0 192.0.2.80:80", s.tcp().get(0).id());
    assertEquals(Set.of("db"), s.tcpPools());
    assertEquals(Optional.of("web"), s.defaultPool());
  }

  @Test
  void aPcapIngressMayNameItsBackendInterfaceAndShareAPoolWithAListener() {
    SluiceSettings s = read(TWO_POOLS + """
        sluice.tcp = [
          { pcap { interface = veth-c, backend-interface = "veth-b", virtual-address = "192.0.2.80:5432" }, pool = db },
          { listen = "127.0.0.1:7000", pool = db }
        ]
        """);
    assertEquals(new PcapSettings("veth-c", "veth-b", "192.0.2.80", 5432), s.tcp().get(0).pcap());
    assertEquals("pcap veth-c/veth-b 192.0.2.80:5432", s.tcp().get(0).id());
    assertEquals(new TcpSettings("127.0.0.1", 7000, "127.0.0.1:7000", "db"), s.tcp().get(1));
  }

  @Test
  void badPcapIngressesAreRefusedNamingTheirKey() {
    List<String> p = problems(TWO_POOLS + """
        sluice.tcp = [
          { listen = "127.0.0.1:7000", pcap { interface = eth0, virtual-address = "192.0.2.80:80" }, pool = db },
          { pcap { virtual-address = "192.0.2.80:80" }, pool = db },
          { pcap { interface = "eth/0", virtual-address = "192.0.2.81:80" }, pool = db },
          { pcap { interface = "a-very-long-interface", virtual-address = "192.0.2.81:80" }, pool = db },
          { pcap { interface = eth0, virtual-address = "192.0.2.81" }, pool = db },
          { pcap { interface = eth0, virtual-address = "[::1]:80" }, pool = db },
          { pcap { interface = eth0, virtual-address = "192.0.2.81:0" }, pool = db },
          { pcap { interface = eth0, virtual-address = "vip.example:80" }, pool = db },
          { pcap { interface = eth0, virtual-adress = "192.0.2.81:80" }, pool = db },
          { pcap { interface = eth0, virtual-address = "192.0.2.81:80", backend-interface = "" }, pool = db },
          { pcap = eth0, pool = db }
        ]
        """);
    String address = "must be \"a.b.c.d:port\" (an IPv4 address, port 1-65535)";
    String name = "must be a network interface's name (1-15 characters, no '/', ':' or space)";
    assertEquals(List.of(
        "sluice.tcp[0]: give either listen (a TCP listener) or pcap { ... } (the pcap ingress), not both",
        "sluice.tcp[1].pcap.interface: missing; " + name,
        "sluice.tcp[2].pcap.interface: " + name + ", was 'eth/0'",
        "sluice.tcp[3].pcap.interface: " + name + ", was 'a-very-long-interface'",
        "sluice.tcp[4].pcap.virtual-address: " + address + ", was '192.0.2.81'",
        "sluice.tcp[5].pcap.virtual-address: " + address + ", was '[::1]:80'",
        "sluice.tcp[6].pcap.virtual-address: " + address + ", was '192.0.2.81:0'",
        "sluice.tcp[7].pcap.virtual-address: " + address + ", was 'vip.example:80'",
        "sluice.tcp[8].pcap.virtual-adress: unknown key (did you mean virtual-address?); allowed here: interface, "
            + "virtual-address, backend-interface",
        "sluice.tcp[8].pcap.virtual-address: missing; " + address,
        "sluice.tcp[9].pcap.backend-interface: " + name + ", was ''",
        "sluice.tcp[10].pcap: must be an object { ... }, was 'eth0'"), p);
  }

  @Test
  void aVirtualAddressOrAPoolTakesOnePcapIngress() {
    List<String> p = problems(TWO_POOLS + """
        sluice.tcp = [
          { pcap { interface = eth0, virtual-address = "192.0.2.80:80" }, pool = db },
          { pcap { interface = eth1, virtual-address = "192.0.2.80:80" }, pool = web },
          { pcap { interface = eth0, virtual-address = "192.0.2.81:80" }, pool = db }
        ]
        """);
    assertEquals(List.of(
        "sluice.tcp[1].pcap.virtual-address: address 192.0.2.80:80 is already taken by sluice.tcp[0].pcap; every "
            + "pcap ingress needs its own virtual address",
        "sluice.tcp[2].pool: pool 'db' is already served by the pcap ingress sluice.tcp[0].pcap; a pool takes one "
            + "pcap ingress at most (its back-ends see the clients' own addresses and could not tell two virtual "
            + "addresses' clients apart)"), p);
  }
}
