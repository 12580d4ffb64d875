package sluice.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/**
 * One large transfer from a {@link StreamSource}, possibly through a proxy: the client asks for
 * {@code bytes}, reads the stream to its end into one direct buffer and folds it into a CRC-32
 * (intrinsic, several GB/s), so a corrupted, cut or extended stream shows. Bounded: after
 * {@code timeout} the connection is closed and the transfer counts as failed.
 */
final class Transfer {

  private static final int READ_BUFFER = 1 << 20;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "transfer-watchdog");
    t.setDaemon(true);
    return t;
  });

  /**
   * What one transfer gave. {@code seconds}: from the connect() call to the end of the stream;
   * {@code crcOk}: the bytes read are exactly the source's first {@code bytes}; {@code failure}
   * null unless it broke or timed out; {@code clientCpuSeconds}: the reading thread's CPU.
   */
  record Result(long bytes, double seconds, boolean crcOk, String failure, double clientCpuSeconds) {
    double megabytesPerSecond() {
      return failure != null || seconds <= 0 ? Double.NaN : bytes / seconds / 1e6;
    }
  }

  private Transfer() {}

  static Result run(InetSocketAddress target, long bytes, long expectedCrc, Duration timeout) {
    long cpu0 = THREADS.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    long got = 0;
    CRC32 crc = new CRC32();
    try (SocketChannel ch = SocketChannel.open()) {
      ScheduledFuture<?> guard = WATCHDOG.schedule(() -> {
        try {
          ch.close();
        } catch (IOException ignored) {
          // the reader sees it closed
        }
      }, timeout.toMillis(), TimeUnit.MILLISECONDS);
      try {
        ch.connect(target);
        ByteBuffer ask = ByteBuffer.wrap((bytes + "\n").getBytes(StandardCharsets.US_ASCII));
        while (ask.hasRemaining()) {
          ch.write(ask);
        }
        ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER);
        while (true) {
          in.clear();
          int n = ch.read(in);
          if (n < 0) {
            break;
          }
          got += n;
          in.flip();
          crc.update(in);
        }
      } finally {
        guard.cancel(false);
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      double cpu = (THREADS.getCurrentThreadCpuTime() - cpu0) / 1e9;
      boolean ok = got == bytes && crc.getValue() == expectedCrc;
      return new Result(got, secs, ok, ok ? null : "got " + got + " of " + bytes + " bytes"
          + (got == bytes ? ", CRC-32 differs" : ""), cpu);
    } catch (IOException e) {
      double secs = (System.nanoTime() - t0) / 1e9;
      boolean timedOut = secs * 1e9 >= timeout.toNanos();
      return new Result(got, secs, false, (timedOut ? "timed out after " + timeout.toSeconds() + " s: " : "")
          + e + " after " + got + " bytes", (THREADS.getCurrentThreadCpuTime() - cpu0) / 1e9);
    }
  }
}
