package sluice.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/** What the load goes through: nothing, HAProxy (one or several instances), or Sluice (one node or a cluster). */
sealed interface Target {

  String name();

  /** Starts the proxy (if any) in front of {@code backends}; the caller stops it. */
  Running start(Env env, List<InetSocketAddress> backends);

  /**
   * Where the bench's tools and files are. {@code sluiceJavaOpts}: JVM options of every Sluice
   * process (from {@code SLUICE_JAVA_OPTS}; empty for the JVM's defaults).
   */
  record Env(Children children, String javaBin, String sluiceJar, String haproxyBin, Path dir,
      List<String> sluiceJavaOpts) {}

  /**
   * A started target: where clients connect (connection i goes to entry i mod n), its proxy
   * processes (none for direct; several for a cluster or several HAProxy instances), and the
   * admin ports of its Sluice nodes (for /status; empty for other targets).
   */
  record Running(List<InetSocketAddress> entry, List<Process> proxies, List<Integer> adminPorts) {
    public Running {
      entry = List.copyOf(entry);
      proxies = List.copyOf(proxies);
      adminPorts = List.copyOf(adminPorts);
    }

    /** One proxy process (or none: null), no admin port. */
    Running(List<InetSocketAddress> entry, Process proxy) {
      this(entry, proxy == null ? List.of() : List.of(proxy), List.of());
    }
  }

  /** The clients connect straight to the back-ends, spreading connections round-robin. */
  record Direct() implements Target {
    @Override
    public String name() {
      return "direct";
    }

    @Override
    public Running start(Env env, List<InetSocketAddress> backends) {
      return new Running(backends, null);
    }
  }

  /**
   * HAProxy in HTTP mode, round-robin; {@code maxconn} per server (0 = no limit) with its queue;
   * {@code threads} is its {@code nbthread}. {@code instances} independent HAProxy processes with
   * the same configuration (each its own port and its own {@code maxconn}: n instances let n x
   * maxconn through to a server); the clients' connections are spread over them.
   */
  record HAProxy(String name, int maxconn, int threads, int instances, boolean tcp) implements Target {
    public HAProxy {
      if (threads < 1) {
        throw new IllegalArgumentException("HAProxy threads must be >= 1, not " + threads);
      }
      if (instances < 1) {
        throw new IllegalArgumentException("HAProxy instances must be >= 1, not " + instances);
      }
    }

    HAProxy(String name, int maxconn, int threads, int instances) {
      this(name, maxconn, threads, instances, false);
    }

    HAProxy(String name, int maxconn, int threads) {
      this(name, maxconn, threads, 1);
    }

    /**
     * {@code mode tcp}: each client connection relayed to one server connection, at most {@code
     * maxconn} of them per server (0 = no limit), the rest in HAProxy's queue. Named {@code
     * haproxy-tcp} or {@code haproxy-tcp-maxconn-M}.
     */
    static HAProxy tcp(int maxconn, int threads) {
      return new HAProxy(maxconn == 0 ? "haproxy-tcp" : "haproxy-tcp-maxconn-" + maxconn, maxconn, threads, 1, true);
    }

    /** Named {@code haproxy} or {@code haproxy-maxconn-M}. */
    static HAProxy of(int maxconn, int threads) {
      return new HAProxy(maxconn == 0 ? "haproxy" : "haproxy-maxconn-" + maxconn, maxconn, threads);
    }

    /** {@code n} instances, each with {@code maxconn M}: named {@code nx-haproxy-maxconn-M}. */
    static HAProxy instances(int n, int maxconn, int threads) {
      return new HAProxy(n + "x-haproxy-maxconn-" + maxconn, maxconn, threads, n);
    }

