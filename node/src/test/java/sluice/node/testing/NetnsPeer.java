package sluice.node.testing;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real back-end or a set of real clients in a network namespace of the pcap tests, run as
 * its own JVM ({@code ip netns exec NS java ... NetnsPeer backend|client}) and driven by lines
 * on its standard input; it answers with lines on its standard output.
 *
 * <p>Back-end ({@code backend PORT...}): a blocking server on 0.0.0.0 for each port. A
 * connection sends {@code "hold <ms>\n"}, then any bytes, then its FIN; the back-end waits
 * {@code ms}, answers {@code "ok <bytes> <sha-256 hex> <client address>\n"} and closes. It counts
 * its own connections per port: one is open from accept until just before its FIN or until it
 * is reset. Commands: {@code stats PORT} (current, max, accepted, resets, the clients'
 * addresses), {@code resetmax PORT} (max := current).
 *
 * <p>Client ({@code client}): {@code run TAG N HOST PORT BYTES HOLD} opens N connections at
 * once, each sending BYTES random bytes, and checks every answer's length and digest;
 * {@code open NAME HOST PORT} connects and sends the header only; {@code finish NAME BYTES}
 * sends bytes and its FIN and reads the answer; {@code reset NAME} closes with a reset;
 * {@code await NAME} says how the connection ended (EOF or reset) once it has; {@code trickle
 * NAME HOST PORT CHUNKS MS} sends CHUNKS small chunks MS apart, then its FIN, and reads the
 * answer; {@code get URL [TOKEN]} prints an HTTP GET's status and body on one line.
 */
