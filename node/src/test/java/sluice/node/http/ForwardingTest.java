package sluice.node.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.junit.jupiter.api.Test;

class ForwardingTest {

  @Test
  void responseHopByHopFieldsAreDroppedAndViaAppended() {
    HttpResponse fromBackend = HttpResponse.create().withHeaders(List.of(
        RawHeader.create("Connection", "close, X-Hop"),
        RawHeader.create("Keep-Alive", "timeout=5"),
        RawHeader.create("X-Hop", "private"),
        RawHeader.create("Trailer", "X-Sum"),
        RawHeader.create("Upgrade", "websocket"),
        RawHeader.create("X-App", "kept"),
        RawHeader.create("Via", "1.1 origin-cache")));
    HttpResponse forwarded = Forwarding.forwardResponse(fromBackend);
    List<String> names = new java.util.ArrayList<>();
    forwarded.getHeaders().forEach(h -> names.add(h.lowercaseName()));
    for (String hop : List.of("connection", "keep-alive", "x-hop", "trailer", "upgrade")) {
      assertFalse(names.contains(hop), hop + " dropped from " + names);
    }
    assertEquals("kept", forwarded.getHeader("X-App").orElseThrow().value());
    assertEquals("1.1 origin-cache, 1.1 sluice", forwarded.getHeader("Via").orElseThrow().value());
  }

  @Test
  void viaNamesTheReceivedProtocolVersion() {
    assertEquals("1.0 sluice", Forwarding.viaEntry("HTTP/1.0"));
    assertEquals("1.1 sluice", Forwarding.viaEntry("HTTP/1.1"));
  }
}
