package sluice.node.http;

import static io.netty.handler.codec.http.HttpResponseStatus.BAD_REQUEST;
import static io.netty.handler.codec.http.HttpResponseStatus.EXPECTATION_FAILED;
import static io.netty.handler.codec.http.HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED;
import static io.netty.handler.codec.http.HttpResponseStatus.NOT_IMPLEMENTED;
import static io.netty.handler.codec.http.HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
import static io.netty.handler.codec.http.HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
import static io.netty.handler.codec.http.HttpResponseStatus.REQUEST_URI_TOO_LONG;
import static sluice.node.http.HttpSyntax.CR;
import static sluice.node.http.HttpSyntax.LF;
import static sluice.node.http.HttpSyntax.SP;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;

/**
 * A strict HTTP/1.x request parser (RFC 9112), without a channel: {@link #next} takes the
 * bytes received so far and returns the next event, an {@link HttpRequest}, an
 * {@link HttpContent}, a {@link LastHttpContent} or a {@link Malformed}, or null when it
 * needs more bytes. Anything a back-end could read differently is refused.
 *
 * <p>States, in the order a request goes through them: {@code REQUEST_LINE} (between
 * requests and while a request line arrives; empty lines before it are skipped),
 * {@code FIELDS} (header field lines), then {@code NO_BODY} (the next event is
 * {@link LastHttpContent#EMPTY_LAST_CONTENT}), {@code FIXED_BODY} (Content-Length), or
 * {@code CHUNK_SIZE}, {@code CHUNK_DATA}, {@code CHUNK_END}, {@code TRAILERS} (chunked);
 * after the request's LastHttpContent, {@code REQUEST_LINE} again. {@code DEAD} after a
 * Malformed, for good. Only {@link #next} changes the state.
 *
 * <p>Lines are found with Netty's word-at-a-time {@code indexOf} for LF, then copied once
 * into an array and checked there; a field's name and value are views of that array.
 *
 * <p>Invariants: the parser holds no ByteBuf, only offsets relative to the reader index;
 * the reader index moves only over complete lines and over body bytes handed out, so the
 * unread bytes always start a line or body data; {@code lineScanned} counts the unread bytes
 * already known to hold no LF; {@code request} is non-null only in {@code FIELDS}, and the
 * framing fields below it describe that request's head.
 */
public final class RequestParser {

  /**
   * Size limits, each checked as soon as the bytes to check arrive.
   *
   * @param maxUriLength bytes of the request target (414 above)
   * @param maxHeaderNameLength bytes of a field name (431 above)
   * @param maxHeaderValueLength bytes of a field value without surrounding whitespace (431 above)
   * @param maxHeaderCount header plus trailer fields of one request (431 above)
   * @param maxBodySize bytes of a body, Content-Length or the sum of its chunks (413 above)
   */
  public record Limits(int maxUriLength, int maxHeaderNameLength, int maxHeaderValueLength,
      int maxHeaderCount, long maxBodySize) {
    public Limits {
      atLeast("maxUriLength", maxUriLength, 1);
      atLeast("maxHeaderNameLength", maxHeaderNameLength, 1);
      atLeast("maxHeaderValueLength", maxHeaderValueLength, 0);
      atLeast("maxHeaderCount", maxHeaderCount, 0);
      atLeast("maxBodySize", maxBodySize, 0);
    }

    private static void atLeast(String name, long value, long min) {
      if (value < min) {
        throw new IllegalArgumentException(name + " must be at least " + min + ", got " + value);
      }
    }
  }

  /**
   * A request that is refused: the status to answer with and a short reason a client can
   * read. After it the parser is dead; the connection is to be answered and closed.
   */
  public record Malformed(HttpResponseStatus status, String reason) {}

  private enum State { REQUEST_LINE, FIELDS, NO_BODY, FIXED_BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, DEAD }

  /** Longer than any method we pass on, with room to spare; a longer first word is refused. */
  private static final int MAX_METHOD_LENGTH = 32;
  /** "HTTP/1.1" */
  private static final int VERSION_LENGTH = 8;
  /** Room on a field line for the colon and whitespace around the value, on top of both limits. */
  private static final int FIELD_LINE_SLACK = 256;
  /** A chunk-size line: the size and its extensions, which we ignore. */
  private static final int MAX_CHUNK_LINE_LENGTH = 4096;
  /** The greatest number of hex digits in a chunk size (a long). */
  private static final int MAX_CHUNK_SIZE_DIGITS = 16;

