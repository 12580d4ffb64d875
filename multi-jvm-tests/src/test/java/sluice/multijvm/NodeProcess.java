package sluice.multijvm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import sluice.node.Json;

/**
 * A Sluice node in a JVM of its own, started as a user would (`Main --config FILE`) with this
 * test's class path, on loopback ports of its own. Its output goes to a file under
 * target/nodes. Signals go to its process only, by its PID.
 */
final class NodeProcess implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  /** Ports a node of a cluster uses, chosen before any starts so that each knows the seeds. */
  record Ports(int http, int admin, int cluster) {
    static Ports free() {
      return new Ports(freePort(), freePort(), freePort());
    }
  }

  final String name;
  final Ports ports;
  private final Process process;
  private final Path log;

  private NodeProcess(String name, Ports ports, Process process, Path log) {
    this.name = name;
    this.ports = ports;
    this.process = process;
    this.log = log;
  }

  /**
   * Starts a node; it serves the one pool {@code web} of one back-end.
   *
   * @param seeds  every node's ports (the seed nodes of the cluster)
   * @param extra  more HOCON for the node's file
   */
  static NodeProcess start(String name, Ports ports, List<Ports> seeds, int backendPort, int limit, String extra) {
    try {
      Path dir = Files.createDirectories(Path.of("target", "nodes"));
      Path file = dir.resolve(name + "-" + ports.cluster() + ".conf");
      StringBuilder seedList = new StringBuilder();
      for (Ports seed : seeds) {
        seedList.append(seedList.length() == 0 ? "" : ", ").append("\"127.0.0.1:").append(seed.cluster()).append('"');
      }
      Files.writeString(file, """
          sluice {
            http.listen = "127.0.0.1:%d"
            admin.listen = "127.0.0.1:%d"
            cluster { host = "127.0.0.1", port = %d, seed-nodes = [%s], lease-time = 2s, stable-after = 5s }
            status-interval = 0
            drain-timeout = 5s
            pools.web {
              backends = ["127.0.0.1:%d"]
              limit { algorithm = fixed, value = %d }
              queue { timeout = 60s }
            }
          }
          # several nodes start at once in a test: the first seed forms the cluster soon
          pekko.cluster.seed-node-timeout = 1s
          %s
          """.formatted(ports.http(), ports.admin(), ports.cluster(), seedList, backendPort, limit, extra));
      Path log = dir.resolve(name + "-" + ports.cluster() + ".log");
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(List.of("-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
          System.getProperty("java.class.path"), "sluice.node.Main", "--config", file.toString()));
      Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      return new NodeProcess(name, ports, process, log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts the nodes of {@code which} at once (named {@code prefix} and their place among the
   * seeds, from 1), each added to {@code into} as it is launched so that the caller stops it
   * whatever happens, then waits until every one is ready.
   */
  static List<NodeProcess> startAll(String prefix, List<Ports> seeds, List<Ports> which, int backendPort, int limit,
      List<NodeProcess> into, Duration ready) throws InterruptedException {
    List<NodeProcess> started = new ArrayList<>();
    for (Ports ports : which) {
      NodeProcess n = start(prefix + (seeds.indexOf(ports) + 1), ports, seeds, backendPort, limit, "");
      into.add(n);
      started.add(n);
    }
    for (NodeProcess n : started) {
      n.awaitReady(ready); // they start together: waiting for one lets the others go on
    }
    return started;
  }

  /** Waits until the node says it is ready: up in the cluster, with a lease for its back-end. */
  NodeProcess awaitReady(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ready()) {
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n" + output());
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(name + " not ready within " + timeout + ":\n" + output());
      }
      Thread.sleep(50);
    }
    return this;
  }

  boolean ready() {
    return get("/ready").map(r -> r.statusCode() == 200).orElse(false);
  }

  /** The node's /status, or empty if it does not answer. */
  Optional<Status> status() {
    return get("/status").filter(r -> r.statusCode() == 200).map(r -> Status.of(r.body()));
  }

  /** The node's /status as it sent it, or empty if it does not answer. */
  Optional<String> statusJson() {
    return get("/status").filter(r -> r.statusCode() == 200).map(HttpResponse::body);
  }

  /** A POST to the node's operator's listener (the admin calls), or empty if it does not answer. */
  Optional<HttpResponse<String>> post(String path) {
    return send(HttpRequest.newBuilder(adminUri(path)).POST(HttpRequest.BodyPublishers.noBody())
        .timeout(Duration.ofSeconds(5)).build());
  }

  private Optional<HttpResponse<String>> get(String path) {
    return send(HttpRequest.newBuilder(adminUri(path)).timeout(Duration.ofSeconds(2)).build());
  }

  private URI adminUri(String path) {
    return URI.create("http://127.0.0.1:" + ports.admin() + path);
  }

  private static Optional<HttpResponse<String>> send(HttpRequest request) {
    try {
      return Optional.of(HTTP.send(request, HttpResponse.BodyHandlers.ofString()));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /** What /status says of the node and its one back-end. */
  record Status(String member, boolean draining, List<String> entitiesHere, int limit, int granted,
      boolean leaseValid, int inFlight, int queue, long served) {
    @SuppressWarnings("unchecked")
    static Status of(String json) {
      Map<String, Object> node = (Map<String, Object>) Json.parse(json);
      Map<String, Object> pool = ((List<Map<String, Object>>) node.get("pools")).get(0);
      Map<String, Object> backend = ((List<Map<String, Object>>) pool.get("backends")).get(0);
      return new Status((String) node.get("member"), (Boolean) node.get("draining"),
          (List<String>) node.get("entitiesHere"), number(backend, "limit"), number(backend, "granted"),
          (Boolean) backend.get("leaseValid"), number(backend, "inFlight"), number(pool, "queue"),
          (long) (double) (Double) pool.get("served"));
    }

    private static int number(Map<String, Object> map, String key) {
      return (int) (double) (Double) map.get(key);
    }
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL: the node dies at once, without a word to the others. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGTERM: the node's graceful stop. */
  void terminate() {
    process.destroy();
  }

  /** SIGSTOP / SIGCONT: freezes and resumes the node's process. */
  void signal(String which) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + which, Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -" + which + " " + process.pid() + " failed");
    }
  }

  /** Waits for the process to end; its exit code, or empty if it did not end in time. */
  Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? Optional.of(process.exitValue())
        : Optional.empty();
  }

  String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return name + "(pid " + process.pid() + ", http " + ports.http() + ", cluster " + ports.cluster() + ")";
  }
}
