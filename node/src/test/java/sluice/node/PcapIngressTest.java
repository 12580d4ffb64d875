package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import sluice.node.testing.NetnsLab;
import sluice.node.testing.NetnsPeer;

/**
 * The pcap ingress end to end (L4/3), in three network namespaces the test makes and removes
 * ({@link NetnsLab}): a real node JVM in the dispatcher's namespace captures on its two veths,
 * a real back-end ({@link NetnsPeer} backend, counting its own connections) runs in the back-end's
 * namespace, real clients ({@link NetnsPeer} client, the kernel's TCP) in the client's. Two
 * virtual addresses: 192.0.2.80:80 for pool {@code two} (limit 2, back-end port 8080) and
 * 192.0.2.81:80 for pool {@code one} (limit 1, queue max 1, idle timeout 1.5 s, port 8081).
 *
 * <p>Skipped, with a message saying why, where the machine cannot run it: not root, no
 * {@code ip}, namespaces refused, no libpcap ({@code test.sh} installs the packages).
 */
class PcapIngressTest {
  private static final String VIP_TWO = "192.0.2.80";
  private static final String VIP_ONE = "192.0.2.81";
  private static final String TOKEN = "pcap-test-token";
  private static final String STATUS = "http://" + NetnsLab.DISPATCHER_CLIENT_SIDE_IP + ":9900/status";
  private static final Duration WAIT = Duration.ofSeconds(20);

  private static NetnsLab lab;
  private static NetnsLab.Peer node;
  private static NetnsLab.Peer backend;
  private static NetnsLab.Peer clients;