  private static final HttpMethod[] PASSED_ON = {
      HttpMethod.GET, HttpMethod.POST, HttpMethod.HEAD, HttpMethod.PUT,
      HttpMethod.DELETE, HttpMethod.OPTIONS, HttpMethod.PATCH, HttpMethod.TRACE};
  private static final AsciiString HTTP_SLASH = AsciiString.cached("HTTP/");
  private static final AsciiString HTTP_SCHEME = AsciiString.cached("http://");
  private static final AsciiString HTTPS_SCHEME = AsciiString.cached("https://");
  private static final AsciiString HOST = AsciiString.cached("host");
  private static final AsciiString CONTENT_LENGTH = AsciiString.cached("content-length");
  private static final AsciiString TRANSFER_ENCODING = AsciiString.cached("transfer-encoding");
  private static final AsciiString EXPECT = AsciiString.cached("expect");
  private static final AsciiString CONNECTION = AsciiString.cached("connection");
  private static final AsciiString CHUNKED = AsciiString.cached("chunked");
  private static final AsciiString CONTINUE_100 = AsciiString.cached("100-continue");
  /** We validate names and values ourselves, before adding them. */
  private static final HttpHeadersFactory HEADERS = DefaultHttpHeadersFactory.headersFactory().withValidation(false);

  /** A state step that consumed bytes and produced no event: go on parsing. */
  private static final Object PROCEED = new Object();

  private final Limits limits;
  private final int maxFieldLineLength;

  private State state = State.REQUEST_LINE;
  private int lineScanned;
  /** FIXED_BODY: body bytes still to come; CHUNK_DATA: bytes of the current chunk still to come. */
  private long remaining;
  /** Chunked: data bytes received so far. */
  private long bodySize;

  private HttpRequest request;
  private boolean absoluteForm;
  /** Header and trailer fields of this request so far. */
  private int fieldCount;
  private int hostCount;
  private long contentLength;
  private boolean transferEncoding;
  private int chunkedCount;
  private boolean lastCodingChunked;
  private boolean unknownCoding;
  private boolean expectationFailed;

  public RequestParser(Limits limits) {
    this.limits = limits;
    this.maxFieldLineLength = (int) Math.min(Integer.MAX_VALUE,
        (long) limits.maxHeaderNameLength() + limits.maxHeaderValueLength() + FIELD_LINE_SLACK);
  }

  /**
   * The next event from the bytes readable in {@code in}, or null when more bytes are needed
   * (or the parser is dead). Moves the reader index over the bytes it has used; the caller
   * keeps the unread ones and passes them again, followed by the next bytes received.
   * An {@link HttpContent} holds a retained slice of {@code in}, for the receiver to release.
   */
  public Object next(ByteBuf in) {
    while (true) {
      Object result = switch (state) {
        case REQUEST_LINE -> requestLine(in);
        case FIELDS, TRAILERS -> fieldLine(in);
        case NO_BODY -> endOfRequest(LastHttpContent.EMPTY_LAST_CONTENT);
        case FIXED_BODY -> fixedBody(in);
        case CHUNK_SIZE -> chunkSize(in);
        case CHUNK_DATA -> chunkData(in);
        case CHUNK_END -> chunkEnd(in);
        case DEAD -> null;
      };
      if (result != PROCEED) {
        return result;
      }
    }
  }

  // --- request line ---------------------------------------------------------------------

  private Object requestLine(ByteBuf in) {
    int start = in.readerIndex();
    if (lineScanned == 0 && in.isReadable()) {
      byte first = in.getByte(start);
      if (first == CR) {
        // an empty line before the request line (RFC 9112 2.2)
        if (in.readableBytes() < 2) {
          return null;
        }
        if (in.getByte(start + 1) != LF) {
          return refuse(BAD_REQUEST, "CR without LF");
        }
        in.skipBytes(2);
        return PROCEED;
      }
      if (first == LF) {
        return refuse(BAD_REQUEST, "LF without CR");
      }
    }
    int lf = findLf(in);
    if (lf < 0) {
      return checkPartialRequestLine(in);
    }
    int end = lineEnd(in, lf);
    if (end < 0) {
      return refuse(BAD_REQUEST, "LF without CR");
    }
    Object result = parseRequestLine(copy(in, start, end));
    if (result == PROCEED) {
      in.readerIndex(lf + 1);
    }
    return result;
  }

