package sluice.node.http;

import io.netty.buffer.ByteBuf;
import io.netty.util.AsciiString;
import io.netty.util.ByteProcessor;

/**
 * The character classes and small grammars of RFC 9110, RFC 9112 and RFC 3986 that
 * {@link RequestParser} checks, on a range {@code [from, to)} of a {@link ByteBuf}'s bytes
 * (absolute indexes; reader and writer index untouched). Stateless.
 */
final class HttpSyntax {
  private HttpSyntax() {}

  static final byte SP = ' ';
  static final byte HTAB = '\t';
  static final byte CR = '\r';
  static final byte LF = '\n';

  private static final boolean[] TCHAR = new boolean[256];
  private static final boolean[] HEX = new boolean[256];
  /** unreserved / sub-delims / ":" / "@" / "/" / "?" (RFC 3986 pchar and query, without "%"). */
  private static final boolean[] URI = new boolean[256];
  /** unreserved / sub-delims (RFC 3986 reg-name, without "%"). */
  private static final boolean[] REG_NAME = new boolean[256];
  /** VCHAR / obs-text / SP / HTAB (RFC 9110 5.5 field-vchar plus the whitespace between). */
  private static final boolean[] FIELD_VALUE = new boolean[256];

  static {
    for (int c = 0; c < 256; c++) {
      boolean alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
      boolean digit = c >= '0' && c <= '9';
      boolean unreserved = alpha || digit || "-._~".indexOf(c) >= 0;
      boolean subDelim = "!$&'()*+,;=".indexOf(c) >= 0;
      TCHAR[c] = alpha || digit || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      HEX[c] = digit || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
      REG_NAME[c] = unreserved || subDelim;
      URI[c] = unreserved || subDelim || ":@/?".indexOf(c) >= 0;
      FIELD_VALUE[c] = (c >= 0x20 && c != 0x7f) || c == '\t';
    }
  }

  /** Stops at the first byte that is not a tchar. */
  static final ByteProcessor FIND_NON_TCHAR = b -> TCHAR[b & 0xff];
  /** Stops at the first byte a field value must not hold: NUL, CR, LF, other controls, DEL. */
  static final ByteProcessor FIND_NON_FIELD_VALUE = b -> FIELD_VALUE[b & 0xff];
  private static final ByteProcessor FIND_NON_URI = b -> URI[b & 0xff];
  private static final ByteProcessor FIND_NON_REG_NAME = b -> REG_NAME[b & 0xff];
  private static final ByteProcessor FIND_NON_HEX = b -> HEX[b & 0xff];
  private static final ByteProcessor FIND_PATH_OR_QUERY = b -> b != '/' && b != '?';

  static boolean isWhitespace(byte b) {
    return b == SP || b == HTAB;
  }

  static boolean isHex(byte b) {
    return HEX[b & 0xff];
  }

  /** The index of the first byte in [from, to) that is not a tchar, or {@code to}. */
  static int tokenEnd(ByteBuf buf, int from, int to) {
    return end(buf.forEachByte(from, to - from, FIND_NON_TCHAR), to);
  }

  /** The index of the first byte in [from, to) that is not a hex digit, or {@code to}. */
  static int hexEnd(ByteBuf buf, int from, int to) {
    return end(buf.forEachByte(from, to - from, FIND_NON_HEX), to);
  }

  /** The index of the first byte in [from, to) that is not SP or HTAB, or {@code to}. */
  static int skipWhitespace(ByteBuf buf, int from, int to) {
    return end(buf.forEachByte(from, to - from, ByteProcessor.FIND_NON_LINEAR_WHITESPACE), to);
  }

  /** {@code to} moved back over trailing SP and HTAB, not below {@code from}. */
  static int trimWhitespace(ByteBuf buf, int from, int to) {
    int last = buf.forEachByteDesc(from, to - from, ByteProcessor.FIND_NON_LINEAR_WHITESPACE);
    return last < 0 ? from : last + 1;
  }

  private static int end(int found, int to) {
    return found < 0 ? to : found;
  }