  @BeforeAll
  static void setUp() throws Exception {
    Optional<String> why = NetnsLab.cannotRun();
    if (why.isPresent()) {
      System.err.println("PcapIngressTest SKIPPED: " + why.get());
    }
    Assumptions.assumeTrue(why.isEmpty(), () -> "pcap ingress tests skipped: " + why.get());
    lab = NetnsLab.create();
    try {
      Optional<String> rule = lab.nft("""
          table inet sluice_pcap {
            chain prerouting {
              type filter hook prerouting priority -300; policy accept;
              ip daddr { 192.0.2.80, 192.0.2.81 } tcp dport 80 drop
              ip saddr 203.0.113.2 tcp sport { 8080, 8081 } drop
            }
          }
          """);
      // forwarding is off in the new namespace, so the kernel stays quiet without the rule too
      rule.ifPresent(r -> System.err.println("PcapIngressTest: the README's firewall rule was not loaded (" + r
          + "); the dispatcher's namespace does not forward, which keeps its kernel quiet all the same"));
      Path dir = Files.createTempDirectory("sluice-pcap-test");
      List<String> small = List.of("-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
      backend = lab.startJava(lab.backend, small, NetnsPeer.class.getName(), List.of("backend", "8080", "8081"),
          dir.resolve("backend.log"));
      clients = lab.startJava(lab.client, small, NetnsPeer.class.getName(), List.of("client"),
          dir.resolve("clients.log"));
      Path config = dir.resolve("sluice.conf");
      Files.writeString(config, """
          sluice {
            http.listen = "127.0.0.1:0"
            admin { listen = "198.51.100.1:9900", token = "%s" }
            cluster.port = 0
            status-interval = 0
            pools {
              two { backends = ["203.0.113.2:8080"], limit { algorithm = fixed, value = 2 } }
              one {
                backends = ["203.0.113.2:8081"]
                limit { algorithm = fixed, value = 1 }
                queue { max = 1, refuse-connections-above = 1 }
                connections.idle-timeout = 1500ms
              }
            }
            tcp = [
              { pcap { interface = dcli, backend-interface = dsrv, virtual-address = "192.0.2.80:80" }, pool = two }
              { pcap { interface = dcli, backend-interface = dsrv, virtual-address = "192.0.2.81:80" }, pool = one }
            ]
          }
          """.formatted(TOKEN));
      node = lab.startJava(lab.dispatcher, List.of("-Xmx512m", "-Dlogback.configurationFile=logback-pcap.xml"),
          Main.class.getName(), List.of("--config", config.toString()), dir.resolve("node.log"));
      backend.await(0, "ready"::equals, WAIT);
      clients.await(0, "ready"::equals, WAIT);
      node.await(0, l -> l.contains("sluice listening on"), Duration.ofSeconds(60));
      // the leases of both pools are granted once the entities have learned: a first client goes through each
      run("warm-two", 1, VIP_TWO, 10, 0);
      run("warm-one", 1, VIP_ONE, 10, 0);
    } catch (Throwable t) {
      tearDown();
      throw t;
    }
  }

  @AfterAll
  static void tearDown() {
    if (lab != null) {
      lab.close();
      lab = null;
    }
  }

  /** 20 clients at once through a limit of 2: all served, every byte intact, never more than 2 at the back-end. */
  @Test
  void twentyClientsThroughALimitOfTwo() throws Exception {
    backendCommand("resetmax 8080", "resetmax");
    Map<String, String> before = stats(8080);
    int at = clients.mark();
    clients.send("run limit 20 " + VIP_TWO + " 80 100000 150");
    String done = clients.await(at, l -> l.startsWith("done limit"), Duration.ofSeconds(45));
    assertEquals("done limit ok=20 failed=0", done, () -> String.join("\n", clients.lines().subList(at,
        clients.mark())));
    Map<String, String> after = stats(8080);
    assertEquals("2", after.get("max"), "the most connections the back-end held at once");
    assertEquals(20, delta(before, after, "accepted"), "one back-end connection per client");
    assertEquals(0, delta(before, after, "resets"));
    // L4/3: only the destination is rewritten on the way in, so the back-end sees the client's own address
    assertEquals(NetnsLab.CLIENT_IP, after.get("peers"));
  }

  /** A client's RST frees its slot at once (the idle timeout is 60 s here), and the next in the queue goes. */
  @Test
  void aResetFreesTheSlotForTheNextClient() throws Exception {
    int at = clients.mark();
    Map<String, String> before = stats(8080);
    clients.send("open x " + VIP_TWO + " 80");
    clients.send("open y " + VIP_TWO + " 80");
    clients.await(at, "opened x"::equals, WAIT);
    clients.await(at, "opened y"::equals, WAIT);
    awaitStat(8080, "current", "2");
    clients.send("open z " + VIP_TWO + " 80");
    Thread.sleep(1500); // z's SYN is held: it must not reach the back-end while both slots are taken
    assertTrue(clients.lines().subList(at, clients.mark()).stream().noneMatch("opened z"::equals),
        "z connected while both slots were taken");
    assertEquals(2, delta(before, stats(8080), "accepted"));

    clients.send("reset x");
    clients.await(at, "opened z"::equals, WAIT);
    awaitStat(8080, "resets", String.valueOf(Integer.parseInt(before.get("resets")) + 1)); // x's RST reached it
    clients.send("finish z 5000");
    clients.send("finish y 70000");
    assertTrue(clients.await(at, l -> l.startsWith("finished z"), WAIT).startsWith("finished z ok"));
    assertTrue(clients.await(at, l -> l.startsWith("finished y"), WAIT).startsWith("finished y ok"));
    awaitStat(8080, "current", "0");
    assertEquals(3, delta(before, stats(8080), "accepted"));
    // the back-end's max is not asserted here: see anIdleConnectionIsResetAndItsSlotFreed
  }

  /** A connection idle for the idle timeout: both sides get a reset, and its slot serves the next client. */
  @Test
  void anIdleConnectionIsResetAndItsSlotFreed() throws Exception {
    int at = clients.mark();
    Map<String, String> before = stats(8081);
    clients.send("open i " + VIP_ONE + " 80");
    clients.await(at, "opened i"::equals, WAIT);
    clients.send("await i");
    clients.send("open j " + VIP_ONE + " 80"); // waits: limit 1
    String closed = clients.await(at, l -> l.startsWith("closed i"), WAIT);
    assertTrue(closed.startsWith("closed i reset"), closed);
    // under limit 1, j can only be admitted into the slot i held: the idle timeout freed it
    clients.await(at, "opened j"::equals, WAIT);
    clients.send("finish j 3000");
    assertTrue(clients.await(at, l -> l.startsWith("finished j"), WAIT).startsWith("finished j ok"));
    awaitStat(8081, "current", "0");
    Map<String, String> after = stats(8081);
    assertEquals(1, delta(before, after, "resets"), "the back-end saw the idle connection reset");
    assertEquals(2, delta(before, after, "accepted"));
    // not asserted: the back-end's max here. The reset ends i in the back-end's kernel before j's SYN
    // goes, but the back-end's thread for i may notice it only after j was accepted.
  }

  /**
   * A client whose SYN waits 3.5 s in the queue retransmits it (Linux: after 1 s and 3 s): the
   * flow is recognised, queued once, and served once.
   */
  @Test
  void retransmittedSynsAreNotQueuedTwice() throws Exception {
    int at = clients.mark();
    long acceptedBefore = poolAccepted("one");
    Map<String, String> before = stats(8081);
    clients.send("trickle a " + VIP_ONE + " 80 35 100"); // holds the only slot for 3.5 s, never idle
    clients.await(at, "opened a"::equals, WAIT);
    long queuedAt = System.nanoTime();
    clients.send("open b " + VIP_ONE + " 80");
    assertTrue(clients.await(at, l -> l.startsWith("finished a"), WAIT).startsWith("finished a ok"));
    clients.await(at, "opened b"::equals, WAIT);
    long waitedMillis = (System.nanoTime() - queuedAt) / 1_000_000;
    clients.send("finish b 2000");
    assertTrue(clients.await(at, l -> l.startsWith("finished b"), WAIT).startsWith("finished b ok"));
    assertTrue(waitedMillis > 1500, "b waited " + waitedMillis + " ms, so its kernel retransmitted the SYN");
    assertEquals(2, poolAccepted("one") - acceptedBefore, "the queue took a and b once each");
    awaitStat(8081, "current", "0");
    assertEquals(2, delta(before, stats(8081), "accepted"), "the back-end saw a and b once each");
  }

  /** Above the queue's max, a new client is reset (its connect is refused), having reached no back-end. */
  @Test
  void aClientAboveTheQueuesMaxIsRefused() throws Exception {
    int at = clients.mark();
    Map<String, String> before = stats(8081);
    clients.send("open h " + VIP_ONE + " 80");
    clients.await(at, "opened h"::equals, WAIT);
    clients.send("trickle q 192.0.2.81 80 1 0"); // waits in the queue (max 1)
    Thread.sleep(500);
    clients.send("open r " + VIP_ONE + " 80");
    String refused = clients.await(at, l -> l.startsWith("error open r") || l.equals("opened r"), WAIT);
    assertTrue(refused.contains("Connection refused"), refused);
    clients.send("finish h 100");
    assertTrue(clients.await(at, l -> l.startsWith("finished h"), WAIT).startsWith("finished h ok"));
    assertTrue(clients.await(at, l -> l.startsWith("finished q"), WAIT).startsWith("finished q ok"));
    awaitStat(8081, "current", "0");
    assertEquals(2, delta(before, stats(8081), "accepted"), "r never reached the back-end");
  }

  // ---- helpers ------------------------------------------------------------------------

  private static void run(String tag, int n, String vip, int bytes, int holdMillis) throws Exception {
    int at = clients.mark();
    clients.send("run " + tag + " " + n + " " + vip + " 80 " + bytes + " " + holdMillis);
    String done = clients.await(at, l -> l.startsWith("done " + tag), Duration.ofSeconds(45));
    if (!done.equals("done " + tag + " ok=" + n + " failed=0")) {
      fail(done + "\n" + String.join("\n", clients.lines().subList(at, clients.mark())));
    }
  }

  private static String backendCommand(String command, String answerPrefix) throws Exception {
    int at = backend.mark();
    backend.send(command);
    return backend.await(at, l -> l.startsWith(answerPrefix) || l.startsWith("error"), WAIT);
  }

  private static Map<String, String> stats(int port) throws Exception {
    String line = backendCommand("stats " + port, "stats " + port);
    Map<String, String> out = new HashMap<>();
    for (String word : line.split(" ")) {
      int eq = word.indexOf('=');
      if (eq > 0) {
        out.put(word.substring(0, eq), word.substring(eq + 1));
      }
    }
    return out;
  }

  private static void awaitStat(int port, String key, String value) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    Map<String, String> s = stats(port);
    while (!value.equals(s.get(key))) {
      if (System.nanoTime() > deadline) {
        fail("back-end port " + port + ": " + key + " stayed " + s.get(key) + ", wanted " + value + ": " + s);
      }
      Thread.sleep(50);
      s = stats(port);
    }
  }

  private static int delta(Map<String, String> before, Map<String, String> after, String key) {
    return Integer.parseInt(after.get(key)) - Integer.parseInt(before.get(key));
  }

  /** The pool's {@code accepted} in the node's /status, fetched from the client's namespace. */
  @SuppressWarnings("unchecked")
  private static long poolAccepted(String pool) throws Exception {
    int at = clients.mark();
    clients.send("get " + STATUS + " " + TOKEN);
    String line = clients.await(at, l -> l.startsWith("body ") || l.startsWith("error get"), WAIT);
    assertTrue(line.startsWith("body 200 "), line);
    Map<String, Object> status = (Map<String, Object>) Json.parse(line.substring("body 200 ".length()));
    for (Object p : (List<Object>) status.get("pools")) {
      Map<String, Object> m = (Map<String, Object>) p;
      if (pool.equals(m.get("pool"))) {
        return ((Number) m.get("accepted")).longValue();
      }
    }
    throw new AssertionError("no pool " + pool + " in " + line);
  }
}