public final class NetnsPeer {
  private static final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  private NetnsPeer() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("backend")) {
      backend(args);
    } else if (args.length > 0 && args[0].equals("client")) {
      client();
    } else {
      System.err.println("usage: NetnsPeer backend PORT... | client");
      System.exit(2);
    }
  }

  private static synchronized void say(String line) {
    out.println(line);
  }

  // ---- back-end -----------------------------------------------------------------------

  private static final class PortStats {
    final AtomicInteger current = new AtomicInteger();
    final AtomicInteger max = new AtomicInteger();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger resets = new AtomicInteger();
    final Set<String> peers = ConcurrentHashMap.newKeySet();
  }

  private static void backend(String[] args) throws IOException {
    Map<Integer, PortStats> stats = new ConcurrentHashMap<>();
    for (int i = 1; i < args.length; i++) {
      int port = Integer.parseInt(args[i]);
      PortStats s = new PortStats();
      stats.put(port, s);
      ServerSocket server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress("0.0.0.0", port), 1024);
      Thread acceptor = new Thread(() -> {
        while (true) {
          Socket socket;
          try {
            socket = server.accept();
          } catch (IOException e) {
            return;
          }
          s.max.accumulateAndGet(s.current.incrementAndGet(), Math::max);
          s.accepted.incrementAndGet();
          s.peers.add(socket.getInetAddress().getHostAddress());
          Thread worker = new Thread(() -> serve(socket, s));
          worker.setDaemon(true);
          worker.start();
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
    }
    say("ready");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] w = line.trim().split(" ");
      PortStats s = w.length > 1 ? stats.get(Integer.parseInt(w[1])) : null;
      if (s == null) {
        say("error unknown command or port: " + line);
      } else if (w[0].equals("stats")) {
        say("stats " + w[1] + " current=" + s.current.get() + " max=" + s.max.get() + " accepted=" + s.accepted.get()
            + " resets=" + s.resets.get() + " peers=" + String.join(",", new TreeSet<>(s.peers)));
      } else if (w[0].equals("resetmax")) {
        s.max.set(s.current.get());
        say("resetmax " + w[1]);
      } else {
        say("error unknown command: " + line);
      }
    }
  }

  private static void serve(Socket socket, PortStats s) {
    boolean counted = true;
    try (socket) {
      InputStream in = socket.getInputStream();
      String header = readLine(in);
      long hold = header != null && header.startsWith("hold ") ? Long.parseLong(header.substring(5).trim()) : 0;
      MessageDigest digest = sha256();
      byte[] buf = new byte[64 * 1024];
      long bytes = 0;
      int n;
      while ((n = in.read(buf)) > 0) {
        digest.update(buf, 0, n);
        bytes += n;
      }
      if (hold > 0) {
        Thread.sleep(hold);
      }
      OutputStream o = socket.getOutputStream();
      o.write(("ok " + bytes + " " + HexFormat.of().formatHex(digest.digest()) + " "
          + socket.getInetAddress().getHostAddress() + "\n").getBytes(StandardCharsets.US_ASCII));
      o.flush();
      s.current.decrementAndGet(); // before our FIN: from here the dispatcher may reuse the slot
      counted = false;
    } catch (IOException e) {
      s.resets.incrementAndGet();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (counted) {
        s.current.decrementAndGet();
      }
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0 && b != '\n') {
      line.write(b);
    }
    return b < 0 && line.size() == 0 ? null : line.toString(StandardCharsets.US_ASCII);
  }

  // ---- clients ------------------------------------------------------------------------

  private static final Map<String, Socket> open = new ConcurrentHashMap<>();

  private static void client() throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    say("ready");
    String line;
    while ((line = in.readLine()) != null) {
      String[] w = line.trim().split(" ");
      Thread t = new Thread(() -> {
        try {
          command(w);
        } catch (Exception e) {
          say("error " + String.join(" ", w) + ": " + e);
        }
      });
      t.setDaemon(true);
      t.start();
    }
  }

  private static void command(String[] w) throws Exception {
    switch (w[0]) {
      case "run" -> run(w[1], Integer.parseInt(w[2]), w[3], Integer.parseInt(w[4]), Integer.parseInt(w[5]),
          Integer.parseInt(w[6]));
      case "open" -> {
        Socket s = connect(w[2], Integer.parseInt(w[3]));
        s.getOutputStream().write("hold 0\n".getBytes(StandardCharsets.US_ASCII));
        open.put(w[1], s);
        say("opened " + w[1]);
      }
      case "finish" -> {
        Socket s = open.get(w[1]);
        say("finished " + w[1] + " " + exchange(s, Integer.parseInt(w[2]), false));
      }
      case "reset" -> {
        Socket s = open.remove(w[1]);
        s.setSoLinger(true, 0);
        s.close();
        say("reset " + w[1]);
      }
      case "await" -> {
        Socket s = open.get(w[1]);
        String how;
        try {
          int b = s.getInputStream().read();
          how = b < 0 ? "eof" : "data";
        } catch (IOException e) {
          how = "reset " + e.getMessage();
        }
        say("closed " + w[1] + " " + how);
      }
      case "trickle" -> {
        Socket s = connect(w[2], Integer.parseInt(w[3]));
        s.getOutputStream().write("hold 0\n".getBytes(StandardCharsets.US_ASCII));
        say("opened " + w[1]);
        int chunks = Integer.parseInt(w[4]);
        long interval = Long.parseLong(w[5]);
        MessageDigest digest = sha256();
        byte[] chunk = new byte[100];
        new Random(7).nextBytes(chunk);
        for (int i = 0; i < chunks; i++) {
          s.getOutputStream().write(chunk);
          s.getOutputStream().flush();
          digest.update(chunk);
          Thread.sleep(interval);
        }
        s.shutdownOutput();
        String answer = readLine(s.getInputStream());
        String want = "ok " + (chunks * 100L) + " " + HexFormat.of().formatHex(digest.digest());
        say("finished " + w[1] + " " + (answer != null && answer.startsWith(want) ? "ok " + answer : "fail " + answer));
        s.close();
      }
      case "get" -> {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest.Builder get = HttpRequest.newBuilder(URI.create(w[1])).timeout(Duration.ofSeconds(10));
        if (w.length > 2) {
          get.header("Authorization", "Bearer " + w[2]);
        }
        HttpResponse<String> r = http.send(get.build(), HttpResponse.BodyHandlers.ofString());
        say("body " + r.statusCode() + " " + r.body().replace('\n', ' '));
      }
      default -> say("error unknown command: " + String.join(" ", w));
    }
  }

  private static Socket connect(String host, int port) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress(host, port), 30_000);
    return s;
  }

  /** N connections at once; prints "done TAG ok=K failed=F" and each failure. */
  private static void run(String tag, int n, String host, int port, int bytes, int hold) throws InterruptedException {
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      int seed = i;
      Thread t = new Thread(() -> {
        try (Socket s = connect(host, port)) {
          s.setSoTimeout(60_000);
          s.getOutputStream().write(("hold " + hold + "\n").getBytes(StandardCharsets.US_ASCII));
          String result = exchange(s, bytes, true, seed);
          if (result.startsWith("ok")) {
            ok.incrementAndGet();
          } else {
            failed.incrementAndGet();
            say("fail " + tag + " " + seed + " " + result);
          }
        } catch (Exception e) {
          failed.incrementAndGet();
          say("fail " + tag + " " + seed + " " + e);
        } finally {
          done.countDown();
        }
      });
      t.setDaemon(true);
      t.start();
    }
    done.await();
    say("done " + tag + " ok=" + ok.get() + " failed=" + failed.get());
  }

  private static String exchange(Socket s, int bytes, boolean random) throws IOException {
    return exchange(s, bytes, random, 1);
  }

  /** Sends {@code bytes} bytes and the FIN, reads the answer: "ok <answer>" if length and digest match. */
  private static String exchange(Socket s, int bytes, boolean random, int seed) throws IOException {
    byte[] payload = new byte[bytes];
    new Random(seed).nextBytes(payload);
    OutputStream o = s.getOutputStream();
    o.write(payload);
    o.flush();
    s.shutdownOutput();
    String answer = readLine(s.getInputStream());
    String want = "ok " + bytes + " " + HexFormat.of().formatHex(sha256().digest(payload));
    return answer != null && answer.startsWith(want) ? "ok " + answer : "fail got '" + answer + "', wanted '" + want + "'";
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