  /** Whether the bytes are {@code lowerCase} in any letter case (ASCII). */
  static boolean equalsIgnoreCase(ByteBuf buf, int from, int to, AsciiString lowerCase) {
    int length = to - from;
    if (length != lowerCase.length()) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      int c = buf.getByte(from + i);
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != lowerCase.byteAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Whether the bytes are exactly {@code expected}. */
  static boolean equalsExactly(ByteBuf buf, int from, int to, AsciiString expected) {
    int length = to - from;
    if (length != expected.length()) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      if (buf.getByte(from + i) != expected.byteAt(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The index of the first byte that is not allowed in a request target's path and query,
   * or -1: allowed are unreserved, pct-encoded, sub-delims, ":", "@", "/", "?" (RFC 3986
   * 3.3, 3.4). At a "%" not followed by two hex digits, the index of that "%".
   */
  static int findInvalidPathOrQuery(ByteBuf buf, int from, int to) {
    return findInvalidPctEncodedRun(buf, from, to, FIND_NON_URI);
  }

  /** The index of the first "/" or "?" in [from, to), or {@code to}: where an authority ends. */
  static int authorityEnd(ByteBuf buf, int from, int to) {
    return end(buf.forEachByte(from, to - from, FIND_PATH_OR_QUERY), to);
  }

  /** Bytes of a class (stopped by {@code findOther}) and pct-encoded triplets: the first other byte, or -1. */
  private static int findInvalidPctEncodedRun(ByteBuf buf, int from, int to, ByteProcessor findOther) {
    int i = from;
    while (i < to) {
      int stop = buf.forEachByte(i, to - i, findOther);
      if (stop < 0) {
        return -1;
      }
      if (buf.getByte(stop) != '%' || stop + 2 >= to
          || !isHex(buf.getByte(stop + 1)) || !isHex(buf.getByte(stop + 2))) {
        return stop;
      }
      i = stop + 3;
    }
    return -1;
  }

  /**
   * Whether the bytes are {@code host [":" port]} as in Host and in an http(s) authority
   * (RFC 9110 7.2, RFC 3986 3.2.2): a non-empty reg-name (which covers IPv4 addresses) or
   * an IPv6 literal in brackets, then optionally ":" and 1 to 5 digits up to 65535. No
   * userinfo, no IPvFuture, no zone identifier.
   */
  static boolean isHostAndPort(ByteBuf buf, int from, int to) {
    if (from >= to) {
      return false;
    }
    int hostEnd;
    if (buf.getByte(from) == '[') {
      int close = buf.indexOf(from, to, (byte) ']');
      if (close < 0 || !isIpv6(buf, from + 1, close)) {
        return false;
      }
      hostEnd = close + 1;
    } else {
      hostEnd = end(buf.indexOf(from, to, (byte) ':'), to);
      if (hostEnd == from || findInvalidPctEncodedRun(buf, from, hostEnd, FIND_NON_REG_NAME) >= 0) {
        return false;
      }
    }
    if (hostEnd == to) {
      return true;
    }
    return buf.getByte(hostEnd) == ':' && isPort(buf, hostEnd + 1, to);
  }

  private static boolean isPort(ByteBuf buf, int from, int to) {
    if (from >= to || to - from > 5) {
      return false;
    }
    int port = 0;
    for (int i = from; i < to; i++) {
      byte b = buf.getByte(i);
      if (b < '0' || b > '9') {
        return false;
      }
      port = port * 10 + (b - '0');
    }
    return port <= 65535;
  }

  /** RFC 3986 IPv6address: eight h16 groups, or fewer around one "::"; may end in an IPv4 address. */
  static boolean isIpv6(ByteBuf buf, int from, int to) {
    int i = from;
    int groups = 0;
    boolean compressed = false;
    if (to - i >= 2 && buf.getByte(i) == ':' && buf.getByte(i + 1) == ':') {
      compressed = true;
      i += 2;
      if (i == to) {
        return true;
      }
    }
    while (true) {
      int groupEnd = hexEnd(buf, i, to);
      if (groupEnd < to && buf.getByte(groupEnd) == '.') {
        // ls32 as an IPv4 address: the last two groups
        return isIpv4(buf, i, to) && (compressed ? groups + 2 <= 7 : groups + 2 == 8);
      }
      int digits = groupEnd - i;
      if (digits == 0 || digits > 4 || ++groups > 8) {
        return false;
      }
      i = groupEnd;
      if (i == to) {
        break;
      }
      if (buf.getByte(i) != ':' || ++i == to) {
        return false;
      }
      if (buf.getByte(i) == ':') {
        if (compressed) {
          return false;
        }
        compressed = true;
        if (++i == to) {
          break;
        }
      }
    }
    return compressed ? groups <= 7 : groups == 8;
  }

  /** RFC 3986 IPv4address: four dec-octets without leading zeros. */
  static boolean isIpv4(ByteBuf buf, int from, int to) {
    int i = from;
    for (int octet = 0; octet < 4; octet++) {
      if (octet > 0) {
        if (i >= to || buf.getByte(i) != '.') {
          return false;
        }
        i++;
      }
      int start = i;
      int value = 0;
      while (i < to && i - start < 3 && buf.getByte(i) >= '0' && buf.getByte(i) <= '9') {
        value = value * 10 + (buf.getByte(i) - '0');
        i++;
      }
      int digits = i - start;
      if (digits == 0 || value > 255 || (digits > 1 && buf.getByte(start) == '0')) {
        return false;
      }
    }
    return i == to;
  }

  /**
   * RFC 9112 7.1.1 chunk-ext, the bytes after a chunk size:
   * {@code *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )}.
   */
  static boolean isChunkExtensions(ByteBuf buf, int from, int to) {
    int i = from;
    while (i < to) {
      i = skipWhitespace(buf, i, to);
      if (i == to || buf.getByte(i) != ';') {
        return false;
      }
      i = skipWhitespace(buf, i + 1, to);
      int nameEnd = tokenEnd(buf, i, to);
      if (nameEnd == i) {
        return false;
      }
      i = nameEnd;
      int equals = skipWhitespace(buf, i, to);
      if (equals < to && buf.getByte(equals) == '=') {
        i = skipWhitespace(buf, equals + 1, to);
        if (i < to && buf.getByte(i) == '"') {
          i = quotedStringEnd(buf, i, to);
          if (i < 0) {
            return false;
          }
        } else {
          int valueEnd = tokenEnd(buf, i, to);
          if (valueEnd == i) {
            return false;
          }
          i = valueEnd;
        }
      }
    }
    return true;
  }

  /** The index after the quoted-string that opens at {@code from}, or -1 (RFC 9110 5.6.4). */
  private static int quotedStringEnd(ByteBuf buf, int from, int to) {
    int i = from + 1;
    while (i < to) {
      byte b = buf.getByte(i);
      if (b == '"') {
        return i + 1;
      }
      if (b == '\\') {
        if (i + 1 >= to || !isQuotedPairChar(buf.getByte(i + 1))) {
          return -1;
        }
        i += 2;
      } else if (isQdtext(b)) {
        i++;
      } else {
        return -1;
      }
    }
    return -1;
  }

  private static boolean isQdtext(byte b) {
    return b == HTAB || b == SP || b == 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b < 0;
  }

  private static boolean isQuotedPairChar(byte b) {
    return b == HTAB || b == SP || (b >= 0x21 && b <= 0x7e) || b < 0;
  }
}
