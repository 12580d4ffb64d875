package sluice.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

/**
 * The back-end of the large-transfer run: a client sends a decimal byte count and a newline; the
 * source answers with that many bytes of a fixed pseudo-random pattern and closes. A thread per
 * connection, blocking writes from one shared read-only direct buffer: the source costs a write
 * call per {@link #PATTERN_BYTES}, so the proxy in front of it is what the transfer measures.
 * {@link #expectedCrc} gives the CRC-32 of the first n bytes of the stream, to check what arrived.
 */
public final class StreamSource implements AutoCloseable {

  /** The pattern repeats every this many bytes. */
  static final int PATTERN_BYTES = 1 << 20;
  private static final ByteBuffer PATTERN = pattern();
  /** Longest byte count a client may ask for (the request line's length is bounded too). */
  static final long MAX_BYTES = 64L << 30;

  private final ServerSocketChannel server;
  private final Thread acceptor;
  private volatile boolean running = true;

  private StreamSource(ServerSocketChannel server) {
    this.server = server;
    this.acceptor = new Thread(this::acceptLoop, "stream-source-accept");
    this.acceptor.setDaemon(true);
  }

  /** Listens on 127.0.0.1:{@code port} (0: any free port) and serves until closed. */
  public static StreamSource start(int port) {
    try {
      ServerSocketChannel s = ServerSocketChannel.open();
      s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      s.bind(new InetSocketAddress("127.0.0.1", port), 128);
      StreamSource source = new StreamSource(s);
      source.acceptor.start();
      return source;
    } catch (IOException e) {
      throw new UncheckedIOException("stream source cannot bind 127.0.0.1:" + port, e);
    }
  }

  public int port() {
    return server.socket().getLocalPort();
  }

  private void acceptLoop() {
    while (running) {
      try {
        SocketChannel ch = server.accept();
        Thread t = new Thread(() -> serve(ch), "stream-source-" + ch.socket().getPort());
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        if (running) {
          System.err.println("stream source: accept failed: " + e);
        }
        return;
      }
    }
  }

  private static void serve(SocketChannel ch) {
    try (ch) {
      long n = readCount(ch);
      ByteBuffer out = PATTERN.duplicate();
      long left = n;
      while (left > 0) {
        out.clear();
        if (left < PATTERN_BYTES) {
          out.limit((int) left);
        }
        while (out.hasRemaining()) {
          left -= ch.write(out);
        }
      }
      ch.shutdownOutput();
    } catch (IOException | RuntimeException e) {
      System.err.println("stream source: connection ended: " + e);
    }
  }

  /** The request: ASCII digits then '\n', at most 20 digits. */
  private static long readCount(SocketChannel ch) throws IOException {
    ByteBuffer in = ByteBuffer.allocate(24);
    while (true) {
      if (ch.read(in) < 0) {
        throw new IOException("closed before its byte count");
      }
      for (int i = 0; i < in.position(); i++) {
        if (in.get(i) == '\n') {
          long n = Long.parseLong(new String(in.array(), 0, i, StandardCharsets.US_ASCII).trim());
          if (n < 0 || n > MAX_BYTES) {
            throw new IOException("byte count out of range: " + n);
          }
          return n;
        }
      }
      if (!in.hasRemaining()) {
        throw new IOException("no newline within 24 bytes");
      }
    }
  }

  private static ByteBuffer pattern() {
    byte[] b = new byte[PATTERN_BYTES];
    new SplittableRandom(20261203L).nextBytes(b);
    ByteBuffer direct = ByteBuffer.allocateDirect(PATTERN_BYTES);
    direct.put(b).flip();
    return direct.asReadOnlyBuffer();
  }

  /** CRC-32 of the first {@code n} bytes the source sends. */
  static long expectedCrc(long n) {
    CRC32 crc = new CRC32();
    ByteBuffer p = PATTERN.duplicate();
    long left = n;
    while (left > 0) {
      p.clear();
      if (left < PATTERN_BYTES) {
        p.limit((int) left);
      }
      left -= p.remaining();
      crc.update(p);
    }
    return crc.getValue();
  }

  @Override
  public void close() {
    running = false;
    try {
      server.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  /** {@code StreamSource --port P}: serves until the process is stopped. */
  public static void main(String[] args) throws InterruptedException {
    int port = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--port")) {
        port = Integer.parseInt(args[i + 1]);
      } else {
        throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    StreamSource s = start(port);
    System.out.println("stream source on 127.0.0.1:" + s.port());
    s.acceptor.join();
  }
}