  /**
   * Refuses a request line that cannot end well before its CRLF arrives, with the status
   * the whole line would get: a first word too long for a method, a target over the limit,
   * a version part too long.
   */
  private Object checkPartialRequestLine(ByteBuf in) {
    int length = partialLineLength(in);
    if (length <= MAX_METHOD_LENGTH) {
      return null;
    }
    int start = in.readerIndex();
    int end = start + length;
    int sp1 = in.indexOf(start, start + MAX_METHOD_LENGTH + 1, SP);
    if (sp1 < 0) {
      return refuse(BAD_REQUEST, "method too long");
    }
    int targetStart = sp1 + 1;
    if (end - targetStart <= limits.maxUriLength()) {
      return null;
    }
    int sp2 = in.indexOf(targetStart, targetStart + limits.maxUriLength() + 1, SP);
    if (sp2 < 0) {
      return refuse(REQUEST_URI_TOO_LONG, "request target too long");
    }
    if (end - (sp2 + 1) > VERSION_LENGTH) {
      return refuse(BAD_REQUEST, "malformed HTTP version");
    }
    return null;
  }

  /** {@code method SP request-target SP HTTP-version}, the line without its CRLF. */
  private Object parseRequestLine(byte[] line) {
    int end = line.length;
    int sp1 = HttpSyntax.indexOf(line, 0, Math.min(end, MAX_METHOD_LENGTH + 1), SP);
    if (sp1 < 0) {
      return refuse(BAD_REQUEST, end > MAX_METHOD_LENGTH ? "method too long" : "malformed request line");
    }
    int targetStart = sp1 + 1;
    int sp2 = HttpSyntax.indexOf(line, targetStart, end, SP);
    int targetEnd = sp2 < 0 ? end : sp2;
    if (targetEnd - targetStart > limits.maxUriLength()) {
      return refuse(REQUEST_URI_TOO_LONG, "request target too long");
    }
    if (sp2 < 0 || sp1 == 0 || targetEnd == targetStart) {
      return refuse(BAD_REQUEST, "malformed request line");
    }
    int v = sp2 + 1;
    if (end - v != VERSION_LENGTH || !HttpSyntax.equalsExactly(line, v, v + 5, HTTP_SLASH)
        || !HttpSyntax.isDigit(line[v + 5]) || line[v + 6] != '.' || !HttpSyntax.isDigit(line[v + 7])) {
      return refuse(BAD_REQUEST, "malformed HTTP version");
    }
    HttpVersion version = version(line[v + 5], line[v + 7]);
    if (version == null) {
      return refuse(HTTP_VERSION_NOT_SUPPORTED, "HTTP version not supported");
    }
    HttpMethod method = method(line, sp1);
    if (method == null) {
      return refuse(NOT_IMPLEMENTED, "method not implemented");
    }
    Malformed badTarget = checkTarget(line, targetStart, targetEnd, method);
    if (badTarget != null) {
      return badTarget;
    }
    String uri = targetEnd - targetStart == 1 && line[targetStart] == '/'
        ? "/"
        : new String(line, targetStart, targetEnd - targetStart, StandardCharsets.ISO_8859_1);
    startHead(new DefaultHttpRequest(version, method, uri, HEADERS.newHeaders(), false));
    return PROCEED;
  }

  private static HttpVersion version(byte major, byte minor) {
    if (major != '1') {
      return null;
    }
    return minor == '1' ? HttpVersion.HTTP_1_1 : minor == '0' ? HttpVersion.HTTP_1_0 : null;
  }

  /** One of the methods we pass on, or null. CONNECT is not among them. */
  private static HttpMethod method(byte[] line, int end) {
    for (HttpMethod m : PASSED_ON) {
      if (HttpSyntax.equalsExactly(line, 0, end, m.asciiName())) {
        return m;
      }
    }
    return null;
  }

