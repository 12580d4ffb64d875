package sluice.node;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A client connection that writes HTTP/1.x by hand, so tests control every byte (bad
 * requests, HTTP/1.0, chunked uploads, connection reuse) and see exactly what comes back.
 */
final class RawHttp implements AutoCloseable {
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private RawHttp(Socket socket) throws IOException {
    this.socket = socket;
    this.in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    this.out = socket.getOutputStream();
  }

  static RawHttp connect(int port) throws IOException {
    return connect(port, 0);
  }

  /**
   * A connection whose socket receive buffer is {@code receiveBuffer} bytes (0: the system's),
   * for a client that reads slowly: the kernel then holds little of what it does not read.
   */
  static RawHttp connect(int port, int receiveBuffer) throws IOException {
    Socket socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer); // before connect, so the window is small from the start
    }
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    socket.setSoTimeout(30_000);
    socket.setTcpNoDelay(true);
    return new RawHttp(socket);
  }

  /** The client's own port (as the node sees it). */
  int localPort() {
    return socket.getLocalPort();
  }

  record Header(String name, String value) {}

  /** A response; {@code body} is null when it was only counted (see {@link #readCounting}). */
  record Response(String version, int status, List<Header> headers, byte[] body, long bodyLength, String sha256) {
    Optional<String> header(String name) {
      return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value).findFirst();
    }

    List<String> headers(String name) {
      return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value).toList();
    }

    String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  void write(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** Sends one HTTP/1.1 request with a Content-Length body (or none). */
  void send(String method, String target, byte[] body, String... headerLines) throws IOException {
    StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test.local\r\n");
    for (String line : headerLines) {
      head.append(line).append("\r\n");
    }
    if (body != null) {
      head.append("Content-Length: ").append(body.length).append("\r\n");
    }
    head.append("\r\n");
    write(head.toString());
    if (body != null) {
      write(body);
    }
  }

  Response get(String target, String... headerLines) throws IOException {
    send("GET", target, null, headerLines);
    return read();
  }

  Response read() throws IOException {
    return read(true, "GET");
  }

  /** Reads a response, keeping only the body's length and SHA-256 (for large bodies). */
  Response readCounting() throws IOException {
    return read(false, "GET");
  }

  Response readAfterHead() throws IOException {
    return read(true, "HEAD");
  }

  private Response read(boolean keepBody, String method) throws IOException {
    String statusLine = line();
    if (statusLine == null) {
      throw new EOFException("connection closed before a response");
    }
    String[] parts = statusLine.split(" ", 3);
    int status = Integer.parseInt(parts[1]);
    List<Header> headers = new ArrayList<>();
    String line;
    while (!(line = line()).isEmpty()) {
      int colon = line.indexOf(':');
      headers.add(new Header(line.substring(0, colon).trim(), line.substring(colon + 1).trim()));
    }
    BodySink sink = new BodySink(keepBody);
    String te = find(headers, "transfer-encoding");
    String cl = find(headers, "content-length");
    if (method.equals("HEAD") || status == 204 || status == 304 || status / 100 == 1) {
      // no body
    } else if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
      while (true) {
        String size = line();
        int semi = size.indexOf(';');
        long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
        if (n == 0) {
          while (!line().isEmpty()) {
            // trailers
          }
          break;
        }
        sink.copy(in, n);
        line();
      }
    } else if (cl != null) {
      sink.copy(in, Long.parseLong(cl));
    } else {
      sink.copy(in, Long.MAX_VALUE);
    }
    return new Response(parts[0], status, headers, sink.bytes(), sink.length, sink.sha256());
  }

  /** True when the peer closes the connection (or resets it) within the socket timeout. */
  boolean closedByPeer(int timeoutMillis) throws IOException {
    int old = socket.getSoTimeout();
    socket.setSoTimeout(timeoutMillis);
    try {
      return in.read() == -1;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException reset) {
      return true;
    } finally {
      socket.setSoTimeout(old);
    }
  }

  private static String find(List<Header> headers, String name) {
    for (Header h : headers) {
      if (h.name().equalsIgnoreCase(name)) {
        return h.value();
      }
    }
    return null;
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        byte[] bytes = b.toByteArray();
        int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, len, StandardCharsets.ISO_8859_1);
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  private static final class BodySink {
    private final ByteArrayOutputStream kept;
    private final MessageDigest digest;
    long length;

    BodySink(boolean keep) {
      kept = keep ? new ByteArrayOutputStream() : null;
      try {
        digest = MessageDigest.getInstance("SHA-256");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    void copy(InputStream in, long n) throws IOException {
      byte[] buf = new byte[64 * 1024];
      long left = n;
      while (left > 0) {
        int r = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (r == -1) {
          if (n == Long.MAX_VALUE) {
            return;
          }
          throw new EOFException("body cut off after " + length + " of " + n + " bytes");
        }
        digest.update(buf, 0, r);
        if (kept != null) {
          kept.write(buf, 0, r);
        }
        length += r;
        left -= r;
      }
    }

    byte[] bytes() {
      return kept == null ? null : kept.toByteArray();
    }

    String sha256() {
      return HexFormat.of().formatHex(digest.digest());
    }
  }
}
