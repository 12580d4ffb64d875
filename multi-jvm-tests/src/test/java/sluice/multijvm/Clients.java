package sluice.multijvm;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop HTTP clients against one node: each of {@code connections} threads sends GET
 * requests one after the other on a keep-alive connection, and counts what comes back. A
 * failed or closed connection is an error (by kind) and is opened again after a pause.
 */
final class Clients implements AutoCloseable {
  private static final byte[] REQUEST = "GET /work HTTP/1.1\r\nHost: test.local\r\n\r\n"
      .getBytes(StandardCharsets.US_ASCII);

  private final int port;
  private final List<Thread> threads = new ArrayList<>();
  private final java.util.Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private volatile boolean running = true;
  final AtomicLong ok = new AtomicLong();
  private final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();

  Clients(int port, int connections) {
    this.port = port;
    for (int i = 0; i < connections; i++) {
      Thread t = new Thread(this::run, "client-" + port + "-" + i);
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }
  }

  private void run() {
    while (running) {
      try (Socket socket = new Socket()) {
        sockets.add(socket);
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(70_000);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
        OutputStream out = socket.getOutputStream();
        InputStream in = new BufferedInputStream(socket.getInputStream());
        boolean open = true;
        while (running && open) {
          out.write(REQUEST);
          out.flush();
          int[] response = readResponse(in);
          if (response[0] == 200) {
            ok.incrementAndGet();
          } else {
            error("status " + response[0]);
          }
          open = response[1] == 0; // the node closes after this response (it is stopping): connect again
        }
      } catch (IOException e) {
        if (running) {
          error(e.getClass().getSimpleName());
          pause();
        }
      } finally {
        sockets.removeIf(Socket::isClosed);
      }
    }
  }

  /** Reads one response: its status, and 1 if the node closes the connection after it. */
  private static int[] readResponse(InputStream in) throws IOException {
    String statusLine = line(in);
    int status = Integer.parseInt(statusLine.split(" ", 3)[1]);
    long length = 0;
    boolean close = false;
    String line;
    while (!(line = line(in)).isEmpty()) {
      int colon = line.indexOf(':');
      String name = line.substring(0, colon).trim().toLowerCase();
      String value = line.substring(colon + 1).trim().toLowerCase();
      if (name.equals("content-length")) {
        length = Long.parseLong(value);
      } else if (name.equals("connection") && value.contains("close")) {
        close = true;
      }
    }
    for (long i = 0; i < length; i++) {
      if (in.read() < 0) {
        throw new EOFException("body cut off");
      }
    }
    return new int[] {status, close ? 1 : 0};
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder s = new StringBuilder();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        int n = s.length();
        return n > 0 && s.charAt(n - 1) == '\r' ? s.substring(0, n - 1) : s.toString();
      }
      s.append((char) c);
    }
    throw new EOFException("connection closed");
  }

  private void error(String kind) {
    errors.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
  }

  private static void pause() {
    try {
      Thread.sleep(50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Errors by kind. */
  Map<String, Long> errors() {
    Map<String, Long> out = new java.util.TreeMap<>();
    errors.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    for (Socket socket : sockets) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    for (Thread t : threads) {
      t.join(5_000);
    }
  }
}