    @Override
    public Running start(Env env, List<InetSocketAddress> backends) {
      if (instances == 1) {
        return startOne(env, backends, name);
      }
      List<InetSocketAddress> entry = new ArrayList<>();
      List<Process> started = new ArrayList<>();
      try {
        for (int i = 1; i <= instances; i++) {
          Running one = startOne(env, backends, name + "-" + i);
          entry.addAll(one.entry());
          started.addAll(one.proxies());
        }
      } catch (RuntimeException e) {
        env.children().stopAll(started);
        throw e;
      }
      return new Running(entry, started, List.of());
    }

    /** One HAProxy process; its config in configs/{@code instance}.cfg, its output in logs/. */
    private Running startOne(Env env, List<InetSocketAddress> backends, String instance) {
      int port = Children.freePort();
      StringBuilder servers = new StringBuilder();
      for (int i = 0; i < backends.size(); i++) {
        servers.append("  server b").append(i).append(" 127.0.0.1:").append(backends.get(i).getPort())
            .append(maxconn > 0 ? " maxconn " + maxconn : "").append('\n');
      }
      String cfg = """
          # generated by the Sluice bench; queue timeout as Sluice's default queue timeout
          global
            # threads: the bench's --haproxy-threads (default 1) unless the scenario sets them
            nbthread %d
            # HAProxy wants 2 fds per connection; 9,980 fits a hard fd limit of 20,000. With more
            # client connections than that, the last (idle) ones wait in the kernel's accept queue.
            maxconn 9980
          defaults
          %s
            timeout connect 5s
            timeout client 120s
            timeout server 120s
            timeout queue 30s
          frontend fe
            bind 127.0.0.1:%d
            maxconn 9980
            default_backend be
          backend be
            balance roundrobin
          %s""".formatted(threads, tcp ? "  mode tcp" : "  mode http\n  option http-keep-alive\n  timeout http-keep-alive 120s",
          port, servers);
      Path file = write(env.dir().resolve("configs").resolve(instance + ".cfg"), cfg);
      Process p = env.children().start(instance, List.of(env.haproxyBin(), "-db", "-f", file.toString()));
      try {
        Children.awaitPort(p, instance, port, Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        env.children().stop(p);
        throw e;
      }
      return new Running(List.of(new InetSocketAddress("127.0.0.1", port)), p);
    }
  }

  /** Sluice, a cluster of one, with one pool of all back-ends and the given limit block. */
  record Sluice(String name, String limit) implements Target {
    static Sluice fixed(int value) {
      return new Sluice("sluice-fixed-" + value, "{ algorithm = fixed, value = " + value + " }");
    }

    static Sluice auto() {
      return new Sluice("sluice-auto", "{ algorithm = auto }");
    }

    @Override
    public Running start(Env env, List<InetSocketAddress> backends) {
      int port = Children.freePort();
      int clusterPort = Children.freePort();
      int adminPort = Children.freePort();
      String list = backends.stream().map(b -> "\"127.0.0.1:" + b.getPort() + "\"")
          .collect(Collectors.joining(", "));
      String conf = """
          # generated by the Sluice bench: defaults except the listeners, cluster port and limit
          sluice {
            http.listen = "127.0.0.1:%d"
            admin.listen = "127.0.0.1:%d"
            cluster { host = "127.0.0.1", port = %d }
            pools.web {
              backends = [%s]
              limit %s
            }
          }
          """.formatted(port, adminPort, clusterPort, list, limit);
      Process p = startSluice(env, name, conf);
      Children.awaitPort(p, name, port, Duration.ofSeconds(60));
      return new Running(List.of(new InetSocketAddress("127.0.0.1", port)), p);
    }
  }

  /**
   * Sluice, a cluster of one, as an L4 dispatcher: one TCP listener ({@code sluice.tcp}) for one
   * pool of all back-ends with the given limit block, every other key at its default. The clients
   * connect to the TCP listener; ready when {@code GET /ready} answers 200 (a lease for every
   * back-end), so the first clients do not wait for the first lease.
   */
  record SluiceTcp(String name, String limit) implements Target {
    static SluiceTcp fixed(int value) {
      return new SluiceTcp("sluice-l4-fixed-" + value, "{ algorithm = fixed, value = " + value + " }");
    }