  /** origin-form, absolute-form with http or https, or asterisk-form for OPTIONS (RFC 9112 3.2). */
  private Malformed checkTarget(byte[] line, int from, int to, HttpMethod method) {
    absoluteForm = false;
    int pathStart;
    if (line[from] == '/') {
      pathStart = from;
    } else if (line[from] == '*' && to - from == 1) {
      return method == HttpMethod.OPTIONS ? null : refuse(BAD_REQUEST, "asterisk-form target only with OPTIONS");
    } else {
      int authority = authorityStart(line, from, to);
      if (authority < 0) {
        return refuse(BAD_REQUEST, "invalid request target");
      }
      pathStart = HttpSyntax.authorityEnd(line, authority, to);
      if (!HttpSyntax.isHostAndPort(line, authority, pathStart)) {
        return refuse(BAD_REQUEST, "invalid authority in request target");
      }
      absoluteForm = true;
    }
    int invalid = HttpSyntax.findInvalidPathOrQuery(line, pathStart, to);
    if (invalid >= 0) {
      return refuse(BAD_REQUEST, line[invalid] == '%'
          ? "invalid percent-encoding in request target"
          : "invalid character in request target");
    }
    return null;
  }

  /** After "http://" or "https://" (any letter case), or -1. */
  private static int authorityStart(byte[] line, int from, int to) {
    int http = from + HTTP_SCHEME.length();
    if (http <= to && HttpSyntax.equalsIgnoreCase(line, from, http, HTTP_SCHEME)) {
      return http;
    }
    int https = from + HTTPS_SCHEME.length();
    if (https <= to && HttpSyntax.equalsIgnoreCase(line, from, https, HTTPS_SCHEME)) {
      return https;
    }
    return -1;
  }

  private void startHead(HttpRequest started) {
    request = started;
    state = State.FIELDS;
    fieldCount = 0;
    hostCount = 0;
    contentLength = -1;
    transferEncoding = false;
    chunkedCount = 0;
    lastCodingChunked = false;
    unknownCoding = false;
    expectationFailed = false;
  }

  // --- header and trailer fields ----------------------------------------------------------

