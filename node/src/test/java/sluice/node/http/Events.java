package sluice.node.http;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Decoder and parser events as short strings for assertions; contents are released on the way. */
final class Events {
  private Events() {}

  static final String HEAD_STARTED = "head started";
  static final String END = "end";

  /**
   * {@code "GET / HTTP/1.1 | Host: a"}, {@code "data:bytes"}, {@code "end:bytes"},
   * {@code "end"} (the shared empty LastHttpContent), {@code "refused 400 reason"},
   * {@code "head started"}. Releases what it describes.
   */
  static String describe(Object event) {
    if (event instanceof HttpRequest request) {
      StringBuilder text = new StringBuilder()
          .append(request.method()).append(' ').append(request.uri()).append(' ').append(request.protocolVersion());
      Iterator<Map.Entry<CharSequence, CharSequence>> fields = request.headers().iteratorCharSequence();
      while (fields.hasNext()) {
        Map.Entry<CharSequence, CharSequence> field = fields.next();
        text.append(" | ").append(field.getKey()).append(": ").append(field.getValue());
      }
      return text.toString();
    }
    if (event == LastHttpContent.EMPTY_LAST_CONTENT) {
      return END;
    }
    if (event instanceof LastHttpContent last) {
      try {
        String trailers = last.trailingHeaders().isEmpty() ? "" : " trailers " + last.trailingHeaders();
        return "end:" + last.content().toString(ISO_8859_1) + trailers;
      } finally {
        last.release();
      }
    }
    if (event instanceof HttpContent content) {
      try {
        return "data:" + content.content().toString(ISO_8859_1);
      } finally {
        content.release();
      }
    }
    if (event instanceof RequestParser.Malformed malformed) {
      return "refused " + malformed.status().code() + " " + malformed.reason();
    }
    if (event == RequestDecoder.HeadStarted.INSTANCE) {
      return HEAD_STARTED;
    }
    throw new AssertionError("unexpected event " + event);
  }

  /** The body bytes of described events: the data of every "data:" and "end:" in order. */
  static String body(List<String> events) {
    StringBuilder body = new StringBuilder();
    for (String event : events) {
      if (event.startsWith("data:")) {
        body.append(event, 5, event.length());
      } else if (event.startsWith("end:")) {
        body.append(event, 4, event.length());
      }
    }
    return body.toString();
  }

  /** The status of the last event, which must be a refusal. */
  static int refusedStatus(List<String> events) {
    if (events.isEmpty() || !events.get(events.size() - 1).startsWith("refused ")) {
      throw new AssertionError("not refused: " + events);
    }
    String last = events.get(events.size() - 1);
    return Integer.parseInt(last.substring(8, 11));
  }
}
