package sluice.node.http;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;

/**
 * Netty's response decoder, told whether the request on the connection was a HEAD (whose
 * response has no body, whatever its framing fields say). A back-end connection carries one
 * request at a time, so one flag is enough.
 */
final class ResponseDecoder extends HttpResponseDecoder {
  private boolean headRequest;

  ResponseDecoder(HttpDecoderConfig config) {
    super(config);
  }

  void expect(boolean headRequest) {
    this.headRequest = headRequest;
  }

  @Override
  protected boolean isContentAlwaysEmpty(HttpMessage message) {
    if (headRequest && ((HttpResponse) message).status().codeClass() != HttpStatusClass.INFORMATIONAL) {
      return true;
    }
    return super.isContentAlwaysEmpty(message);
  }
}
