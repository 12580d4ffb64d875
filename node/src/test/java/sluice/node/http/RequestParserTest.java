package sluice.node.http;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.node.http.Events.END;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.node.http.RequestParser.Limits;

class RequestParserTest {

  /** Small limits, so that literal inputs reach them: target 32, name 20, value 32, 8 fields, body 100. */
  private static final Limits LIMITS = new Limits(32, 20, 32, 8, 100);

  private final TrackingAllocator alloc = new TrackingAllocator();

  @BeforeAll
  static void leakDetectorParanoid() {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
  }

  @AfterEach
  void everyBufferReleased() {
    alloc.assertAllReleased();
  }

  // --- accepted requests ------------------------------------------------------------------

  @Test
  void simpleGet() {
    assertEquals(List.of("GET /index.html?q=1 HTTP/1.1 | Host: example.com | User-Agent: t/1", END),
        parse("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n"));
  }

  @Test
  void requestObjectHasNettyConstantsAndTheFieldsAsReceived() {
    List<Object> events = new ArrayList<>();
    RequestParser parser = new RequestParser(LIMITS);
    ByteBuf in = alloc.bytes("HEAD /x HTTP/1.0\r\nhOsT: a\r\nX-B: 2\r\nX-A: 1\r\nX-B: 3\r\n\r\n");
    for (Object event; (event = parser.next(in)) != null; ) {
      events.add(event);
    }
    assertEquals(2, events.size());
    HttpRequest request = (HttpRequest) events.get(0);
    assertSame(HttpMethod.HEAD, request.method());
    assertSame(HttpVersion.HTTP_1_0, request.protocolVersion());
    assertEquals(List.of("hOsT", "X-B", "X-A", "X-B"), namesInOrder(request));
    assertEquals(List.of("2", "3"), request.headers().getAll("x-b"));
    assertSame(LastHttpContent.EMPTY_LAST_CONTENT, events.get(1));
    assertEquals(0, in.readableBytes(), "everything consumed");
    in.release();
  }

  private static List<String> namesInOrder(HttpRequest request) {
    List<String> names = new ArrayList<>();
    request.headers().iteratorCharSequence().forEachRemaining(e -> names.add(e.getKey().toString()));
    return names;
  }

  @Test
  void valueWhitespaceIsTrimmedAndEmptyValuesKept() {
    assertEquals(List.of("GET / HTTP/1.1 | Host: a | X-A: v  w | X-E: ", END),
        parse("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v  w \t \r\nX-E:   \r\n\r\n"));
  }

  @Test
  void obsTextInValuesPassesThroughByteForByte() {
    List<Object> events = new ArrayList<>();
    RequestParser parser = new RequestParser(LIMITS);
    ByteBuf in = alloc.bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Name: Ren\u00e9e \u00ff\r\n\r\n");
    for (Object event; (event = parser.next(in)) != null; ) {
      events.add(event);
    }
    List<CharSequence> values = new ArrayList<>();
    ((HttpRequest) events.get(0)).headers().iteratorCharSequence().forEachRemaining(e -> values.add(e.getValue()));
    AsciiString value = (AsciiString) values.get(1);
    assertArrayEquals(new byte[] {'R', 'e', 'n', (byte) 0xe9, 'e', ' ', (byte) 0xff}, value.toByteArray());
    in.release();
  }

  @Test
  void http10NeedsNoHost() {
    assertEquals(List.of("GET / HTTP/1.0", END), parse("GET / HTTP/1.0\r\n\r\n"));
  }

