package sluice.node.http;

import io.netty.util.AsciiString;

/**
 * Names of the fields Sluice writes itself, in their usual spelling (field names are
 * case-insensitive, RFC 9110 5.1, but people read them); lookups may use Netty's lower-case
 * constants.
 */
final class Fields {
  private Fields() {}

  static final AsciiString VIA = AsciiString.cached("Via");
  static final AsciiString HOST = AsciiString.cached("Host");
  static final AsciiString X_FORWARDED_FOR = AsciiString.cached("X-Forwarded-For");
  static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("X-Forwarded-Proto");
  static final AsciiString X_FORWARDED_HOST = AsciiString.cached("X-Forwarded-Host");
  static final AsciiString TRANSFER_ENCODING = AsciiString.cached("Transfer-Encoding");
  static final AsciiString CONTENT_LENGTH = AsciiString.cached("Content-Length");
  static final AsciiString CONTENT_TYPE = AsciiString.cached("Content-Type");
  static final AsciiString RETRY_AFTER = AsciiString.cached("Retry-After");
  static final AsciiString CONNECTION = AsciiString.cached("Connection");
}
