package sluice.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The child processes of a bench run (back-ends, HAProxy, Sluice): each started on 127.0.0.1,
 * its output in a log file, its PID appended to {@code pids} (so {@code run.sh} can stop what is
 * left if this JVM dies hard), and stopped by its own handle at the end of a target's run, at the
 * end of the bench, or from a shutdown hook. Nothing else is ever stopped.
 */
final class Children implements AutoCloseable {

  private static final Duration STOP_GRACE = Duration.ofSeconds(5);

  private final Path dir;
  private final Path pidFile;
  private final List<Process> running = new ArrayList<>();

  Children(Path dir) {
    this.dir = dir;
    this.pidFile = dir.resolve("pids");
    Runtime.getRuntime().addShutdownHook(new Thread(this::close, "bench-children-stop"));
  }

  /** Starts {@code command}; output goes to logs/{@code name}.log. */
  synchronized Process start(String name, List<String> command) {
    try {
      Path logs = Files.createDirectories(dir.resolve("logs"));
      Path log = logs.resolve(name + ".log");
      Process p = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .start();
      running.add(p);
      Files.writeString(pidFile, p.pid() + " " + name + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name + ": " + command, e);
    }
  }

  /** Stops one child by its handle: SIGTERM, then SIGKILL after a grace period. */
  synchronized void stop(Process p) {
    if (p == null) {
      return;
    }
    running.remove(p);
    if (!p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Stops several children at once (a target of several proxy processes): SIGTERM to all, then one
   * grace period for all of them together, then SIGKILL to those still alive. A cluster's nodes
   * leave it together instead of one after the other.
   */
  void stopAll(List<Process> ps) {
    List<Process> mine = new ArrayList<>();
    synchronized (this) {
      for (Process p : ps) {
        if (p != null && running.remove(p) && p.isAlive()) {
          p.destroy();
          mine.add(p);
        }
      }
    }
    long deadline = System.nanoTime() + STOP_GRACE.toNanos();
    try {
      for (Process p : mine) {
        p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
      for (Process p : mine) {
        if (p.isAlive()) {
          p.destroyForcibly();
          p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        }
      }
    } catch (InterruptedException e) {
      mine.forEach(Process::destroyForcibly);
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public synchronized void close() {
    for (Process p : new ArrayList<>(running)) {
      stop(p);
    }
  }

  /** Waits until something accepts TCP connections on {@code port}, or the child dies. */
  static void awaitPort(Process p, String name, int port, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException(name + " exited with " + p.exitValue() + " before listening on " + port);
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException e) {
        sleep(50);
      }
    }
    throw new IllegalStateException(name + " did not listen on 127.0.0.1:" + port + " within " + timeout);
  }

  /** An HTTP answer: its status and body. */
  record Answer(int status, String body) {}

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  /** GET http://127.0.0.1:{@code port}{@code path}; empty if nothing answered within a second. */
  static Optional<Answer> get(int port, String path) {
    return get(port, path, Duration.ofSeconds(1));
  }

  /** GET http://127.0.0.1:{@code port}{@code path}; empty if nothing answered within {@code timeout}. */
  static Optional<Answer> get(int port, String path, Duration timeout) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
          .timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
      return Optional.of(new Answer(r.statusCode(), r.body()));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** utime + stime of a process in seconds, from /proc/PID/stat; -1 if unreadable. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after the command: state(0) ppid(1) ... utime(11) stime(12), in clock ticks (USER_HZ = 100)
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** VmRSS of a process in MiB, from /proc/PID/status; -1 if unreadable. */
  static double rssMiB(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return -1;
  }

  /**
   * A TcpExt counter of /proc/net/netstat ({@code ListenOverflows}, {@code TCPSynRetrans}): counts of
   * this network namespace since boot, every process's; -1 if unreadable.
   */
  static long tcpExt(String name) {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
      for (int i = 0; i + 1 < lines.size(); i++) {
        if (lines.get(i).startsWith("TcpExt:") && lines.get(i + 1).startsWith("TcpExt:")) {
          List<String> names = List.of(lines.get(i).split("\\s+"));
          String[] values = lines.get(i + 1).split("\\s+");
          int k = names.indexOf(name);
          return k < 0 ? -1 : Long.parseLong(values[k]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return -1;
  }

  /** Open file descriptors of a process (entries of /proc/PID/fd); -1 if unreadable. */
  static int openFds(long pid) {
    String[] fds = new java.io.File("/proc/" + pid + "/fd").list();
    return fds == null ? -1 : fds.length;
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
