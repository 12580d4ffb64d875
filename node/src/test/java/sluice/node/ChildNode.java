package sluice.node;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A Sluice node in its own JVM, started through {@link Main} as a user would, with the
 * test's class path. Its output goes to a file the test can read.
 */
final class ChildNode implements AutoCloseable {
  private final Process process;
  private final Path log;
  private final int httpPort;
  private final Path configFile;

  private ChildNode(Process process, Path log, int httpPort, Path configFile) {
    this.process = process;
    this.log = log;
    this.httpPort = httpPort;
    this.configFile = configFile;
  }

  /** Starts {@code Main --config file} with the given JVM options and waits until it listens. */
  static ChildNode start(String config, List<String> jvmOptions) throws IOException, InterruptedException {
    int port = freePort();
    Path file = Files.createTempFile("sluice-child", ".conf");
    Files.writeString(file, config);
    Path log = Files.createTempFile("sluice-child", ".log");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-Dsluice.http.listen=127.0.0.1:" + port);
    command.add("-Dsluice.cluster.port=0");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Main.class.getName());
    command.add("--config");
    command.add(file.toString());
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    ChildNode child = new ChildNode(process, log, port, file);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!child.output().contains("sluice listening on")) {
      if (!process.isAlive() || System.nanoTime() > deadline) {
        child.close();
        throw new IllegalStateException("child node did not start:\n" + child.output());
      }
      Thread.sleep(100);
    }
    return child;
  }

  int httpPort() {
    return httpPort;
  }

  long pid() {
    return process.pid();
  }

  /** The file the node runs (and reloads) from. */
  Path configFile() {
    return configFile;
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Sends the node's process a signal ({@code HUP}, {@code TERM}) with kill(1). */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-s", name, Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -s " + name + " " + process.pid() + " failed");
    }
  }

  String output() throws IOException {
    return Files.readString(log);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor();
    }
  }
}