    static SluiceTcp auto() {
      return new SluiceTcp("sluice-l4-auto", "{ algorithm = auto }");
    }

    @Override
    public Running start(Env env, List<InetSocketAddress> backends) {
      int httpPort = Children.freePort();
      int tcpPort = Children.freePort();
      int clusterPort = Children.freePort();
      int adminPort = Children.freePort();
      String list = backends.stream().map(b -> "\"127.0.0.1:" + b.getPort() + "\"")
          .collect(Collectors.joining(", "));
      String conf = """
          # generated by the Sluice bench: defaults except the listeners, cluster port and limit
          sluice {
            http.listen = "127.0.0.1:%d"
            admin.listen = "127.0.0.1:%d"
            cluster { host = "127.0.0.1", port = %d }
            pools.tcp {
              backends = [%s]
              limit %s
            }
            tcp = [ { listen = "127.0.0.1:%d", pool = tcp } ]
          }
          """.formatted(httpPort, adminPort, clusterPort, list, limit, tcpPort);
      Process p = startSluice(env, name, conf);
      try {
        Children.awaitPort(p, name, tcpPort, Duration.ofSeconds(60));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (Children.get(adminPort, "/ready").filter(a -> a.status() == 200).isEmpty()) {
          if (!p.isAlive() || System.nanoTime() > deadline) {
            throw new IllegalStateException(name + " not ready within 60 s (logs/" + name + ".log)");
          }
          Children.sleep(100);
        }
      } catch (RuntimeException e) {
        env.children().stop(p);
        throw e;
      }
      return new Running(List.of(new InetSocketAddress("127.0.0.1", tcpPort)), List.of(p), List.of(adminPort));
    }
  }

  /**
   * Sluice, {@code nodes} nodes in one cluster (every node's file names all of them as seeds), one
   * pool of all back-ends with the given limit block; each back-end's limit holds over all nodes
   * together. Every node has its own HTTP, admin and cluster port; the clients' connections are
   * spread over the nodes' HTTP ports. A cluster of one is the same with one node (it is its own
   * seed). Started at once; ready when every node's {@code GET /ready} answers 200 (in the cluster,
   * with a lease for every back-end), not merely when its HTTP port accepts.
   */
  record SluiceCluster(String name, int nodes, String limit) implements Target {
    /** How long the nodes (started together on a shared machine) have to become ready. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(90);

    public SluiceCluster {
      if (nodes < 1) {
        throw new IllegalArgumentException("a cluster needs at least one node, not " + nodes);
      }
    }

    /** Named {@code sluice-N-node(s)-fixed-V}. */
    static SluiceCluster fixed(int nodes, int value) {
      return new SluiceCluster(prefix(nodes) + "fixed-" + value, nodes, "{ algorithm = fixed, value = " + value + " }");
    }

    /** Named {@code sluice-N-node(s)-auto}: the default algorithm. */
    static SluiceCluster auto(int nodes) {
      return new SluiceCluster(prefix(nodes) + "auto", nodes, "{ algorithm = auto }");
    }

    private static String prefix(int nodes) {
      return "sluice-" + nodes + (nodes == 1 ? "-node-" : "-nodes-");
    }

    /** The log and config name of node {@code k} (from 1). */
    String nodeName(int k) {
      return name + "-node" + k;
    }

