package sluice.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Runs deploy/local-cluster.sh as a user would (bash, its own ports through SLUICE_PORT_BASE),
 * sends requests through each of its three nodes, reads their /status, then stops it with
 * {@code local-cluster.sh stop} and checks that every process it started is gone.
 */
class LocalClusterTest {
  static final Path SCRIPT = Path.of("local-cluster.sh").toAbsolutePath();
  static final Path RUN_DIR = Path.of("target", "local-cluster-test").toAbsolutePath();
  static final List<String> NAMES = List.of("backend", "node1", "node2", "node3");
  /**
   * A bound, not the expected time: three nodes are ready in 12-30 s here, but this 2-core
   * machine is shared, and JVMs that start while others run tests start slowly.
   */
  static final Duration READY = Duration.ofSeconds(90);

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private final StringBuffer output = new StringBuffer();
  private Process cluster;
  private int base;

  @AfterEach
  void stopWhatIsLeft() throws Exception {
    if (cluster == null) {
      return;
    }
    if (cluster.isAlive()) {
      run("stop");
      cluster.destroy(); // the script itself, if it did not end with its processes
      cluster.waitFor(10, TimeUnit.SECONDS);
    }
    System.out.println("local-cluster.sh said:\n" + output);
  }

  @Test
  void threeNodesServeFormOneClusterAndStopByTheirPids() throws Exception {
    base = freePortBase();
    long started = System.nanoTime();
    ProcessBuilder start = script("start");
    cluster = start.start();
    Thread reader = new Thread(() -> copyLines(cluster), "local-cluster-output");
    reader.setDaemon(true);
    reader.start();
    awaitOutput("local-cluster: 3 nodes ready", READY);
    System.out.printf("MEASURED local-cluster.sh start to three nodes ready: %d ms%n",
        Duration.ofNanos(System.nanoTime() - started).toMillis());

    Map<String, Long> pids = new LinkedHashMap<>();
    for (String name : NAMES) {
      long pid = Long.parseLong(Files.readString(RUN_DIR.resolve(name + ".pid")).strip());
      pids.put(name, pid);
      assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), name + " runs");
      assertTrue(output.toString().contains("pid " + pid), "the script printed " + name + "'s pid " + pid);
      assertTrue(Files.size(RUN_DIR.resolve(name + ".log")) > 0, name + " has a log");
    }

    int requestsPerNode = 5;
    for (int i = 0; i < 3; i++) {
      for (int r = 0; r < requestsPerNode; r++) {
        HttpResponse<String> response = get(base + 10 * i, "/hello-" + r);
        assertEquals(200, response.statusCode(), "node" + (i + 1) + " answers through the back-end");
        assertEquals(100, response.body().length(), "the demo back-end's 100-byte body");
      }
    }

    String backendId = "127.0.0.1:" + (base + 30);
    int hostingEntity = 0;
    for (int i = 0; i < 3; i++) {
      String status = get(base + 10 * i + 1, "/status").body();
      assertEquals("sluice@127.0.0.1:" + (base + 10 * i + 2), field(status, "node"), status);
      assertEquals("Up", field(status, "member"), status);
      assertEquals("false", field(status, "draining"), status);
      assertEquals(backendId, field(status, "id"), status);
      assertEquals("true", field(status, "leaseValid"), status);
      assertTrue(Long.parseLong(field(status, "served")) >= requestsPerNode, status);
      String entities = field(status, "entitiesHere");
      if (entities.contains(backendId)) {
        hostingEntity++;
      } else {
        assertEquals("", entities, status);
      }
    }
    // /status names no members; one cluster shows as one entity for the back-end, on one node
    // (three clusters of one would each run their own)
    assertEquals(1, hostingEntity, "exactly one node hosts the back-end's entity");

    long stopping = System.nanoTime();
    Process stop = run("stop");
    assertEquals(0, stop.exitValue(), "local-cluster.sh stop succeeds");
    for (Map.Entry<String, Long> e : pids.entrySet()) {
      awaitGone(e.getKey(), e.getValue(), Duration.ofSeconds(10));
    }
    System.out.printf("MEASURED local-cluster.sh stop until every process is gone: %d ms%n",
        Duration.ofNanos(System.nanoTime() - stopping).toMillis());
    assertTrue(cluster.waitFor(10, TimeUnit.SECONDS), "the starting script ends with its processes");
    awaitOutput("local-cluster: backend (pid", Duration.ofSeconds(5));
    for (String node : List.of("node1", "node2", "node3")) {
      assertTrue(output.toString().contains(node + " (pid " + pids.get(node) + ") stopped (143"),
          node + " stopped on SIGTERM:\n" + output);
    }
    try (var left = Files.list(RUN_DIR)) {
      assertEquals(List.of(), left.filter(p -> p.toString().endsWith(".pid")).toList(), "stop removes the PID files");
    }
  }

  private ProcessBuilder script(String command) {
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), command).redirectErrorStream(true);
    pb.environment().put("SLUICE_PORT_BASE", Integer.toString(base));
    pb.environment().put("SLUICE_RUN_DIR", RUN_DIR.toString());
    pb.environment().put("SLUICE_READY_TIMEOUT", Long.toString(READY.toSeconds() - 5));
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    // small JVMs that start fast, as the multi-JVM tests run theirs
    pb.environment().put("SLUICE_JAVA_OPTS", "-Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
    return pb;
  }

  /** Runs {@code local-cluster.sh <command>} to its end; its output joins the starting script's. */
  private Process run(String command) throws IOException, InterruptedException {
    Process p = script(command).start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    output.append("[").append(command).append("] ").append(said);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroy();
      fail("local-cluster.sh " + command + " did not end within 60 s:\n" + said);
    }
    return p;
  }

  private void copyLines(Process p) {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        output.append(line).append('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void awaitOutput(String text, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!output.toString().contains(text)) {
      if (!cluster.isAlive() && !output.toString().contains(text)) {
        Thread.sleep(200); // the last lines may still be on their way
        if (!output.toString().contains(text)) {
          fail("local-cluster.sh exited with " + cluster.exitValue() + " before '" + text + "':\n" + output);
        }
      }
      if (System.nanoTime() > deadline) {
        fail("no '" + text + "' from local-cluster.sh within " + timeout + ":\n" + output);
      }
      Thread.sleep(100);
    }
  }

  private static void awaitGone(String name, long pid, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      if (System.nanoTime() > deadline) {
        fail(name + " (pid " + pid + ") still runs " + timeout + " after local-cluster.sh stop");
      }
      Thread.sleep(50);
    }
  }

  private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The first value of a field of the node's /status JSON: a quoted text, a list's contents, or a literal. */
  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\":(\"([^\"]*)\"|\\[([^\\]]*)\\]|([^,}\\]]+))").matcher(json);
    assertTrue(m.find(), "'" + name + "' in " + json);
    return Optional.ofNullable(m.group(2)).or(() -> Optional.ofNullable(m.group(3)))
        .orElse(m.group(4)).replace("\"", "");
  }

  /** A base B such that B, B+1, B+2, B+10, ... B+22 and B+30 are free on loopback now. */
  static int freePortBase() throws IOException {
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    for (int attempt = 0; attempt < 100; attempt++) {
      // below Linux's ephemeral range (32768 and up), where outgoing connections take their ports
      int b = 20000 + 10 * ThreadLocalRandom.current().nextInt(1200);
      List<ServerSocket> held = new ArrayList<>();
      try {
        for (int offset : new int[] {0, 1, 2, 10, 11, 12, 20, 21, 22, 30}) {
          held.add(new ServerSocket(b + offset, 1, loopback));
        }
        return b;
      } catch (IOException taken) {
        // try another base
      } finally {
        for (ServerSocket s : held) {
          s.close();
        }
      }
    }
    throw new IOException("no free range of 31 ports on 127.0.0.1 in 100 tries");
  }
}