  @Test
  void emptyLinesBeforeTheRequestLineAreSkipped() {
    assertEquals(List.of("GET / HTTP/1.1 | Host: a", END), parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void everyMethodWePassOn() {
    for (String method : List.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH")) {
      assertEquals(List.of(method + " / HTTP/1.1 | Host: a", END), parse(method + " / HTTP/1.1\r\nHost: a\r\n\r\n"));
    }
  }

  @Test
  void targetStartingWithTwoSlashesIsPassedOnAsWritten() {
    assertEquals(List.of("GET //evil.example/a//b?c=d HTTP/1.1 | Host: a", END),
        parse("GET //evil.example/a//b?c=d HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void allowedTargetCharactersAndPercentEncoding() {
    assertEquals(List.of("GET /a-._~!$&'()*+,;=:@/?%2Fx%e9 HTTP/1.1 | Host: a", END),
        parse("GET /a-._~!$&'()*+,;=:@/?%2Fx%e9 HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void absoluteFormIsPassedOnAsWrittenAndMayHaveAnEmptyHost() {
    assertEquals(List.of("GET http://Example.com:8080/p?q HTTP/1.1 | Host: ", END),
        parse("GET http://Example.com:8080/p?q HTTP/1.1\r\nHost:\r\n\r\n"));
    assertEquals(List.of("GET HTTPS://[::1] HTTP/1.1 | Host: [::1]", END),
        parse("GET HTTPS://[::1] HTTP/1.1\r\nHost: [::1]\r\n\r\n"));
    assertEquals(List.of("GET http://a?x HTTP/1.1 | Host: a", END), parse("GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void asteriskFormForOptions() {
    assertEquals(List.of("OPTIONS * HTTP/1.1 | Host: a", END), parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void validHosts() {
    for (String host : List.of("a", "example.com:80", "1.2.3.4:65535", "[::1]:8080", "[2001:db8::1]",
        "[1:2:3:4:5:6:7:8]", "[::ffff:192.0.2.1]", "[1::]", "xn--bcher-kva.example", "a%2Eb", "a_b~c", "a:00080")) {
      assertEquals(List.of("GET / HTTP/1.1 | Host: " + host, END), parse("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"),
          host);
    }
  }

  @Test
  void expect100ContinueIsPassedOn() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Expect: 100-Continue | Content-Length: 2", "end:ok"),
        parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"));
  }

  @Test
  void contentLengthBodyInOnePiece() {
    assertEquals(List.of("POST /up HTTP/1.1 | Host: a | Content-Length: 5", "end:hello"),
        parse("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
  }

  @Test
  void contentLengthBodyInOneByteReads() {
    String request = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello";
    assertEquals(List.of("POST /up HTTP/1.1 | Host: a | Content-Length: 005",
        "data:h", "data:e", "data:l", "data:l", "end:o"), parse(LIMITS, bytewise(request)));
  }

  @Test
  void contentLengthZeroIsABodylessRequest() {
    assertEquals(List.of("PUT / HTTP/1.1 | Host: a | Content-Length: 0", END),
        parse("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"));
  }

  private static final String CHUNKED = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

  @Test
  void chunkedBody() {
    assertEquals(List.of("POST /c HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:hello", "data: world", END),
        parse(CHUNKED));
  }

  @Test
  void chunkedBodySplitAtEveryByteBoundaryGivesTheSameBytes() {
    for (int split = 0; split <= CHUNKED.length(); split++) {
      assertChunkedEvents(parse(LIMITS, CHUNKED.substring(0, split), CHUNKED.substring(split)), "split at " + split);
    }
    for (int first = 0; first <= CHUNKED.length(); first++) {
      for (int second = first; second <= CHUNKED.length(); second++) {
        assertChunkedEvents(parse(LIMITS, CHUNKED.substring(0, first), CHUNKED.substring(first, second),
            CHUNKED.substring(second)), "split at " + first + " and " + second);
      }
    }
    assertChunkedEvents(parse(LIMITS, bytewise(CHUNKED)), "one byte at a time");
  }

  private static void assertChunkedEvents(List<String> events, String how) {
    assertEquals("POST /c HTTP/1.1 | Host: a | Transfer-Encoding: chunked", events.get(0), how);
    assertEquals(END, events.get(events.size() - 1), how);
    assertEquals("hello world", Events.body(events), how);
    for (String event : events.subList(1, events.size() - 1)) {
      assertTrue(event.startsWith("data:") && event.length() > 5, how + ": " + event);
    }
  }

  @Test
  void chunkedCodingNameIsCaseInsensitiveAndMaySpreadOverFields() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: CHUNKED", "data:ab", END),
        parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n"));
  }

  @Test
  void chunkSizesInHexOfEitherCaseWithLeadingZeros() {
    assertEquals("0123456789" + "abcdefghijklmnop",
        Events.body(parse(chunked("A\r\n0123456789\r\n0000000000000010\r\nabcdefghijklmnop\r\n0\r\n\r\n"))));
    assertEquals("0123456789", Events.body(parse(chunked("a\r\n0123456789\r\n0\r\n\r\n"))));
  }

  @Test
  void chunkExtensionsAreIgnored() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:hello", END),
        parse(chunked("5 ; name = value;flag;q=\"a \\\"quoted\\\" ;x\"\r\nhello\r\n0;last=yes\r\n\r\n")));
  }

  @Test
  void trailerFieldsAreValidatedThenDropped() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:hi", END),
        parse(chunked("2\r\nhi\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n")));
  }

  @Test
  void zeroSizeChunkInTheMiddleIsTheLastChunk() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", END,
            "GET / HTTP/1.1 | Host: a", END),
        parse(chunked("0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")));
  }

  @Test
  void pipelinedRequestsFollowEachOther() {
    assertEquals(List.of(
            "GET /1 HTTP/1.1 | Host: a", END,
            "POST /2 HTTP/1.1 | Host: a | Content-Length: 3", "end:abc",
            "POST /3 HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:x", END,
            "GET /4 HTTP/1.1 | Host: a", END),
        parse("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            + "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
            + "\r\nGET /4 HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void bytesOfTheNextRequestAreLeftUnread() {
    RequestParser parser = new RequestParser(LIMITS);
    ByteBuf in = alloc.bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET / HT");
    Events.describe(parser.next(in));
    assertEquals("end:ok", Events.describe(parser.next(in)));
    assertEquals("GET / HT", in.toString(ISO_8859_1), "the unread bytes");
    assertNull(parser.next(in));
    assertEquals("GET / HT", in.toString(ISO_8859_1), "a partial line is not consumed");
    in.release();
  }

  @Test
  void limitsReachedExactlyAreAccepted() {
    String target = "/" + "t".repeat(31);
    String name = "N".repeat(20);
    String value = "v".repeat(32);
    assertEquals(List.of("GET " + target + " HTTP/1.1 | Host: a | " + name + ": " + value
            + " | X-3: 3 | X-4: 4 | X-5: 5 | X-6: 6 | X-7: 7 | Content-Length: 100", "end:" + "b".repeat(100)),
        parse("GET " + target + " HTTP/1.1\r\nHost: a\r\n" + name + ": " + value + "\r\n"
            + "X-3: 3\r\nX-4: 4\r\nX-5: 5\r\nX-6: 6\r\nX-7: 7\r\nContent-Length: 100\r\n\r\n" + "b".repeat(100)));
    assertEquals("b".repeat(100), Events.body(parse(chunked("32\r\n" + "b".repeat(50) + "\r\n32\r\n" + "b".repeat(50)
        + "\r\n0\r\n\r\n"))));
  }

  @Test
  void afterARefusalTheParserStaysDead() {
    RequestParser parser = new RequestParser(LIMITS);
    ByteBuf in = alloc.bytes("GARBAGE\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals("refused 400 malformed request line", Events.describe(parser.next(in)));
    assertNull(parser.next(in));
    assertNull(parser.next(in));
    in.release();
  }

  @Test
  void limitsAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> new Limits(0, 1, 1, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new Limits(1, 1, 1, 1, -1));
  }

  // --- refusals ---------------------------------------------------------------------------

  static Stream<Arguments> refusals() {
    return Stream.of(
        // request line
        refused(400, "GARBAGE\r\n\r\n"),
        // found by FuzzTest: Connection naming Content-Length had the body sent as a request of its own
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close, Content-Length\r\n\r\nhello"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive,HOST \r\n\r\n"),
        refused(400, "GET /\r\nHost: a\r\n\r\n"),
        refused(400, "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
        refused(400, "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, " GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / x HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / http/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1x\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/11\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/a.b\r\nHost: a\r\n\r\n"),
        // request target
        refused(400, "GET /a<>{} HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a|b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a^b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a`b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a[1] HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /caf\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a\u0001b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a\u007fb HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET %2F HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET http://a/<x> HTTP/1.1\r\nHost: a\r\n\r\n"),
        // line endings
        refused(400, "GET / HTTP/1.1\nHost: a\n\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\n\n"),
        refused(400, "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"),
        refused(400, "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX\r: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"),
        // field lines
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX(y): a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-\u00e9: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tb\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u0001b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u007fb\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nX-A: \u001b[0m\r\n\r\n"),
        // Host
        refused(400, "GET / HTTP/1.1\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        refused(400, "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a:\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: :80\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [::1%25eth0]\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: [::256.1.1.1]\r\n\r\n"),
        refused(400, "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"),
        // Content-Length
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
        // Transfer-Encoding
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
        refused(400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n"),
        refused(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"),
        // chunked body
        refused(400, chunked("zz\r\n")),
        refused(400, chunked("0x5\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("00000000000000005\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("FFFFFFFFFFFFFFFF\r\n")),
        refused(400, chunked(" 5\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("-5\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("+5\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5 \r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5;\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5;a=\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5;a=\"open\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5;a\u0000b\r\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5\nhello\r\n0\r\n\r\n")),
        refused(400, chunked("5\r\nhelloXX0\r\n\r\n")),
        refused(400, chunked("5\r\nhello\n0\r\n\r\n")),
        refused(400, chunked("5\r\nhello\r0\r\n\r\n")),
        refused(400, chunked("5\r\nhello world\r\n0\r\n\r\n")),
        refused(400, chunked("0\r\nBad Trailer\r\n\r\n")),
        refused(400, chunked("0\r\nX-T: a\r\n b\r\n\r\n")),
        refused(400, chunked("0\r\nX-T: a\u0000\r\n\r\n")),
        refused(400, chunked("0\r\n\n")),
        // 413
        refused(413, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n"),
        refused(413, chunked("65\r\n")),
        refused(413, chunked("32\r\n" + "b".repeat(50) + "\r\n33\r\n" + "b".repeat(51) + "\r\n0\r\n\r\n")),
        // 414
        refused(414, "GET /" + "t".repeat(32) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(414, "GET http://a/" + "t".repeat(24) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
        // 417
        refused(417, "POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n"),
        refused(417, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n"),
        refused(417, "POST / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n"),
        // 431
        refused(431, "GET / HTTP/1.1\r\nHost: a\r\n" + "N".repeat(21) + ": v\r\n\r\n"),
        refused(431, "GET / HTTP/1.1\r\nHost: a\r\nX-A: " + "v".repeat(33) + "\r\n\r\n"),
        refused(431, "GET / HTTP/1.1\r\nHost: a\r\nX-2: 2\r\nX-3: 3\r\nX-4: 4\r\nX-5: 5\r\nX-6: 6\r\nX-7: 7\r\nX-8: 8\r\n"
            + "X-9: 9\r\n\r\n"),
        refused(431, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-3: 3\r\nX-4: 4\r\nX-5: 5\r\n"
            + "X-6: 6\r\nX-7: 7\r\n\r\n0\r\nX-T8: 8\r\nX-T9: 9\r\n\r\n"),
        // 501
        refused(501, "G@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(501, "get / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(501, "PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(501, "QUERY / HTTP/1.1\r\nHost: a\r\n\r\n"),
        refused(501, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
        refused(501, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        refused(501, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
        // 505
        refused(505, "GET / HTTP/9.9\r\nHost: a\r\n\r\n"),
        refused(505, "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        refused(505, "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        refused(505, "GET / HTTP/0.9\r\n\r\n"));
  }

  private static Arguments refused(int status, String input) {
    return Arguments.of(status, input);
  }

  private static String chunked(String body) {
    return "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
  }

  @ParameterizedTest(name = "{0} for {1}")
  @MethodSource("refusals")
  void refusedWithTheSameStatusHoweverTheBytesArrive(int status, String input) {
    List<String> whole = parse(input);
    assertEquals(status, Events.refusedStatus(whole), () -> "in one piece: " + whole);
    List<String> bytewise = parse(LIMITS, bytewise(input));
    assertEquals(whole.get(0), bytewise.get(0), "one byte at a time, first event");
    assertEquals(whole.get(whole.size() - 1), bytewise.get(bytewise.size() - 1), "one byte at a time, refusal");
    assertEquals(Events.body(whole), Events.body(bytewise), "one byte at a time, body");
  }

  @Test
  void refusalReasonsAreShortPhrases() {
    assertEquals(List.of("refused 400 header line without colon"),
        parse("GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"));
    assertEquals(List.of("refused 400 invalid character in request target"),
        parse("GET /a<>{} HTTP/1.1\r\nHost: a\r\n\r\n"));
    assertEquals(List.of("refused 400 invalid percent-encoding in request target"),
        parse("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"));
    assertEquals(List.of("refused 501 method not implemented"), parse("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assertEquals(List.of("refused 505 HTTP version not supported"), parse("GET / HTTP/9.9\r\nHost: a\r\n\r\n"));
    assertEquals(List.of("refused 400 both Content-Length and Transfer-Encoding"),
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"));
    assertEquals(List.of("refused 400 obsolete line folding"),
        parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"));
    assertEquals(List.of("refused 400 CR without LF"), parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"));
    assertEquals(List.of("refused 400 LF without CR"), parse("GET / HTTP/1.1\nHost: a\n\n"));
    assertEquals(List.of("refused 431 header value too long"),
        parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: " + "v".repeat(33) + "\r\n\r\n"));
    assertEquals(List.of("refused 400 missing Host"), parse("GET / HTTP/1.1\r\n\r\n"));
  }

  @Test
  void everyByteOfALongValueIsChecked() {
    // values are scanned eight bytes at a time: try each byte at each position of a 20-byte value
    for (int at = 0; at < 20; at++) {
      for (char refused : new char[] {0x00, 0x01, 0x08, 0x0b, 0x1f, 0x7f}) {
        String value = "v".repeat(at) + refused + "w".repeat(19 - at);
        assertEquals(List.of("refused 400 invalid character in header value"),
            parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: " + value + "\r\n\r\n"), (int) refused + " at " + at);
      }
      for (char allowed : new char[] {'\t', ' ', '!', '~', 0x80, 0xa0, 0xff}) {
        if ((allowed == '\t' || allowed == ' ') && (at == 0 || at == 19)) {
          continue; // surrounding whitespace, trimmed
        }
        String value = "v".repeat(at) + allowed + "w".repeat(19 - at);
        assertEquals(List.of("GET / HTTP/1.1 | Host: a | X-A: " + value, END),
            parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: " + value + "\r\n\r\n"), (int) allowed + " at " + at);
      }
      String withCr = "v".repeat(at) + '\r' + "w".repeat(19 - at);
      assertEquals(List.of("refused 400 CR without LF"),
          parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: " + withCr + "\r\n\r\n"), "CR at " + at);
    }
  }

  @Test
  void bodyBytesBeforeAChunkedRefusalAreHandedOut() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:hello",
            "refused 400 missing CRLF after chunk data"),
        parse(chunked("5\r\nhelloXX")));
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:" + "b".repeat(50),
            "refused 413 body too large"),
        parse(chunked("32\r\n" + "b".repeat(50) + "\r\n33\r\n")));
  }

  // --- refusing before a line is complete -------------------------------------------------

  @Test
  void overlongTargetIsRefusedBeforeTheLineEnds() {
    assertEquals(List.of(), parse("GET /" + "t".repeat(31)), "still within the limit");
    assertEquals(List.of("refused 414 request target too long"), parse("GET /" + "t".repeat(32)));
  }

  @Test
  void overlongMethodIsRefusedBeforeTheLineEnds() {
    assertEquals(List.of(), parse("M".repeat(32)));
    assertEquals(List.of("refused 400 method too long"), parse("M".repeat(33)));
    assertEquals(List.of("refused 400 method too long"), parse("M".repeat(33) + " / HTTP/1.1\r\nHost: a\r\n\r\n"));
  }

  @Test
  void overlongVersionIsRefusedBeforeTheLineEnds() {
    assertEquals(List.of(), parse("GET / HTTP/1.1\r"));
    assertEquals(List.of("refused 400 malformed HTTP version"), parse("GET / " + "H".repeat(40)));
  }

  @Test
  void overlongFieldLineIsRefusedBeforeItEnds() {
    String head = "GET / HTTP/1.1\r\nHost: a\r\nX-A: ";
    int bound = 20 + 32 + 256;
    assertEquals(List.of(), parse(head + " ".repeat(bound - 5)), "whitespace fits in the slack");
    assertEquals(List.of("refused 431 header field too long"), parse(head + "v".repeat(bound)));
  }

  @Test
  void overlongChunkLineIsRefusedBeforeItEnds() {
    assertEquals(List.of("POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "refused 400 chunk extensions too long"),
        parse(chunked("5;a=" + "b".repeat(5000))));
  }

  // --- feeding ----------------------------------------------------------------------------

  private List<String> parse(String input) {
    return parse(LIMITS, input);
  }

  /**
   * Feeds the pieces one after another into one buffer, as a decoder's cumulation would,
   * describing (and releasing) every event; the parser must then need more bytes.
   */
  private List<String> parse(Limits limits, String... pieces) {
    RequestParser parser = new RequestParser(limits);
    ByteBuf buffered = alloc.directBuffer(16);
    List<String> events = new ArrayList<>();
    try {
      for (String piece : pieces) {
        buffered.writeBytes(piece.getBytes(ISO_8859_1));
        for (Object event; (event = parser.next(buffered)) != null; ) {
          events.add(Events.describe(event));
        }
      }
      assertNull(parser.next(buffered));
    } finally {
      buffered.release();
    }
    return events;
  }

  private static String[] bytewise(String input) {
    return input.split("");
  }
}
