package sluice.node.settings;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A "host:port" address as written in the configuration; an IPv6 address is written in
 * brackets, "[::1]:9001".
 *
 * @param host  host name or address, lower-cased, without brackets
 * @param port  TCP port
 * @param id    "host:port" as written, host lower-cased (brackets kept for IPv6)
 */
record HostPort(String host, int port, String id) {

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.?");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._-]+)?");
  private static final Pattern BRACKETED = Pattern.compile("\\[([^\\]]*)]:([0-9]{1,5})");
  private static final Pattern PLAIN = Pattern.compile("([^:\\[\\]]*):([0-9]{1,5})");

  /** What {@link #parse} accepts, as said in a problem message. */
  static String expected(int minPort) {
    return "must be \"host:port\" with port " + minPort + "-65535 (IPv6 as \"[address]:port\")";
  }

  /** Parses an address; throws IllegalArgumentException with {@link #expected} if it is not one. */
  static HostPort parse(String text, int minPort) {
    Matcher bracketed = BRACKETED.matcher(text);
    Matcher plain = PLAIN.matcher(text);
    String host;
    String portText;
    boolean ipv6;
    if (bracketed.matches() && IPV6.matcher(bracketed.group(1)).matches()) {
      host = bracketed.group(1);
      portText = bracketed.group(2);
      ipv6 = true;
    } else if (plain.matches() && NAME.matcher(plain.group(1)).matches()) {
      host = plain.group(1);
      portText = plain.group(2);
      ipv6 = false;
    } else {
      throw new IllegalArgumentException(expected(minPort));
    }
    int port = Integer.parseInt(portText);
    if (port < minPort || port > 65535) {
      throw new IllegalArgumentException(expected(minPort));
    }
    host = host.toLowerCase(Locale.ROOT);
    return new HostPort(host, port, (ipv6 ? "[" + host + "]" : host) + ":" + port);
  }

  /**
   * A host name, IPv4 address, or IPv6 address in brackets; no port. A bare IPv6 address
   * is accepted only when asked, since "abc.de:80" would read as one.
   */
  static boolean isHost(String text, boolean bareIpv6) {
    if (text.startsWith("[") && text.endsWith("]")) {
      return IPV6.matcher(text.substring(1, text.length() - 1)).matches();
    }
    return NAME.matcher(text).matches() || (bareIpv6 && IPV6.matcher(text).matches());
  }
}
