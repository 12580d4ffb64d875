package sluice.node.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real, deliberately simple TCP back-end on 127.0.0.1 for the L4 tests: blocking sockets,
 * one thread per connection, so a test knows exactly what it saw.
 *
 * <p>It counts its own connections: one is open from accept until the back-end sends its FIN
 * (the count drops just before), which is the moment a dispatcher may reuse the slot at the
 * earliest (it frees a slot only once it has the back-end's FIN). {@link #maxConcurrent} is the
 * most it ever held at once.
 *
 * <p>Modes: ECHO writes back every byte as it reads, then FIN after the client's FIN;
 * REPLY_AFTER_EOF reads to the client's FIN, records what it read ({@link #received}) and only
 * then answers {@code "ok <bytes> <sha-256 hex>\n"}; GREET_FIRST sends {@code "hello\n"} and its
 * FIN at once, then reads to the client's FIN and records {@code "<bytes> <sha-256 hex>"};
 * FLOOD writes {@link #floodBytes} bytes of {@link #pattern} ({@link #written} counts them as
 * the writes return) and reads nothing until then; RESET_AFTER_READ reads once and resets the
 * connection (SO_LINGER 0), sending no FIN.
 */
public final class TcpTestBackend implements AutoCloseable {

  public enum Mode { ECHO, REPLY_AFTER_EOF, GREET_FIRST, FLOOD, RESET_AFTER_READ }

  private final ServerSocket server;
  private final Mode mode;
  private final Thread acceptor;
  private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "tcp-test-backend");
    t.setDaemon(true);
    return t;
  });
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger current = new AtomicInteger();
  private final AtomicInteger max = new AtomicInteger();
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicLong written = new AtomicLong();
  private final List<String> received = new ArrayList<>();
  private final int sendBuffer;
  private volatile long floodBytes = 200L << 20;

  private TcpTestBackend(ServerSocket server, Mode mode, int sendBuffer) {
    this.server = server;
    this.mode = mode;
    this.sendBuffer = sendBuffer;
    this.acceptor = new Thread(this::acceptLoop, "tcp-test-backend-accept-" + server.getLocalPort());
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  /** On any free port. */
  public static TcpTestBackend start(Mode mode) {
    return start(mode, 0, 0);
  }

  /**
   * @param port       0 for any free port
   * @param sendBuffer SO_SNDBUF of each accepted connection, 0 for the system's (autotuned)
   */
  public static TcpTestBackend start(Mode mode, int port, int sendBuffer) {
    try {
      ServerSocket server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1024);
      return new TcpTestBackend(server, mode, sendBuffer);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return server.getLocalPort();
  }

  public int maxConcurrent() {
    return max.get();
  }

  public int current() {
    return current.get();
  }

  public int accepted() {
    return accepted.get();
  }

  /** Bytes of the flood whose write has returned. */
  public long written() {
    return written.get();
  }

  public void floodBytes(long bytes) {
    floodBytes = bytes;
  }

  /** What REPLY_AFTER_EOF and GREET_FIRST connections recorded, in the order they recorded it. */
  public List<String> received() {
    synchronized (received) {
      return List.copyOf(received);
    }
  }

  /** The bytes a FLOOD connection sends: byte i is {@code pattern(i)}. */
  public static byte pattern(long i) {
    return (byte) ('a' + (i % 23));
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      int now = current.incrementAndGet();
      max.accumulateAndGet(now, Math::max);
      accepted.incrementAndGet();
      open.add(s);
      workers.execute(() -> serve(s));
    }
  }

  private void serve(Socket s) {
    boolean counted = true;
    try (s) {
      if (sendBuffer > 0) {
        s.setSendBufferSize(sendBuffer);
      }
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      byte[] buf = new byte[64 * 1024];
      switch (mode) {
        case ECHO -> {
          int n;
          while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
          }
          counted = finish(s);
        }
        case REPLY_AFTER_EOF -> {
          Digest d = readToEnd(in, buf);
          record(new String(d.head, StandardCharsets.ISO_8859_1).trim());
          out.write(("ok " + d.bytes + " " + d.hex() + "\n").getBytes(StandardCharsets.US_ASCII));
          counted = finish(s);
        }
        case GREET_FIRST -> {
          out.write("hello\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
          counted = finish(s);
          Digest d = readToEnd(in, buf);
          record(d.bytes + " " + d.hex());
        }
        case RESET_AFTER_READ -> {
          if (in.read(buf) > 0) {
            current.decrementAndGet();
            counted = false;
            s.setSoLinger(true, 0);
          }
        }
        case FLOOD -> {
          long total = floodBytes;
          long i = 0;
          while (i < total) {
            int n = (int) Math.min(buf.length, total - i);
            for (int k = 0; k < n; k++) {
              buf[k] = pattern(i + k);
            }
            out.write(buf, 0, n);
            i += n;
            written.addAndGet(n);
          }
          counted = finish(s);
          readToEnd(in, buf);
        }
      }
    } catch (IOException e) {
      // the peer reset, or we were stopped
    } finally {
      if (counted) {
        current.decrementAndGet();
      }
      open.remove(s);
    }
  }

  /** The connection stops counting, then our FIN goes out. @return false (no longer counted) */
  private boolean finish(Socket s) throws IOException {
    current.decrementAndGet();
    s.shutdownOutput();
    return false;
  }

  private void record(String what) {
    synchronized (received) {
      received.add(what);
    }
  }

  private static final class Digest {
    final MessageDigest sha;
    long bytes;
    byte[] head = new byte[0];

    Digest() {
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    String hex() {
      return HexFormat.of().formatHex(sha.digest());
    }
  }

  /** Reads to EOF; keeps the first 64 bytes. */
  private static Digest readToEnd(InputStream in, byte[] buf) throws IOException {
    Digest d = new Digest();
    int n;
    while ((n = in.read(buf)) > 0) {
      if (d.bytes < 64) {
        int keep = (int) Math.min(n, 64 - d.bytes);
        byte[] head = new byte[d.head.length + keep];
        System.arraycopy(d.head, 0, head, 0, d.head.length);
        System.arraycopy(buf, 0, head, d.head.length, keep);
        d.head = head;
      }
      d.sha.update(buf, 0, n);
      d.bytes += n;
    }
    return d;
  }

  /** SHA-256 of {@code data}, hex. */
  public static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Stops accepting and closes every connection. */
  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException | RuntimeException e) {
        // closing anyway
      }
    }
    workers.shutdownNow();
    try {
      acceptor.join(5_000);
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
