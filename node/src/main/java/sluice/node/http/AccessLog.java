package sluice.node.http;

import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.JsonText;
import sluice.node.queue.Work;
import sluice.node.settings.AccessLogSettings;
import sluice.node.settings.LogFormat;

/**
 * The optional access log: one line per finished HTTP exchange. The event loop only builds an
 * {@link Entry} (references and numbers it already has, no formatting) and offers it to a
 * bounded lock-free queue; a writer thread of its own formats and writes the lines. When the
 * queue is full the line is dropped and counted, never waited for; the writer warns of drops
 * at most every {@link #WARN_EVERY_NANOS} ns. The writer polls (sleeping {@link #IDLE_PARK_NANOS}
 * when there is nothing): an event loop never wakes it, so handing a line over costs one CAS.
 *
 * <p>States: running (entries are taken) -> closed (no entry is taken; the writer writes what
 * was queued, flushes and ends). {@link #add} is called from event loops, everything else
 * from the writer thread or {@link #close}.
 */
public final class AccessLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AccessLog.class);
  /** The logger lines go to when no file is configured. */
  public static final String LOGGER = "sluice.access";
  static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);
  /** The back-end field of a request no back-end saw, as HAProxy writes it. */
  static final String NO_SERVER = "<NOSRV>";

  /** How an exchange ended; its name is what the line says. */
  public enum Termination {
    /** The back-end's response went to the client whole. */
    OK("ok"),
    /** No route matched and there is no default pool (404). */
    NO_ROUTE("no-route"),
    /** 503: the pool's queue held queue.max requests. */
    QUEUE_FULL("queue-full"),
    /** 503: the request waited queue.timeout. */
    QUEUE_TIMEOUT("queue-timeout"),
    /** 503: every back-end of the pool is known down. */
    NO_BACKEND_UP("no-backend-up"),
    /** 503: the queue stopped (the node stops, or the queue restarted). */
    STOPPING("stopping"),
    /** 502: the back-end closed or failed before its response began. */
    BACKEND_FAILED("backend-failed"),
    /** The back-end's response was cut off after its head went to the client (the connection closes). */
    BACKEND_CUT_OFF("backend-cut-off"),
    /** 504: no response head within response-timeout. */
    BACKEND_TIMEOUT("backend-timeout"),
    /** The client closed its connection before its response had gone out whole. */
    CLIENT_ABORTED("client-aborted"),
    /** 408: the request body did not arrive within body-deadline, or the client read nothing of its response for the idle timeout. */
    CLIENT_TIMEOUT("client-timeout"),
    /** 4xx: the request body was malformed. */
    BAD_REQUEST("bad-request"),
    /** 503: no answer within the longest time an exchange may take (a bug). */
    INTERNAL_ERROR("internal-error");

    final String text;

    Termination(String text) {
      this.text = text;
    }

    static Termination refused(Work.Refusal refusal) {
      return switch (refusal) {
        case QUEUE_FULL -> QUEUE_FULL;
        case QUEUE_TIMEOUT -> QUEUE_TIMEOUT;
        case NO_BACKEND_UP -> NO_BACKEND_UP;
        case STOPPING -> STOPPING;
      };
    }
  }

  /**
   * One finished exchange as the event loop hands it over. Nanos are System.nanoTime() values,
   * 0 for a step that did not happen ({@code rttNanos}: -1).
   */
  record Entry(String clientIp, int clientPort, long startMillis, long startNanos, long enqueuedNanos,
      long takenNanos, long sentNanos, long rttNanos, long endNanos, String pool, String backend, int status,
      long bytes, Termination termination, String method, String uri, String version) {

    /** From the first byte of the request to the queue (the head, and the body when it is read first). */
    long receiveNanos() {
      return enqueuedNanos == 0 ? -1 : Math.max(0, enqueuedNanos - startNanos);
    }

    /** In the pool's queue: until a back-end took it, or until it was refused. */
    long queueNanos() {
      if (enqueuedNanos == 0) {
        return -1;
      }
      if (takenNanos != 0) {
        return takenNanos - enqueuedNanos;
      }
      return backend == null ? endNanos - enqueuedNanos : -1;
    }

    /** From the back-end taking it to its being written to a connection (a new connection's connect). */
    long connectNanos() {
      return takenNanos == 0 || sentNanos == 0 ? -1 : Math.max(0, sentNanos - takenNanos);
    }

    long totalNanos() {
      return endNanos - startNanos;
    }
  }

  /** Where formatted lines go: a file, a logger, or a test's list. */
  interface Sink {
    void write(String line) throws IOException;

    void flush() throws IOException;

    void close() throws IOException;
  }

  private final Queue<Entry> pending;
  private final LogFormat format;
  private final Sink sink;
  private final LongAdder dropped = new LongAdder();
  private final Thread writer;
  private volatile boolean closed;
  private long droppedReported;
  private long lastWarnNanos;
  private long written;
  private final StringBuilder line = new StringBuilder(256);

  AccessLog(LogFormat format, int capacity, Sink sink) {
    this.format = format;
    this.sink = sink;
    this.pending = PlatformDependent.newFixedMpscQueue(capacity);
    this.writer = new Thread(this::run, "sluice-access-log");
    writer.setDaemon(true);
    writer.start();
  }

  /**
   * The access log the settings ask for, or null when it is off. Throws {@link IllegalStateException}
   * naming the file if it cannot be opened for appending.
   */
  public static AccessLog start(AccessLogSettings settings) {
    if (!settings.enabled()) {
      return null;
    }
    Sink sink = settings.file().map(AccessLog::fileSink).orElseGet(AccessLog::loggerSink);
    return new AccessLog(settings.format(), settings.pendingLines(), sink);
  }

  private static Sink fileSink(String name) {
    Path file = Path.of(name);
    Writer out;
    try {
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("sluice.access-log.file: cannot open " + file.toAbsolutePath()
          + " for appending: " + e, e);
    }
    return new Sink() {
      @Override
      public void write(String text) throws IOException {
        out.write(text);
        out.write('\n');
      }

      @Override
      public void flush() throws IOException {
        out.flush();
      }

      @Override
      public void close() throws IOException {
        out.close();
      }
    };
  }

  private static Sink loggerSink() {
    Logger access = LoggerFactory.getLogger(LOGGER);
    return new Sink() {
      @Override
      public void write(String text) {
        access.info(text);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
  }

  /** Hands a finished exchange to the writer; drops it (counted) if the writer is that far behind. Any thread. */
  void add(Entry entry) {
    if (closed || !pending.offer(entry)) {
      dropped.increment();
    }
  }

  /** Lines dropped so far because the writer was behind (or the log closed). */
  public long dropped() {
    return dropped.sum();
  }

  /** Writes what is queued, then stops the writer. Idempotent. */
  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(writer);
    try {
      writer.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    try {
      while (true) {
        Entry e = pending.poll();
        if (e == null) {
          sink.flush();
          warnOfDrops(false);
          if (closed) {
            if (pending.isEmpty()) {
              break;
            }
            continue;
          }
          LockSupport.parkNanos(IDLE_PARK_NANOS);
          continue;
        }
        line.setLength(0);
        if (format == LogFormat.JSON) {
          json(e, line);
        } else {
          text(e, line);
        }
        sink.write(line.toString());
        if ((++written & 1023) == 0) {
          warnOfDrops(false);
        }
      }
      warnOfDrops(true);
    } catch (IOException | RuntimeException e) {
      log.error("access log: writing failed, no more lines are written: {}", e.toString());
      closed = true;
    } finally {
      try {
        sink.close();
      } catch (IOException e) {
        log.warn("access log: closing failed: {}", e.toString());
      }
    }
  }

  private void warnOfDrops(boolean last) {
    long now = System.nanoTime();
    long total = dropped.sum();
    if (total > droppedReported && (last || now - lastWarnNanos >= WARN_EVERY_NANOS)) {
      log.warn("access log: {} lines dropped since the last warning ({} in all): the writer fell behind"
          + " (sluice.access-log.pending-lines is full)", total - droppedReported, total);
      droppedReported = total;
      lastWarnNanos = now;
    }
  }

  // ---- formats ------------------------------------------------------------------------

  private static final DateTimeFormatter HAPROXY_DATE = DateTimeFormatter
      .ofPattern("dd/MMM/yyyy:HH:mm:ss.SSS", Locale.ROOT).withZone(ZoneId.systemDefault());

  /**
   * {@code 127.0.0.1:51234 [03/Dec/2026:11:35:49.123] web/127.0.0.1:9001 0/4/0/12/17 200 145 ok "GET /a HTTP/1.1"}:
   * client, start of the request (local time), pool/back-end, TR/Tw/Tc/Tr/Ta in ms, status, bytes
   * to the client, termination, request line.
   */
  static void text(Entry e, StringBuilder out) {
    out.append(e.clientIp()).append(':').append(e.clientPort()).append(" [");
    HAPROXY_DATE.formatTo(Instant.ofEpochMilli(e.startMillis()), out);
    out.append("] ").append(e.pool() == null ? "-" : e.pool()).append('/')
        .append(e.backend() == null ? NO_SERVER : e.backend()).append(' ');
    millis(e.receiveNanos(), out).append('/');
    millis(e.queueNanos(), out).append('/');
    millis(e.connectNanos(), out).append('/');
    millis(e.rttNanos(), out).append('/');
    millis(e.totalNanos(), out).append(' ');
    out.append(e.status()).append(' ').append(e.bytes()).append(' ').append(e.termination().text).append(" \"");
    quoted(e.method(), out).append(' ');
    quoted(e.uri(), out).append(' ');
    quoted(e.version(), out).append('"');
  }

  private static StringBuilder millis(long nanos, StringBuilder out) {
    return out.append(nanos < 0 ? -1 : nanos / 1_000_000);
  }

  private static StringBuilder quoted(String s, StringBuilder out) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < ' ' || c == 127) {
        out.append(String.format("\\x%02x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out;
  }

  private static final DateTimeFormatter ISO_UTC = DateTimeFormatter
      .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(java.time.ZoneOffset.UTC);

  /** One object; times in microseconds (-1: the step did not happen), the start as ISO-8601 UTC. */
  static void json(Entry e, StringBuilder out) {
    out.append("{\"time\":\"");
    ISO_UTC.formatTo(Instant.ofEpochMilli(e.startMillis()), out);
    out.append("\",\"client\":");
    string(e.clientIp(), out).append(",\"client_port\":").append(e.clientPort()).append(",\"pool\":");
    string(e.pool(), out).append(",\"backend\":");
    string(e.backend(), out);
    out.append(",\"receive_us\":").append(micros(e.receiveNanos()))
        .append(",\"queue_us\":").append(micros(e.queueNanos()))
        .append(",\"connect_us\":").append(micros(e.connectNanos()))
        .append(",\"response_us\":").append(micros(e.rttNanos()))
        .append(",\"total_us\":").append(micros(e.totalNanos()))
        .append(",\"status\":").append(e.status())
        .append(",\"bytes\":").append(e.bytes())
        .append(",\"termination\":\"").append(e.termination().text).append("\",\"method\":");
    string(e.method(), out).append(",\"uri\":");
    string(e.uri(), out).append(",\"version\":");
    string(e.version(), out).append('}');
  }

  private static long micros(long nanos) {
    return nanos < 0 ? -1 : nanos / 1000;
  }

  private static StringBuilder string(String s, StringBuilder out) {
    return JsonText.quoted(s, out);
  }
}
