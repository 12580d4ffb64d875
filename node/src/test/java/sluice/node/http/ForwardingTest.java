package sluice.node.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardingTest {

  @Test
  void responseHopByHopFieldsAreDroppedAndViaAppended() {
    HttpResponse fromBackend = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    fromBackend.headers()
        .add("Connection", "close, X-Hop")
        .add("Keep-Alive", "timeout=5")
        .add("X-Hop", "private")
        .add("Trailer", "X-Sum")
        .add("Upgrade", "websocket")
        .add("Transfer-Encoding", "chunked")
        .add("X-App", "kept")
        .add("Via", "1.1 origin-cache");
    Forwarding.forwardResponse(fromBackend);
    for (String hop : List.of("connection", "keep-alive", "x-hop", "trailer", "upgrade", "transfer-encoding")) {
      assertFalse(fromBackend.headers().contains(hop), hop + " dropped from " + fromBackend.headers());
    }
    assertEquals("kept", fromBackend.headers().get("X-App"));
    assertEquals("1.1 origin-cache, 1.1 sluice", fromBackend.headers().get("Via"));
  }

  @Test
  void requestGetsForwardingFieldsAndLosesWhatWasMeantForTheProxy() {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET, "/a?b");
    request.headers()
        .add("Host", "example.com:8080")
        .add("Connection", "keep-alive, X-Private")
        .add("X-Private", "1")
        .add("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .add("Proxy-Connection", "keep-alive")
        .add("X-Forwarded-For", "203.0.113.9")
        .add("X-Forwarded-For", "198.51.100.2")
        .add("X-Forwarded-Proto", "https");
    Forwarding.forwardRequest(request, "127.0.0.1");
    assertEquals(HttpVersion.HTTP_1_1, request.protocolVersion());
    assertEquals("/a?b", request.uri());
    for (String gone : List.of("connection", "x-private", "proxy-authorization", "proxy-connection")) {
      assertNull(request.headers().get(gone), gone + " must not reach the back-end");
    }
    assertEquals("203.0.113.9, 198.51.100.2, 127.0.0.1", request.headers().get("X-Forwarded-For"));
    assertEquals("http", request.headers().get("X-Forwarded-Proto"));
    assertEquals("example.com:8080", request.headers().get("X-Forwarded-Host"));
    assertEquals("1.0 sluice", request.headers().get("Via"));
  }

  @Test
  void anAbsoluteFormTargetBecomesOriginFormWithItsAuthorityAsHost() {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://example.org:81/x/y?q=1");
    request.headers().add("Host", "other.example");
    Forwarding.forwardRequest(request, "10.0.0.1");
    assertEquals("/x/y?q=1", request.uri());
    assertEquals("example.org:81", request.headers().get("Host"));
    HttpRequest bare = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://example.org?q");
    bare.headers().add("Host", "example.org");
    Forwarding.forwardRequest(bare, "10.0.0.1");
    assertEquals("/?q", bare.uri());
  }

  @Test
  void viaNamesTheReceivedProtocolVersion() {
    assertEquals("1.0 sluice", Forwarding.viaEntry("HTTP/1.0"));
    assertEquals("1.1 sluice", Forwarding.viaEntry("HTTP/1.1"));
  }

  /** Found by FuzzTest: an HTTP/1.0 request without Host went to the back-end as HTTP/1.1 without Host. */
  @Test
  void anHttp10RequestWithoutHostGetsAnEmptyHostAsHttp11() {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET, "/old");
    Forwarding.forwardRequest(request, "127.0.0.1");
    assertEquals(HttpVersion.HTTP_1_1, request.protocolVersion());
    assertEquals(List.of(""), request.headers().getAll("Host"));
    assertNull(request.headers().get("X-Forwarded-Host"));
  }
}