  private Object fieldLine(ByteBuf in) {
    int lf = findLf(in);
    if (lf < 0) {
      return partialLineLength(in) > maxFieldLineLength
          ? refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "header field too long")
          : null;
    }
    int start = in.readerIndex();
    int end = lineEnd(in, lf);
    if (end < 0) {
      return refuse(BAD_REQUEST, "LF without CR");
    }
    if (end == start) {
      in.readerIndex(lf + 1);
      return state == State.FIELDS ? endOfHead() : endOfRequest(LastHttpContent.EMPTY_LAST_CONTENT);
    }
    if (end - start > maxFieldLineLength) {
      return refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "header field too long");
    }
    Object result = parseField(copy(in, start, end));
    if (result == PROCEED) {
      in.readerIndex(lf + 1);
    }
    return result;
  }

  /**
   * {@code field-name ":" OWS field-value OWS} (RFC 9112 5), the line without its CRLF.
   * The field's name and value are views of the line's array: one copy for the line.
   */
  private Object parseField(byte[] line) {
    int end = line.length;
    if (HttpSyntax.isWhitespace(line[0])) {
      return refuse(BAD_REQUEST, "obsolete line folding");
    }
    if (++fieldCount > limits.maxHeaderCount()) {
      return refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "too many header fields");
    }
    int nameEnd = HttpSyntax.tokenEnd(line, 0, end);
    if (nameEnd == end || line[nameEnd] != ':') {
      return refuse(BAD_REQUEST, nameProblem(line, nameEnd));
    }
    if (nameEnd == 0) {
      return refuse(BAD_REQUEST, "empty header name");
    }
    if (nameEnd > limits.maxHeaderNameLength()) {
      return refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "header name too long");
    }
    int valueStart = HttpSyntax.skipWhitespace(line, nameEnd + 1, end);
    int valueEnd = HttpSyntax.trimWhitespace(line, valueStart, end);
    int invalid = HttpSyntax.findInvalidFieldValue(line, valueStart, valueEnd);
    if (invalid >= 0) {
      return refuse(BAD_REQUEST, line[invalid] == CR ? "CR without LF" : "invalid character in header value");
    }
    if (valueEnd - valueStart > limits.maxHeaderValueLength()) {
      return refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "header value too long");
    }
    if (state == State.TRAILERS) {
      return PROCEED; // validated, then dropped
    }
    Malformed framing = noteField(line, nameEnd, valueStart, valueEnd);
    if (framing != null) {
      return framing;
    }
    AsciiString value = valueStart == valueEnd
        ? AsciiString.EMPTY_STRING
        : new AsciiString(line, valueStart, valueEnd - valueStart, false);
    request.headers().add(new AsciiString(line, 0, nameEnd, false), value);
    return PROCEED;
  }

  private static String nameProblem(byte[] line, int nameEnd) {
    if (nameEnd < line.length) {
      byte b = line[nameEnd];
      if (b == CR) {
        return "CR without LF";
      }
      if (HttpSyntax.indexOf(line, nameEnd, line.length, (byte) ':') >= 0) {
        return HttpSyntax.isWhitespace(b) ? "whitespace before colon" : "invalid character in header name";
      }
    }
    return "header line without colon";
  }

  /**
   * The body length the last request head announced: its Content-Length, 0 for none, -1 for a
   * chunked body (length not known). Valid from its head until the next head starts.
   */
  long bodyLength() {
    return transferEncoding ? -1 : Math.max(contentLength, 0);
  }

  /**
   * Checks and notes the fields that frame or route the request: Host, Content-Length,
   * Transfer-Encoding, Expect, and Connection (which must not name the first two).
   */
  private Malformed noteField(byte[] line, int nameEnd, int valueStart, int valueEnd) {
    switch (nameEnd) {
      case 4 -> {
        if (HttpSyntax.equalsIgnoreCase(line, 0, nameEnd, HOST)) {
          if (++hostCount > 1) {
            return refuse(BAD_REQUEST, "more than one Host field");
          }
          if (valueStart == valueEnd ? !absoluteForm : !HttpSyntax.isHostAndPort(line, valueStart, valueEnd)) {
            return refuse(BAD_REQUEST, valueStart == valueEnd ? "empty Host" : "invalid Host");
          }
        }
      }
      case 6 -> {
        if (HttpSyntax.equalsIgnoreCase(line, 0, nameEnd, EXPECT)
            && !HttpSyntax.equalsIgnoreCase(line, valueStart, valueEnd, CONTINUE_100)) {
          expectationFailed = true;
        }
      }
      case 10 -> {
        if (HttpSyntax.equalsIgnoreCase(line, 0, nameEnd, CONNECTION)) {
          return checkConnectionOptions(line, valueStart, valueEnd);
        }
      }
      case 14 -> {
        if (HttpSyntax.equalsIgnoreCase(line, 0, nameEnd, CONTENT_LENGTH)) {
          if (contentLength >= 0) {
            return refuse(BAD_REQUEST, "more than one Content-Length");
          }
          contentLength = parseDecimal(line, valueStart, valueEnd);
          if (contentLength < 0) {
            return refuse(BAD_REQUEST, "invalid Content-Length");
          }
        }
      }
      case 17 -> {
        if (HttpSyntax.equalsIgnoreCase(line, 0, nameEnd, TRANSFER_ENCODING)) {
          return noteCodings(line, valueStart, valueEnd);
        }
      }
      default -> { }
    }
    return null;
  }

  /**
   * The options of one Connection field name hop-by-hop fields, which a proxy removes (RFC
   * 9110 7.6.1). One that names Content-Length or Host would have the proxy remove what frames
   * or routes the request, and a back-end would read the body as a request of its own: the
   * client may not send such an option (it names fields meant for every recipient), so the
   * request is refused.
   */
  private Malformed checkConnectionOptions(byte[] line, int from, int to) {
    int i = from;
    while (true) {
      int comma = HttpSyntax.indexOf(line, i, to, (byte) ',');
      int elementEnd = comma < 0 ? to : comma;
      int optionStart = HttpSyntax.skipWhitespace(line, i, elementEnd);
      int optionEnd = HttpSyntax.trimWhitespace(line, optionStart, elementEnd);
      if (HttpSyntax.equalsIgnoreCase(line, optionStart, optionEnd, CONTENT_LENGTH)
          || HttpSyntax.equalsIgnoreCase(line, optionStart, optionEnd, HOST)) {
        return refuse(BAD_REQUEST, "Connection names Content-Length or Host");
      }
      if (comma < 0) {
        return null;
      }
      i = comma + 1;
    }
  }

  /** {@code 1#token} of one Transfer-Encoding field; all its fields form one list. */
  private Malformed noteCodings(byte[] line, int from, int to) {
    transferEncoding = true;
    int i = from;
    while (true) {
      int comma = HttpSyntax.indexOf(line, i, to, (byte) ',');
      int elementEnd = comma < 0 ? to : comma;
      int codingStart = HttpSyntax.skipWhitespace(line, i, elementEnd);
      int codingEnd = HttpSyntax.trimWhitespace(line, codingStart, elementEnd);
      if (codingStart == codingEnd || HttpSyntax.tokenEnd(line, codingStart, codingEnd) != codingEnd) {
        return refuse(BAD_REQUEST, "malformed Transfer-Encoding");
      }
      lastCodingChunked = HttpSyntax.equalsIgnoreCase(line, codingStart, codingEnd, CHUNKED);
      if (lastCodingChunked) {
        chunkedCount++;
      } else {
        unknownCoding = true;
      }
      if (comma < 0) {
        return null;
      }
      i = comma + 1;
    }
  }

  /** The head is complete: decides the framing (RFC 9112 6.3) and hands the request out. */
  private Object endOfHead() {
    HttpRequest head = request;
    request = null;
    boolean http11 = head.protocolVersion() == HttpVersion.HTTP_1_1;
    if (http11 && hostCount == 0) {
      return refuse(BAD_REQUEST, "missing Host");
    }
    if (transferEncoding) {
      if (!http11) {
        return refuse(BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
      }
      if (contentLength >= 0) {
        return refuse(BAD_REQUEST, "both Content-Length and Transfer-Encoding");
      }
      if (!lastCodingChunked || chunkedCount > 1) {
        return refuse(BAD_REQUEST, "chunked must be the last transfer coding, once");
      }
      if (unknownCoding) {
        return refuse(NOT_IMPLEMENTED, "transfer coding not implemented");
      }
    }
    if (expectationFailed) {
      return refuse(EXPECTATION_FAILED, "expectation not supported");
    }
    if (contentLength > limits.maxBodySize()) {
      return refuse(REQUEST_ENTITY_TOO_LARGE, "body too large");
    }
    if (transferEncoding) {
      bodySize = 0;
      state = State.CHUNK_SIZE;
    } else if (contentLength > 0) {
      remaining = contentLength;
      state = State.FIXED_BODY;
    } else {
      state = State.NO_BODY;
    }
    return head;
  }

  // --- body -------------------------------------------------------------------------------

  private Object fixedBody(ByteBuf in) {
    int readable = in.readableBytes();
    if (readable == 0) {
      return null;
    }
    int n = (int) Math.min(remaining, readable);
    remaining -= n;
    ByteBuf data = in.readRetainedSlice(n);
    return remaining == 0
        ? endOfRequest(new DefaultLastHttpContent(data, EmptyHttpHeaders.INSTANCE))
        : new DefaultHttpContent(data);
  }

  /** {@code chunk-size [ chunk-ext ] CRLF} (RFC 9112 7.1). */
  private Object chunkSize(ByteBuf in) {
    int lf = findLf(in);
    if (lf < 0) {
      return partialLineLength(in) > MAX_CHUNK_LINE_LENGTH ? refuse(BAD_REQUEST, "chunk extensions too long") : null;
    }
    int start = in.readerIndex();
    int end = lineEnd(in, lf);
    if (end < 0) {
      return refuse(BAD_REQUEST, "LF without CR");
    }
    if (end - start > MAX_CHUNK_LINE_LENGTH) {
      return refuse(BAD_REQUEST, "chunk extensions too long");
    }
    byte[] line = copy(in, start, end);
    int digitsEnd = HttpSyntax.hexEnd(line, 0, line.length);
    if (digitsEnd == 0) {
      return refuse(BAD_REQUEST, "invalid chunk size");
    }
    if (digitsEnd > MAX_CHUNK_SIZE_DIGITS) {
      return refuse(BAD_REQUEST, "chunk size too long");
    }
    if (digitsEnd < line.length) {
      byte next = line[digitsEnd];
      if (next != ';' && !HttpSyntax.isWhitespace(next)) {
        return refuse(BAD_REQUEST, "invalid chunk size");
      }
      if (!HttpSyntax.isChunkExtensions(line, digitsEnd, line.length)) {
        return refuse(BAD_REQUEST, "invalid chunk extension");
      }
    }
    long size = parseHex(line, digitsEnd);
    if (size < 0) {
      return refuse(BAD_REQUEST, "chunk size too large");
    }
    if (size > limits.maxBodySize() - bodySize) {
      return refuse(REQUEST_ENTITY_TOO_LARGE, "body too large");
    }
    in.readerIndex(lf + 1);
    bodySize += size;
    if (size == 0) {
      state = State.TRAILERS;
    } else {
      remaining = size;
      state = State.CHUNK_DATA;
    }
    return PROCEED;
  }

  private Object chunkData(ByteBuf in) {
    int readable = in.readableBytes();
    if (readable == 0) {
      return null;
    }
    int n = (int) Math.min(remaining, readable);
    remaining -= n;
    if (remaining == 0) {
      state = State.CHUNK_END;
    }
    return new DefaultHttpContent(in.readRetainedSlice(n));
  }

  /** The CRLF after chunk data. */
  private Object chunkEnd(ByteBuf in) {
    int readable = in.readableBytes();
    int at = in.readerIndex();
    if (readable == 0 || (readable == 1 && in.getByte(at) == CR)) {
      return null;
    }
    if (in.getByte(at) != CR || in.getByte(at + 1) != LF) {
      return refuse(BAD_REQUEST, "missing CRLF after chunk data");
    }
    in.skipBytes(2);
    state = State.CHUNK_SIZE;
    return PROCEED;
  }

  private LastHttpContent endOfRequest(LastHttpContent last) {
    state = State.REQUEST_LINE;
    return last;
  }

  // --- helpers ----------------------------------------------------------------------------

  private Malformed refuse(HttpResponseStatus status, String reason) {
    state = State.DEAD;
    request = null;
    return new Malformed(status, reason);
  }

  /** The first LF among the readable bytes, scanning only bytes not scanned before; or -1. */
  private int findLf(ByteBuf in) {
    int lf = in.indexOf(in.readerIndex() + lineScanned, in.writerIndex(), LF);
    lineScanned = lf < 0 ? in.readableBytes() : 0;
    return lf;
  }

  /** Where the line that ends at {@code lf} ends without its CRLF, or -1 for a bare LF. */
  private static int lineEnd(ByteBuf in, int lf) {
    return lf > in.readerIndex() && in.getByte(lf - 1) == CR ? lf - 1 : -1;
  }

  /** The bytes of a line that has no LF yet, not counting a last CR, which may start its CRLF. */
  private int partialLineLength(ByteBuf in) {
    int length = lineScanned;
    return length > 0 && in.getByte(in.readerIndex() + length - 1) == CR ? length - 1 : length;
  }

  /** {@code 1*DIGIT} that fits in a long, or -1. */
  private static long parseDecimal(byte[] line, int from, int to) {
    if (from == to) {
      return -1;
    }
    long value = 0;
    for (int i = from; i < to; i++) {
      byte b = line[i];
      if (!HttpSyntax.isDigit(b)) {
        return -1;
      }
      int digit = b - '0';
      if (value > (Long.MAX_VALUE - digit) / 10) {
        return -1;
      }
      value = value * 10 + digit;
    }
    return value;
  }

  /** The hex digits at the start of the line, already checked, if they fit in a long; or -1. */
  private static long parseHex(byte[] line, int digits) {
    long value = 0;
    for (int i = 0; i < digits; i++) {
      if (value > (Long.MAX_VALUE >>> 4)) {
        return -1;
      }
      value = (value << 4) | Character.digit(line[i], 16);
    }
    return value;
  }

  /** The bytes [from, to) of {@code in}, copied (a line, to parse as an array). */
  private static byte[] copy(ByteBuf in, int from, int to) {
    byte[] line = new byte[to - from];
    in.getBytes(from, line);
    return line;
  }
}
