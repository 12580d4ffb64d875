package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import sluice.node.testing.FaultyBackend;
import sluice.node.testing.FaultyBackend.Fault;
import sluice.node.testing.FaultyBackend.FaultRates;

/**
 * A soak under faults, a few minutes long: normal clients beside hostile ones (slowloris, slow
 * body, slow reader, non-reader, abrupt resets, malformed requests) while the back-end is killed
 * and started again, resets connections, answers garbage, stalls and closes mid-response. The
 * node runs in its own JVM (so that its heap and file descriptors can be read) with the leak
 * detector at paranoid.
 *
 * <p>What must hold, for any correct dispatcher: (a) the node's outcome counters add up to what
 * it accepted; (b) every request of a normal client gets exactly one answer (the back-end's
 * own, or 502/503/504), none is missing, none comes twice, no connection hangs; (c) the
 * back-end never has more than the limit in flight; (d) once the load has stopped and the
 * connections are closed, the node's heap after a full collection and its open file
 * descriptors are back where they were after the warm-up. The figures are printed at the end.
 */
class SoakTest {
  private static final int LIMIT = 8;
  private static final int NORMAL_CLIENTS = 16;
  private static final Duration WARM_UP = Duration.ofSeconds(20);
  /** The soak after the warm-up; {@code -Dsluice.soak.seconds=N} runs a longer (or, while debugging, shorter) one. */
  private static final Duration SOAK = Duration.ofSeconds(Long.getLong("sluice.soak.seconds", 130));
  private static final Duration KILL_EVERY = Duration.ofSeconds(25);
  private static final Duration DOWN_FOR = Duration.ofSeconds(3);
  private static final FaultRates FAULTS = new FaultRates(0.02, 0.02, 0.02, 0.005, 0.03);
  /** The back-end holds a stalled answer this long: past the node's response timeout (1 s). */
  private static final int STALL_MILLIS = 1500;

  /** Counters of the pool's status that say how a request ended; the sum must be what was accepted. */
  private static final List<String> OUTCOMES = List.of("served", "rejectedFull", "expired", "noBackendUp", "badGateway",
      "gatewayTimeout", "abandoned", "clientAborted", "stopped");
  /** Counters of the pool that are 503 answers. */
  private static final List<String> OUTCOMES_503 = List.of("rejectedFull", "expired", "noBackendUp", "stopped");
  /** Numbers of the pool's status that are not outcomes. */
  private static final Set<String> NOT_OUTCOMES = Set.of("queue", "inProgress", "accepted");

  /**
   * How far the heap after a full collection may end above where it was after the warm-up.
   * What stays after a collection once the warm-up has run every path (each kind of client, each
   * fault, a kill) is the node's fixed state: actors, pools, the event loop, Netty's pooled
   * arenas, histograms of a bounded size. What may still move is small and not per request:
   * caches that fill on first use of a rarely taken path (reflection, a logger, a JIT-related
   * object), a histogram bucket array that grows to a new maximum, and the few objects of the
   * admin request that reads the status. 4 MiB leaves room for that; the soak makes far more
   * than enough requests and connections that a leak of even a few dozen bytes each would pass
   * it (the figures printed say how many bytes per request the tolerance is).
   */
  private static final long HEAP_TOLERANCE_BYTES = 4L * 1024 * 1024;
  /**
   * How many more file descriptors than after the warm-up may be open in the end. Every
   * connection of the node is a socket and must be gone, so sockets are compared exactly; the
   * rest may grow by a handful of the JVM's own: a jar of the class path opened when a class
   * from it is first loaded, a file of the attach mechanism (jcmd) kept open.
   */
  private static final int OTHER_FD_TOLERANCE = 4;

