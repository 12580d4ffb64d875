package sluice.node.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Three network namespaces joined by two veth pairs, made by the test and removed by it, for
 * the pcap ingress: a client host, the dispatcher and a back-end host, with addresses from the
 * documentation ranges (RFC 5737), which no real network routes:
 *
 * <pre>
 *   client ns                 dispatcher ns                         back-end ns
 *   cli 198.51.100.2/24 ---- dcli 198.51.100.1/24
 *   default via .1                   dsrv 203.0.113.1/24 ---- srv 203.0.113.2/24
 *                                                               default via 203.0.113.1
 * </pre>
 * The virtual addresses (192.0.2.0/24) are assigned nowhere: the client's default route sends
 * them to the dispatcher, whose kernel does not forward (forwarding is off in a new namespace)
 * and, with the firewall rule the README asks for, drops them before routing; pcap sees them
 * first. The back-end routes its answers to the client through the dispatcher.
 *
 * <p>Every veth is created inside a namespace (never in the machine's own), so the names need
 * not be unique; the namespaces are, with this JVM's pid. Namespaces a killed earlier run left
 * (their pid is gone) are removed first.
 */
public final class NetnsLab implements AutoCloseable {
  public static final String CLIENT_IP = "198.51.100.2";
  public static final String DISPATCHER_CLIENT_SIDE_IP = "198.51.100.1";
  public static final String BACKEND_IP = "203.0.113.2";
  public static final String CLIENT_INTERFACE = "dcli";
  public static final String BACKEND_INTERFACE = "dsrv";

  private static final String PREFIX = "sluice-pcap-";
  private static final Pattern OURS = Pattern.compile(PREFIX + "([0-9]+)-[a-z]+");

  public final String client;
  public final String dispatcher;
  public final String backend;
  private final List<String> created = new ArrayList<>();
  private final List<Process> processes = new CopyOnWriteArrayList<>();
  private final List<Peer> peers = new CopyOnWriteArrayList<>();

  private NetnsLab(String base) {
    client = base + "-client";
    dispatcher = base + "-disp";
    backend = base + "-backend";
  }

  /**
   * Why this machine cannot run the namespace tests (not root, no {@code ip}, namespaces
   * refused, no libpcap), or empty if it can.
   */
  public static Optional<String> cannotRun() {
    if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
      return Optional.of("not Linux");
    }
    Result id = run(List.of("id", "-u"));
    if (id.code != 0 || !id.output.trim().equals("0")) {
      return Optional.of("not root (the tests create network namespaces, and the pcap ingress needs CAP_NET_RAW "
          + "and CAP_NET_ADMIN)");
    }
    if (run(List.of("ip", "-V")).code != 0) {
      return Optional.of("no 'ip' command (install iproute2; test.sh does)");
    }
    if (!libpcapInstalled()) {
      return Optional.of("libpcap is not installed (install libpcap0.8; test.sh does)");
    }
    String probe = PREFIX + ProcessHandle.current().pid() + "-probe";
    Result add = run(List.of("ip", "netns", "add", probe));
    if (add.code != 0) {
      return Optional.of("this machine cannot create network namespaces: ip netns add said: " + add.output.trim());
    }
    run(List.of("ip", "netns", "del", probe));
    return Optional.empty();
  }

  private static boolean libpcapInstalled() {
    for (String dir : List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
        "/lib/x86_64-linux-gnu", "/lib64", "/lib")) {
      try (var files = Files.list(Path.of(dir))) {
        if (files.anyMatch(f -> f.getFileName().toString().startsWith("libpcap.so"))) {
          return true;
        }
      } catch (IOException e) {
        // not there
      }
    }
    return false;
  }

  /** Builds the three namespaces; on any failure removes what it made and throws. */
  public static NetnsLab create() {
    removeLeftovers();
    NetnsLab lab = new NetnsLab(PREFIX + ProcessHandle.current().pid());
    try {
      for (String ns : List.of(lab.client, lab.dispatcher, lab.backend)) {
        lab.must("ip", "netns", "add", ns);
        lab.created.add(ns);
        lab.must("ip", "-n", ns, "link", "set", "lo", "up");
      }
      lab.must("ip", "-n", lab.client, "link", "add", "cli", "type", "veth", "peer", "name", CLIENT_INTERFACE,
          "netns", lab.dispatcher);
      lab.must("ip", "-n", lab.backend, "link", "add", "srv", "type", "veth", "peer", "name", BACKEND_INTERFACE,
          "netns", lab.dispatcher);
      lab.address(lab.client, "cli", CLIENT_IP + "/24");
      lab.address(lab.dispatcher, CLIENT_INTERFACE, DISPATCHER_CLIENT_SIDE_IP + "/24");
      lab.address(lab.dispatcher, BACKEND_INTERFACE, "203.0.113.1/24");
      lab.address(lab.backend, "srv", BACKEND_IP + "/24");
      lab.must("ip", "-n", lab.client, "route", "add", "default", "via", DISPATCHER_CLIENT_SIDE_IP);
      lab.must("ip", "-n", lab.backend, "route", "add", "default", "via", "203.0.113.1");
      return lab;
    } catch (RuntimeException e) {
      lab.close();
      throw e;
    }
  }

  private void address(String ns, String device, String cidr) {
    must("ip", "-n", ns, "addr", "add", cidr, "dev", device);
    must("ip", "-n", ns, "link", "set", device, "up");
  }

  /**
   * Loads nftables rules into the dispatcher's namespace; empty if done, else why not (no
   * {@code nft}, or the kernel refused).
   */
  public Optional<String> nft(String ruleset) {
    try {
      Process p = new ProcessBuilder("ip", "netns", "exec", dispatcher, "nft", "-f", "-").redirectErrorStream(true)
          .start();
      try (Writer w = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8)) {
        w.write(ruleset);
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.waitFor() == 0 ? Optional.empty() : Optional.of("nft said: " + out.trim());
    } catch (IOException e) {
      return Optional.of("cannot run nft: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("interrupted");
    }
  }

  /** Starts a JVM of the test's class path inside {@code ns}; output (stdout and stderr) goes to {@code log}. */
  public Peer startJava(String ns, List<String> jvmOptions, String mainClass, List<String> args, Path log)
      throws IOException {
    List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns,
        Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass);
    command.addAll(args);
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    processes.add(process);
    Peer peer = new Peer(process, log);
    peers.add(peer);
    return peer;
  }

  /** Stops every process it started (SIGTERM, then SIGKILL), then removes the namespaces (and with them the veths). */
  @Override
  public void close() {
    for (Process p : processes) {
      p.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its output
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (Peer peer : peers) {
      peer.drained(); // its last lines (a node's stopping) are in its log
    }
    for (String ns : created) {
      Result r = run(List.of("ip", "netns", "del", ns));
      if (r.code != 0) {
        System.err.println("NetnsLab: could not remove namespace " + ns + ": " + r.output.trim());
      }
    }
    created.clear();
  }

  private static void removeLeftovers() {
    Result list = run(List.of("ip", "netns", "list"));
    for (String line : list.output.split("\n")) {
      String name = line.trim().split(" ")[0];
      Matcher m = OURS.matcher(name);
      if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
        run(List.of("ip", "netns", "del", name));
      }
    }
  }

  private void must(String... command) {
    Result r = run(List.of(command));
    if (r.code != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed (" + r.code + "): " + r.output.trim());
    }
  }

  private record Result(int code, String output) {}

  private static Result run(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(-1, "timed out");
      }
      return new Result(p.exitValue(), out);
    } catch (IOException e) {
      return new Result(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  /** A child process driven by lines: what it prints is kept (and copied to its log file) for {@link #await}. */
  public static final class Peer {
    private final Process process;
    private final Writer in;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Path log;
    private final Thread reader;

    private Peer(Process process, Path log) {
      this.process = process;
      this.log = log;
      this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
            StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            lines.add(line);
            Files.writeString(log, line + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
          }
        } catch (IOException e) {
          // the process ended
        }
      }, "netns-peer-reader");
      reader.setDaemon(true);
      reader.start();
    }

    private void drained() {
      try {
        reader.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    public synchronized void send(String command) throws IOException {
      in.write(command + "\n");
      in.flush();
    }

    /** The first line, at or after {@code from}, that {@code match} accepts, waiting up to {@code timeout}. */
    public String await(int from, Predicate<String> match, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        for (int i = from; i < lines.size(); i++) {
          if (match.test(lines.get(i))) {
            return lines.get(i);
          }
        }
        if (System.nanoTime() > deadline || !process.isAlive()) {
          throw new AssertionError("no matching line within " + timeout.toMillis() + " ms (process "
              + (process.isAlive() ? "alive" : "ended") + "); its output, also in " + log + ":\n"
              + String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size())));
        }
        Thread.sleep(20);
      }
    }

    /** Lines so far; a position for {@link #await}. */
    public int mark() {
      return lines.size();
    }

    public List<String> lines() {
      return List.copyOf(lines);
    }

    public Path log() {
      return log;
    }

    public boolean alive() {
      return process.isAlive();
    }
  }
}
