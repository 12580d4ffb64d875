package sluice.node.http;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * What a proxy changes in the messages it forwards (RFC 9110 section 7.6): it drops the
 * hop-by-hop fields (those named by Connection and the fixed list below), and records
 * itself in Via; requests also get X-Forwarded-For, -Proto and -Host.
 */
public final class Forwarding {
  private Forwarding() {}

  /** Our pseudonym in Via. */
  public static final String VIA_NAME = "sluice";

  /** Always hop-by-hop, lower case. Transfer-Encoding and Content-Length live in the entity. */
  private static final Set<String> HOP_BY_HOP = Set.of(
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
      // headers Pekko HTTP adds on its own side that must not travel
      "timeout-access", "remote-address", "raw-request-uri", "tls-session-info");

  /**
   * The request to send to a back-end: the client's target as written (origin-form),
   * end-to-end headers of the client's request, and the forwarding headers.
   *
   * @param clientIp the client's address as text
   */
  public static HttpRequest forwardRequest(HttpRequest request, String clientIp) {
    Set<String> drop = dropSet(request.getHeaders());
    List<HttpHeader> headers = new ArrayList<>();
    String forwardedFor = null;
    String via = null;
    String host = null;
    Uri target = request.getUri().toRelative();
    for (HttpHeader h : request.getHeaders()) {
      String name = h.lowercaseName();
      if (name.equals("raw-request-uri")) {
        // Pekko's own URI has dot segments removed; the back-end gets the target as written
        target = Uri.create(h.value()).toRelative();
      }
      if (drop.contains(name)) {
        continue;
      }
      switch (name) {
        case "x-forwarded-for" -> forwardedFor = forwardedFor == null ? h.value() : forwardedFor + ", " + h.value();
        case "via" -> via = via == null ? h.value() : via + ", " + h.value();
        case "x-forwarded-proto", "x-forwarded-host" -> { } // ours replace a client's
        default -> {
          if (name.equals("host")) {
            host = h.value();
          }
          headers.add(h);
        }
      }
    }
    headers.add(RawHeader.create("X-Forwarded-For", forwardedFor == null ? clientIp : forwardedFor + ", " + clientIp));
    headers.add(RawHeader.create("X-Forwarded-Proto", "http"));
    if (host != null) {
      headers.add(RawHeader.create("X-Forwarded-Host", host));
    }
    String hop = viaEntry(request.protocol().value());
    headers.add(RawHeader.create("Via", via == null ? hop : via + ", " + hop));
    return request
        .withUri(target)
        .withProtocol(org.apache.pekko.http.javadsl.model.HttpProtocols.HTTP_1_1)
        .withHeaders(headers);
  }

  /** The back-end's response as the client gets it: hop-by-hop fields dropped, Via added. */
  public static HttpResponse forwardResponse(HttpResponse response) {
    Set<String> drop = dropSet(response.getHeaders());
    List<HttpHeader> headers = new ArrayList<>();
    String via = null;
    for (HttpHeader h : response.getHeaders()) {
      String name = h.lowercaseName();
      if (drop.contains(name)) {
        continue;
      }
      if (name.equals("via")) {
        via = via == null ? h.value() : via + ", " + h.value();
      } else {
        headers.add(h);
      }
    }
    String hop = viaEntry(response.protocol().value());
    headers.add(RawHeader.create("Via", via == null ? hop : via + ", " + hop));
    return response.withHeaders(headers);
  }

  /** "HTTP/1.1" becomes "1.1 sluice" (the protocol name is left out for HTTP, RFC 9110 7.6.3). */
  static String viaEntry(String protocol) {
    String version = protocol.startsWith("HTTP/") ? protocol.substring(5) : protocol;
    return version + " " + VIA_NAME;
  }

  /** The fixed hop-by-hop names plus every name the Connection fields list. */
  private static Set<String> dropSet(Iterable<HttpHeader> headers) {
    Set<String> drop = null;
    for (HttpHeader h : headers) {
      if (h.lowercaseName().equals("connection")) {
        if (drop == null) {
          drop = new HashSet<>(HOP_BY_HOP);
        }
        for (String token : h.value().split(",")) {
          String t = token.trim().toLowerCase(Locale.ROOT);
          if (!t.isEmpty()) {
            drop.add(t);
          }
        }
      }
    }
    return drop == null ? HOP_BY_HOP : drop;
  }
}
