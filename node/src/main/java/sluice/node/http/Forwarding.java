package sluice.node.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * What a proxy changes in the messages it forwards (RFC 9110 section 7.6), in place on
 * the decoded message: it drops the hop-by-hop fields (those named by Connection and the
 * fixed list below) and records itself in Via; requests also get X-Forwarded-For, -Proto
 * and -Host, and Proxy-Authorization (meant for us) is not passed on. Message framing
 * (Content-Length, Transfer-Encoding) is set by the caller for the next hop.
 */
public final class Forwarding {
  private Forwarding() {}

  /** Our pseudonym in Via. */
  public static final String VIA_NAME = "sluice";

  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
  private static final AsciiString HTTP = AsciiString.cached("http");
  private static final AsciiString VIA_10 = AsciiString.cached("1.0 " + VIA_NAME);
  private static final AsciiString VIA_11 = AsciiString.cached("1.1 " + VIA_NAME);

  /** Always hop-by-hop (RFC 9110 7.6.1), plus Proxy-Connection, which old clients send. */
  private static final List<AsciiString> HOP_BY_HOP = List.of(HttpHeaderNames.CONNECTION, KEEP_ALIVE,
      PROXY_CONNECTION, HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.TRANSFER_ENCODING,
      HttpHeaderNames.UPGRADE);

  /**
   * Turns a client's request into the request for a back-end: the target as the client
   * wrote it (an absolute-form target becomes origin-form, its authority the Host),
   * end-to-end fields only, the forwarding fields added; HTTP/1.1 toward the back-end.
   *
   * @param clientIp the client's address as text
   */
  public static void forwardRequest(HttpRequest request, String clientIp) {
    HttpHeaders headers = request.headers();
    HttpVersion received = request.protocolVersion();
    String uri = request.uri();
    if (!uri.isEmpty() && uri.charAt(0) != '/' && uri.charAt(0) != '*') {
      int schemeEnd = uri.indexOf("://");
      int pathStart = uri.indexOf('/', schemeEnd + 3);
      int queryStart = uri.indexOf('?', schemeEnd + 3);
      int authorityEnd = pathStart < 0 ? (queryStart < 0 ? uri.length() : queryStart)
          : (queryStart < 0 ? pathStart : Math.min(pathStart, queryStart));
      headers.set(Fields.HOST, uri.substring(schemeEnd + 3, authorityEnd));
      String rest = uri.substring(authorityEnd);
      request.setUri(rest.isEmpty() || rest.charAt(0) == '?' ? "/" + rest : rest);
    }
    dropHopByHop(headers);
    if (!headers.contains(HttpHeaderNames.HOST)) {
      // an HTTP/1.0 request may come without Host; the HTTP/1.1 one we send must have one, and
      // with no authority known it is empty (RFC 9112 3.2)
      headers.set(Fields.HOST, "");
    }
    headers.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
    String forwardedFor = joined(headers, Fields.X_FORWARDED_FOR);
    headers.set(Fields.X_FORWARDED_FOR, forwardedFor == null ? clientIp : forwardedFor + ", " + clientIp);
    headers.set(Fields.X_FORWARDED_PROTO, HTTP);
    String host = headers.get(HttpHeaderNames.HOST);
    if (host != null && !host.isEmpty()) {
      headers.set(Fields.X_FORWARDED_HOST, host);
    } else {
      headers.remove(Fields.X_FORWARDED_HOST);
    }
    appendVia(headers, received);
    request.setProtocolVersion(HttpVersion.HTTP_1_1);
  }

  /** The back-end's response as the client gets it: hop-by-hop fields dropped, Via added. */
  public static void forwardResponse(HttpResponse response) {
    HttpHeaders headers = response.headers();
    dropHopByHop(headers);
    appendVia(headers, response.protocolVersion());
  }

  /** "HTTP/1.1" becomes "1.1 sluice" (the protocol name is left out for HTTP, RFC 9110 7.6.3). */
  static String viaEntry(String protocol) {
    String version = protocol.startsWith("HTTP/") ? protocol.substring(5) : protocol;
    return version + " " + VIA_NAME;
  }

  private static void appendVia(HttpHeaders headers, HttpVersion received) {
    CharSequence hop = received == HttpVersion.HTTP_1_1 ? VIA_11
        : received == HttpVersion.HTTP_1_0 ? VIA_10 : viaEntry(received.text());
    String via = joined(headers, HttpHeaderNames.VIA);
    if (via == null) {
      headers.set(Fields.VIA, hop);
    } else {
      headers.set(Fields.VIA, via + ", " + hop);
    }
  }

  /** Removes the fixed hop-by-hop names and every name the Connection fields list. */
  private static void dropHopByHop(HttpHeaders headers) {
    if (!headers.contains(HttpHeaderNames.CONNECTION)) {
      for (AsciiString name : HOP_BY_HOP) {
        headers.remove(name);
      }
      return;
    }
    for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
      int start = 0;
      while (start <= value.length()) {
        int comma = value.indexOf(',', start);
        int end = comma < 0 ? value.length() : comma;
        String token = value.substring(start, end).trim();
        if (!token.isEmpty()) {
          headers.remove(token);
        }
        start = end + 1;
      }
    }
    for (AsciiString name : HOP_BY_HOP) {
      headers.remove(name);
    }
  }

  /** All values of a field as one comma-separated list, or null when absent. */
  private static String joined(HttpHeaders headers, CharSequence name) {
    if (!headers.contains(name)) {
      return null;
    }
    List<String> values = headers.getAll(name);
    if (values.isEmpty()) {
      return null;
    }
    return values.size() == 1 ? values.get(0) : String.join(", ", values);
  }
}
