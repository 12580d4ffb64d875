package sluice.node.http;

import io.netty.util.AsciiString;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The character classes and small grammars of RFC 9110, RFC 9112 and RFC 3986 that
 * {@link RequestParser} checks, on a range {@code [from, to)} of a line's bytes. Plain
 * loops over an array with table look-ups: the hot path of the parser. Stateless.
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

  static boolean isWhitespace(byte b) {
    return b == SP || b == HTAB;
  }

  static boolean isDigit(byte b) {
    return b >= '0' && b <= '9';
  }

  static boolean isHex(byte b) {
    return HEX[b & 0xff];
  }

  /** The index of the first byte in [from, to) that is not a tchar, or {@code to}. */
  static int tokenEnd(byte[] line, int from, int to) {
    return skip(line, from, to, TCHAR);
  }

  /** The index of the first byte in [from, to) that is not a hex digit, or {@code to}. */
  static int hexEnd(byte[] line, int from, int to) {
    return skip(line, from, to, HEX);
  }

  /** The index of the first byte in [from, to) that is not SP or HTAB, or {@code to}. */
  static int skipWhitespace(byte[] line, int from, int to) {
    int i = from;
    while (i < to && isWhitespace(line[i])) {
      i++;
    }
    return i;
  }

  /** {@code to} moved back over trailing SP and HTAB, not below {@code from}. */
  static int trimWhitespace(byte[] line, int from, int to) {
    int i = to;
    while (i > from && isWhitespace(line[i - 1])) {
      i--;
    }
    return i;
  }

  /** The index of the first {@code b} in [from, to), or -1. */
  static int indexOf(byte[] line, int from, int to, byte b) {
    for (int i = from; i < to; i++) {
      if (line[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /** Eight bytes of an array as one long, for the word-at-a-time scan of field values. */
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGH_BITS = 0x8080808080808080L;

  /**
   * The index of the first byte a field value must not hold (NUL, CR, LF, other controls,
   * DEL), or -1. Values are most of a head's bytes, so they are scanned eight at a time
   * while no byte is below 0x20 or DEL (the usual case; "has a byte less than n" of
   * Hacker's Delight 6-1), then one at a time.
   */
  static int findInvalidFieldValue(byte[] line, int from, int to) {
    int i = from;
    for (; i + Long.BYTES <= to; i += Long.BYTES) {
      long word = (long) LONGS.get(line, i);
      long controls = (word - 0x20 * ONES) & ~word & HIGH_BITS;
      long del = word ^ (0x7f * ONES);
      long dels = (del - ONES) & ~del & HIGH_BITS;
      if ((controls | dels) != 0) {
        break; // perhaps only an HTAB: the table decides
      }
    }
    int stop = skip(line, i, to, FIELD_VALUE);
    return stop < to ? stop : -1;
  }

  private static int skip(byte[] line, int from, int to, boolean[] allowed) {
    int i = from;
    while (i < to && allowed[line[i] & 0xff]) {
      i++;
    }
    return i;
  }

  /** Whether the bytes are {@code lowerCase} in any letter case (ASCII). */
  static boolean equalsIgnoreCase(byte[] line, int from, int to, AsciiString lowerCase) {
    if (to - from != lowerCase.length()) {
      return false;
    }
    for (int i = from; i < to; i++) {
      int c = line[i];
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != lowerCase.byteAt(i - from)) {
        return false;
      }
    }
    return true;
  }

  /** Whether the bytes are exactly {@code expected}. */
  static boolean equalsExactly(byte[] line, int from, int to, AsciiString expected) {
    if (to - from != expected.length()) {
      return false;
    }
    for (int i = from; i < to; i++) {
      if (line[i] != expected.byteAt(i - from)) {
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
  static int findInvalidPathOrQuery(byte[] line, int from, int to) {
    return findInvalidPctEncodedRun(line, from, to, URI);
  }

  /** The index of the first "/" or "?" in [from, to), or {@code to}: where an authority ends. */
  static int authorityEnd(byte[] line, int from, int to) {
    int i = from;
    while (i < to && line[i] != '/' && line[i] != '?') {
      i++;
    }
    return i;
  }

  /** Bytes of a class and pct-encoded triplets: the index of the first other byte, or -1. */
  private static int findInvalidPctEncodedRun(byte[] line, int from, int to, boolean[] allowed) {
    int i = from;
    while (true) {
      i = skip(line, i, to, allowed);
      if (i == to) {
        return -1;
      }
      if (line[i] != '%' || i + 2 >= to || !isHex(line[i + 1]) || !isHex(line[i + 2])) {
        return i;
      }
      i += 3;
    }
  }

  /**
   * Whether the bytes are {@code host [":" port]} as in Host and in an http(s) authority
   * (RFC 9110 7.2, RFC 3986 3.2.2): a non-empty reg-name (which covers IPv4 addresses) or
   * an IPv6 literal in brackets, then optionally ":" and 1 to 5 digits up to 65535. No
   * userinfo, no IPvFuture, no zone identifier.
   */
  static boolean isHostAndPort(byte[] line, int from, int to) {
    if (from >= to) {
      return false;
    }
    int hostEnd;
    if (line[from] == '[') {
      int close = indexOf(line, from, to, (byte) ']');
      if (close < 0 || !isIpv6(line, from + 1, close)) {
        return false;
      }
      hostEnd = close + 1;
    } else {
      int colon = indexOf(line, from, to, (byte) ':');
      hostEnd = colon < 0 ? to : colon;
      if (hostEnd == from || findInvalidPctEncodedRun(line, from, hostEnd, REG_NAME) >= 0) {
        return false;
      }
    }
    if (hostEnd == to) {
      return true;
    }
    return line[hostEnd] == ':' && isPort(line, hostEnd + 1, to);
  }

  private static boolean isPort(byte[] line, int from, int to) {
    if (from >= to || to - from > 5) {
      return false;
    }
    int port = 0;
    for (int i = from; i < to; i++) {
      if (!isDigit(line[i])) {
        return false;
      }
      port = port * 10 + (line[i] - '0');
    }
    return port <= 65535;
  }

  /** RFC 3986 IPv6address: eight h16 groups, or fewer around one "::"; may end in an IPv4 address. */
  static boolean isIpv6(byte[] line, int from, int to) {
    int i = from;
    int groups = 0;
    boolean compressed = false;
    if (to - i >= 2 && line[i] == ':' && line[i + 1] == ':') {
      compressed = true;
      i += 2;
      if (i == to) {
        return true;
      }
    }
    while (true) {
      int groupEnd = hexEnd(line, i, to);
      if (groupEnd < to && line[groupEnd] == '.') {
        // ls32 as an IPv4 address: the last two groups
        return isIpv4(line, i, to) && (compressed ? groups + 2 <= 7 : groups + 2 == 8);
      }
      int digits = groupEnd - i;
      if (digits == 0 || digits > 4 || ++groups > 8) {
        return false;
      }
      i = groupEnd;
      if (i == to) {
        break;
      }
      if (line[i] != ':' || ++i == to) {
        return false;
      }
      if (line[i] == ':') {
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
  static boolean isIpv4(byte[] line, int from, int to) {
    int i = from;
    for (int octet = 0; octet < 4; octet++) {
      if (octet > 0) {
        if (i >= to || line[i] != '.') {
          return false;
        }
        i++;
      }
      int start = i;
      int value = 0;
      while (i < to && i - start < 3 && isDigit(line[i])) {
        value = value * 10 + (line[i] - '0');
        i++;
      }
      int digits = i - start;
      if (digits == 0 || value > 255 || (digits > 1 && line[start] == '0')) {
        return false;
      }
    }
    return i == to;
  }

  /**
   * RFC 9112 7.1.1 chunk-ext, the bytes after a chunk size:
   * {@code *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )}.
   */
  static boolean isChunkExtensions(byte[] line, int from, int to) {
    int i = from;
    while (i < to) {
      i = skipWhitespace(line, i, to);
      if (i == to || line[i] != ';') {
        return false;
      }
      i = skipWhitespace(line, i + 1, to);
      int nameEnd = tokenEnd(line, i, to);
      if (nameEnd == i) {
        return false;
      }
      i = nameEnd;
      int equals = skipWhitespace(line, i, to);
      if (equals < to && line[equals] == '=') {
        i = skipWhitespace(line, equals + 1, to);
        if (i < to && line[i] == '"') {
          i = quotedStringEnd(line, i, to);
          if (i < 0) {
            return false;
          }
        } else {
          int valueEnd = tokenEnd(line, i, to);
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
  private static int quotedStringEnd(byte[] line, int from, int to) {
    int i = from + 1;
    while (i < to) {
      byte b = line[i];
      if (b == '"') {
        return i + 1;
      }
      if (b == '\\') {
        if (i + 1 >= to || !isQuotedPairChar(line[i + 1])) {
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
