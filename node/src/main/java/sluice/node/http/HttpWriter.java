package sluice.node.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes HTTP/1.1 message heads and body framing as bytes, for both sides of the proxy. A
 * head goes out in one buffer, and a small whole message (head and body) in one buffer and
 * one write; Netty's encoders would make several buffers and pass them through a handler of
 * their own. Field values are written byte for byte as they were received (Latin-1: obs-text
 * survives).
 */
final class HttpWriter {
  private HttpWriter() {}

  private static final byte[] HTTP_11 = "HTTP/1.1 ".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] REQUEST_VERSION = " HTTP/1.1\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final short CRLF = ('\r' << 8) | '\n';
  private static final short COLON_SP = (':' << 8) | ' ';
  /** The end of a chunked body with no trailer fields. */
  static final ByteBuf LAST_CHUNK = Unpooled.unreleasableBuffer(
      Unpooled.directBuffer(5).writeBytes(new byte[] {'0', '\r', '\n', '\r', '\n'}).asReadOnly());
  static final ByteBuf CRLF_BUF = Unpooled.unreleasableBuffer(
      Unpooled.directBuffer(2).writeBytes(new byte[] {'\r', '\n'}).asReadOnly());

  /** The head of a response, status line to the blank line, with room for {@code bodyBytes} after it. */
  static ByteBuf responseHead(ByteBufAllocator alloc, HttpResponse response, int bodyBytes) {
    HttpHeaders headers = response.headers();
    ByteBuf out = alloc.buffer(estimate(headers) + 32 + bodyBytes);
    out.writeBytes(HTTP_11);
    HttpResponseStatus status = response.status();
    int code = status.code();
    out.writeByte('0' + code / 100).writeByte('0' + code / 10 % 10).writeByte('0' + code % 10).writeByte(' ');
    ByteBufUtil.writeAscii(out, status.reasonPhrase());
    out.writeShort(CRLF);
    fields(out, headers);
    return out;
  }

  /** The head of a request for a back-end, request line to the blank line. */
  static ByteBuf requestHead(ByteBufAllocator alloc, HttpRequest request, int bodyBytes) {
    HttpHeaders headers = request.headers();
    String uri = request.uri();
    ByteBuf out = alloc.buffer(estimate(headers) + uri.length() + 24 + bodyBytes);
    ByteBufUtil.writeAscii(out, request.method().asciiName());
    out.writeByte(' ');
    ByteBufUtil.writeAscii(out, uri);
    out.writeBytes(REQUEST_VERSION);
    fields(out, headers);
    return out;
  }

  /** The size line of a chunk of {@code length} bytes. */
  static ByteBuf chunkSize(ByteBufAllocator alloc, int length) {
    ByteBuf out = alloc.buffer(10);
    ByteBufUtil.writeAscii(out, Integer.toHexString(length));
    out.writeShort(CRLF);
    return out;
  }

  private static void fields(ByteBuf out, HttpHeaders headers) {
    Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence();
    while (it.hasNext()) {
      Map.Entry<CharSequence, CharSequence> field = it.next();
      write(out, field.getKey());
      out.writeShort(COLON_SP);
      write(out, field.getValue());
      out.writeShort(CRLF);
    }
    out.writeShort(CRLF);
  }

  private static void write(ByteBuf out, CharSequence text) {
    if (text instanceof AsciiString ascii) {
      out.writeBytes(ascii.array(), ascii.arrayOffset(), ascii.length());
    } else {
      ByteBufUtil.writeAscii(out, text);
    }
  }

  private static int estimate(HttpHeaders headers) {
    return 64 + headers.size() * 48;
  }
}