  @Test
  void normalClientsAreAnsweredExactlyOnceAmongHostileOnesWhileTheBackendFails() throws Exception {
    FaultyBackend backend = new FaultyBackend(0, 1, 6, STALL_MILLIS, 42).faults(FAULTS).start();
    String config = """
        sluice {
          http { idle-timeout = 3s, head-deadline = 2s, limits { max-body-size = 1m } }
          status-interval = 5s
          defaults {
            limit { algorithm = fixed, value = %d }
            queue { max = 2000, timeout = 2s, refuse-connections-above = 2000 }
            connections { pre-open = 1, idle-timeout = 2s, connect-timeout = 1s, response-timeout = 1s,
                          down-backoff-min = 50ms, down-backoff-max = 500ms }
          }
          pools.web.backends = ["127.0.0.1:%d"]
        }
        """.formatted(LIMIT, backend.port());
    List<String> jvm = List.of("-Xmx256m", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
        "-Dio.netty.leakDetection.level=paranoid", "-Dsluice.admin.listen=127.0.0.1:0",
        "-Dlogback.configurationFile=logback-soak.xml");
    Figures figures = new Figures();
    try (ChildNode node = ChildNode.start(config, jvm)) {
      int admin = adminPort(node);
      awaitReady(admin);

      // warm-up: every kind of client, every fault and one kill, so that every path has run once
      SoakClients warmUp = new SoakClients(node.httpPort()).start("w", NORMAL_CLIENTS);
      runFor(WARM_UP, backend, Duration.ofSeconds(8));
      assertTrue(warmUp.stop(), () -> "warm-up clients stuck: " + warmUp.failures());
      figures.before = quiet(node, admin, backend);

      long loadStart = System.nanoTime();
      SoakClients soak = new SoakClients(node.httpPort()).start("s", NORMAL_CLIENTS);
      int soakKills = runFor(SOAK, backend, KILL_EVERY);
      boolean ended = soak.stop();
      figures.loadSeconds = (System.nanoTime() - loadStart) / 1e9 + WARM_UP.toSeconds();
      figures.after = quiet(node, admin, backend);
      figures.clients = List.of(warmUp, soak);
      figures.backend = backend;

      // the node still serves as before
      backend.faults(FaultRates.NONE);
      try (RawHttp http = RawHttp.connect(node.httpPort())) {
        RawHttp.Response r = http.get("/echo?after", "X-Echo-Id: after");
        assertEquals(200, r.status(), r.bodyText());
      }
      String output = node.output();
      figures.print();

      // (b) every request of a normal client got exactly one answer
      assertTrue(ended, "every client thread ended");
      for (SoakClients clients : figures.clients) {
        assertEquals(List.of(), clients.failures(), clients.failureCount() + " failures");
        for (SoakClients.NormalClient c : clients.normalClients()) {
          assertEquals(c.sent, c.answered, c.name + ": requests sent and answers read");
          assertEquals(0, c.missing + c.hung + c.wrong + c.extra, c.name + ": missing, hung, wrong, extra");
        }
      }
      // (a) the outcomes add up to what was accepted, and agree with what normal clients saw
      Map<String, Long> pool = figures.after.pool;
      for (String key : pool.keySet()) {
        assertTrue(OUTCOMES.contains(key) || NOT_OUTCOMES.contains(key),
            "the pool's status has a number the soak does not know: '" + key + "'; add it to OUTCOMES (if it says"
                + " how a request ended) or NOT_OUTCOMES");
      }
      assertEquals(0, pool.get("queue"), "nothing waits");
      assertEquals(0, pool.get("inProgress"), "nothing in progress");
      long ended503 = OUTCOMES_503.stream().mapToLong(pool::get).sum();
      assertEquals(pool.get("accepted"), OUTCOMES.stream().mapToLong(pool::get).sum(),
          "accepted = served + 503s + 502 + 504 + dropped + aborted: " + pool);
      assertTrue(pool.get("served") >= figures.normal("200"), "served covers the normal clients' 200s");
      assertTrue(pool.get("badGateway") >= figures.normal("502"), "502s counted");
      assertTrue(pool.get("gatewayTimeout") >= figures.normal("504"), "504s counted");
      assertTrue(ended503 >= figures.normal("503"), "503s counted");
      // (c) the limit held at the back-end, one request at a time on each connection, nothing malformed passed
      assertTrue(backend.maxInFlight() <= LIMIT, "most in flight at the back-end: " + backend.maxInFlight());
      assertEquals(0, backend.overlapping(), "requests overlapping on one back-end connection");
      assertEquals(0, backend.unexpected(), () -> "requests the node should not have passed on: "
          + backend.unexpectedSamples());
      // (d) heap and file descriptors back where they were
      assertTrue(figures.after.heapBytes <= figures.before.heapBytes + HEAP_TOLERANCE_BYTES,
          "heap after GC " + figures.before.heapBytes + " -> " + figures.after.heapBytes + " bytes");
      assertTrue(figures.after.sockets <= figures.before.sockets,
          "sockets " + figures.before.sockets + " -> " + figures.after.sockets + ": " + figures.after.fdKinds);
      assertTrue(figures.after.fds - figures.after.sockets <= figures.before.fds - figures.before.sockets
          + OTHER_FD_TOLERANCE, "other fds " + figures.before.fdKinds + " -> " + figures.after.fdKinds);
      assertFalse(output.contains("LEAK:"), "a Netty buffer leaked in the node:\n" + leakLines(output));
      assertFalse(output.contains("This is a bug"), "the node's last guard answered an exchange");
      assertFalse(output.contains("OutOfMemoryError"), "out of memory");
      // and the soak did what it says: the faults, the kills and the hostile clients all happened
      for (Fault f : Fault.values()) {
        assertTrue(backend.faultCount(f) > 0, "the back-end drew " + f);
      }
      assertTrue(soakKills > 0, "the back-end was killed during the soak");
      assertTrue(figures.normal("200") > 0 && figures.normal("502") > 0 && figures.normal("503") > 0,
          "normal clients saw answers, 502s and 503s");
      assertTrue(pool.get("gatewayTimeout") > 0 && pool.get("clientAborted") > 0 && pool.get("abandoned") > 0,
          "504s, aborted and dropped requests happened");
      assertTrue(figures.count("slowloris.status.408") > 0, "slowloris clients were cut off with 408");
      assertEquals(0, figures.count("slowloris.head-completed"), "no slowloris head outlived the head deadline");
    } finally {
      backend.kill();
    }
  }