    @Override
    public Running start(Env env, List<InetSocketAddress> backends) {
      int[] http = new int[nodes];
      int[] admin = new int[nodes];
      int[] cluster = new int[nodes];
      for (int k = 0; k < nodes; k++) {
        http[k] = Children.freePort();
        admin[k] = Children.freePort();
        cluster[k] = Children.freePort();
      }
      String seeds = Arrays.stream(cluster).mapToObj(p -> "\"127.0.0.1:" + p + "\"").collect(Collectors.joining(", "));
      String list = backends.stream().map(b -> "\"127.0.0.1:" + b.getPort() + "\"")
          .collect(Collectors.joining(", "));
      List<Process> started = new ArrayList<>();
      try {
        for (int k = 0; k < nodes; k++) {
          String conf = """
              # generated by the Sluice bench: node %d of %d; defaults except listeners, cluster and limit
              sluice {
                http.listen = "127.0.0.1:%d"
                admin.listen = "127.0.0.1:%d"
                cluster { host = "127.0.0.1", port = %d, seed-nodes = [%s] }
                pools.web {
                  backends = [%s]
                  limit %s
                }
              }
              # the nodes start together: the first seed forms the cluster within about a second
              pekko.cluster.seed-node-timeout = 1s
              """.formatted(k + 1, nodes, http[k], admin[k], cluster[k], seeds, list, limit);
          Path file = write(env.dir().resolve("configs").resolve(nodeName(k + 1) + ".conf"), conf);
          List<String> cmd = new ArrayList<>(List.of(env.javaBin()));
          cmd.addAll(env.sluiceJavaOpts());
          cmd.addAll(List.of("-jar", env.sluiceJar(), "--config", file.toString()));
          started.add(env.children().start(nodeName(k + 1), cmd));
        }
        for (int k = 0; k < nodes; k++) {
          Children.awaitPort(started.get(k), nodeName(k + 1), http[k], Duration.ofSeconds(60));
        }
        awaitReady(started, admin);
      } catch (RuntimeException e) {
        env.children().stopAll(started);
        throw e;
      }
      List<InetSocketAddress> entry = Arrays.stream(http).mapToObj(p -> new InetSocketAddress("127.0.0.1", p)).toList();
      return new Running(entry, started, Arrays.stream(admin).boxed().toList());
    }

    /** Until every node's /ready answers 200; fails naming the node and its last answer. */
    private void awaitReady(List<Process> ps, int[] admin) {
      long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
      String[] last = new String[nodes];
      boolean[] ready = new boolean[nodes];
      int readyCount = 0;
      while (readyCount < nodes) {
        for (int k = 0; k < nodes; k++) {
          if (ready[k]) {
            continue;
          }
          if (!ps.get(k).isAlive()) {
            throw new IllegalStateException(nodeName(k + 1) + " exited with " + ps.get(k).exitValue()
                + " before it was ready; see logs/" + nodeName(k + 1) + ".log");
          }
          Optional<Children.Answer> a = Children.get(admin[k], "/ready");
          last[k] = a.map(x -> x.status() + " " + x.body().trim()).orElse("no answer");
          if (a.isPresent() && a.get().status() == 200) {
            ready[k] = true;
            readyCount++;
          }
        }
        if (readyCount < nodes) {
          if (System.nanoTime() > deadline) {
            StringBuilder why = new StringBuilder();
            for (int k = 0; k < nodes; k++) {
              if (!ready[k]) {
                why.append("; ").append(nodeName(k + 1)).append(" /ready: ").append(last[k]);
              }
            }
            throw new IllegalStateException(name + ": " + (nodes - readyCount) + " of " + nodes
                + " nodes not ready within " + READY_TIMEOUT.toSeconds() + " s" + why + " (logs/" + name + "-node*.log)");
          }
          Children.sleep(100);
        }
      }
    }
  }

  /** Writes {@code conf} as configs/NAME.conf and starts a Sluice node on it (the bench's Java options). */
  private static Process startSluice(Env env, String name, String conf) {
    Path file = write(env.dir().resolve("configs").resolve(name + ".conf"), conf);
    List<String> cmd = new ArrayList<>(List.of(env.javaBin()));
    cmd.addAll(env.sluiceJavaOpts());
    cmd.addAll(List.of("-jar", env.sluiceJar(), "--config", file.toString()));
    return env.children().start(name, cmd);
  }

  private static Path write(Path file, String text) {
    try {
      Files.createDirectories(file.getParent());
      return Files.writeString(file, text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