  // ---- phases ----------------------------------------------------------------------------

  /**
   * Lets the load run for {@code length}, killing the back-end every {@code killEvery} for
   * {@link #DOWN_FOR}; returns the number of kills.
   */
  private static int runFor(Duration length, FaultyBackend backend, Duration killEvery) throws InterruptedException {
    long end = System.nanoTime() + length.toNanos();
    long nextKill = System.nanoTime() + killEvery.toNanos();
    int kills = 0;
    while (System.nanoTime() < end) {
      long now = System.nanoTime();
      if (now >= nextKill && end - now > DOWN_FOR.toNanos() * 2) {
        backend.kill();
        Thread.sleep(DOWN_FOR.toMillis());
        backend.start();
        kills++;
        nextKill += killEvery.toNanos();
      }
      Thread.sleep(Math.max(1, Math.min(nextKill, end) - System.nanoTime()) / 1_000_000 + 1);
    }
    return kills;
  }

  /**
   * Waits until the node is at rest (nothing waiting or in flight, the back-end up, only its
   * pre-opened connection left) and measures it: heap after a full collection, file descriptors.
   */
  private static Snapshot quiet(ChildNode node, int admin, FaultyBackend backend) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    Status s = status(admin);
    while (!(s.pool.get("queue") == 0 && s.pool.get("inProgress") == 0 && s.up && s.connections == 1
        && s.inFlight == 0 && backend.inFlight() == 0)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the node did not come to rest within 60 s: " + s);
      }
      Thread.sleep(200);
      s = status(admin);
    }
    long pid = node.pid();
    jcmd(pid, "GC.run");
    Thread.sleep(500); // references the collection found (the leak detector's among them) are processed
    jcmd(pid, "GC.run");
    String heap = jcmd(pid, "GC.heap_info");
    Matcher m = Pattern.compile("garbage-first heap\\s+total \\d+K, used (\\d+)K").matcher(heap);
    if (!m.find()) {
      throw new AssertionError("no heap figure in: " + heap);
    }
    Snapshot snap = new Snapshot();
    snap.heapBytes = Long.parseLong(m.group(1)) * 1024;
    snap.fdKinds = fdKinds(pid);
    snap.fds = snap.fdKinds.values().stream().mapToLong(Long::longValue).sum();
    snap.sockets = snap.fdKinds.getOrDefault("socket", 0L);
    snap.pool = status(admin).pool;
    return snap;
  }

  /** Open file descriptors of {@code pid} by kind: socket, pipe, anon_inode:..., file. */
  private static Map<String, Long> fdKinds(long pid) throws IOException {
    Map<String, Long> kinds = new TreeMap<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : fds.toList()) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException gone) {
          continue; // closed while listed
        }
        String kind = target.startsWith("socket:") ? "socket" : target.startsWith("pipe:") ? "pipe"
            : target.startsWith("anon_inode:") ? target : "file";
        kinds.merge(kind, 1L, Long::sum);
      }
    }
    return kinds;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("jcmd " + command + " failed: " + out);
    }
    return out;
  }

  // ---- the node's operator's listener ------------------------------------------------------

  private static int adminPort(ChildNode node) throws IOException {
    Matcher m = Pattern.compile("operator's listener on \\S*?:(\\d+)").matcher(node.output());
    if (!m.find()) {
      throw new AssertionError("no operator's listener in the node's output:\n" + node.output());
    }
    return Integer.parseInt(m.group(1));
  }

  private static void awaitReady(int admin) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!get(admin, "/ready").startsWith("HTTP/1.1 200")) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("node not ready: " + get(admin, "/ready"));
      }
      Thread.sleep(100);
    }
  }

  /** The pool's numbers and its one back-end's state, from {@code GET /status}. */
  record Status(Map<String, Long> pool, boolean up, long connections, long inFlight) {}

  private static Status status(int admin) throws IOException {
    String text = get(admin, "/status");
    int pools = text.indexOf("\"pools\":[");
    int backends = text.indexOf("\"backends\":[", pools);
    if (pools < 0 || backends < 0) {
      throw new AssertionError("unexpected status: " + text);
    }
    Map<String, Long> pool = new LinkedHashMap<>();
    Matcher m = Pattern.compile("\"(\\w+)\":(-?\\d+)").matcher(text.substring(pools, backends));
    while (m.find()) {
      pool.put(m.group(1), Long.parseLong(m.group(2)));
    }
    String b = text.substring(backends);
    return new Status(pool, b.contains("\"up\":true"), number(b, "connections"), number(b, "inFlight"));
  }

  private static long number(String text, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":(-?\\d+)").matcher(text);
    if (!m.find()) {
      throw new AssertionError("no " + name + " in " + text);
    }
    return Long.parseLong(m.group(1));
  }

  /** A GET over HTTP/1.0, so that the connection closes after it (none stays open to count as the node's). */
  private static String get(int port, String path) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(30_000);
      s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: admin\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  private static String leakLines(String output) {
    List<String> lines = new ArrayList<>();
    for (String l : output.split("\n")) {
      if (l.contains("LEAK") && lines.size() < 40) {
        lines.add(l);
      }
    }
    return String.join("\n", lines);
  }

  // ---- figures -------------------------------------------------------------------------------

  static final class Snapshot {
    long heapBytes;
    long fds;
    long sockets;
    Map<String, Long> fdKinds;
    Map<String, Long> pool;
  }

  static final class Figures {
    Snapshot before;
    Snapshot after;
    List<SoakClients> clients = List.of();
    FaultyBackend backend;
    double loadSeconds;

    long count(String key) {
      return clients.stream().mapToLong(c -> c.count(key)).sum();
    }

    long normal(String status) {
      return count("normal.status." + status);
    }

    void print() {
      Map<String, Long> all = new TreeMap<>();
      for (SoakClients c : clients) {
        c.counts().forEach((k, v) -> all.merge(k, v, Long::sum));
      }
      StringBuilder out = new StringBuilder("\n==== soak figures (" + Math.round(loadSeconds) + " s of load, limit "
          + LIMIT + ") ====\n");
      out.append("requests by kind (clients' own counts):\n");
      String kind = "";
      for (Map.Entry<String, Long> e : all.entrySet()) {
        String k = e.getKey().substring(0, e.getKey().indexOf('.'));
        out.append(k.equals(kind) ? ", " : (kind.isEmpty() ? "  " : "\n  ") + k + ": ");
        kind = k;
        out.append(e.getKey().substring(k.length() + 1)).append('=').append(e.getValue());
      }
      out.append("\nnode outcomes (pool web): ").append(after.pool).append('\n');
      out.append("back-end: requests=").append(backend.requests()).append(", answered=").append(backend.answered())
          .append(", cut off=").append(backend.cutOff()).append(", connections=")
          .append(backend.connectionsAccepted()).append(", kills=").append(backend.kills())
          .append(", most in flight=").append(backend.maxInFlight()).append(" (limit ").append(LIMIT)
          .append(")\n  faults drawn: ").append(backend.faultCounts()).append('\n');
      out.append("heap after full GC: ").append(after.heapBytes / 1024).append(" KiB (after warm-up ")
          .append(before.heapBytes / 1024).append(" KiB; tolerance ").append(HEAP_TOLERANCE_BYTES / 1024)
          .append(" KiB = ").append(String.format("%.1f", HEAP_TOLERANCE_BYTES / (double) Math.max(1,
              after.pool.get("accepted")))).append(" bytes per accepted request)\n");
      out.append("file descriptors: ").append(after.fds).append(' ').append(after.fdKinds).append(" (after warm-up ")
          .append(before.fds).append(' ').append(before.fdKinds).append(")\n");
      out.append("==== end of soak figures ====\n");
      System.out.println(out);
    }
  }
}
