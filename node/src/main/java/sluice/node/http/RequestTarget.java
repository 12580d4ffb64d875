package sluice.node.http;

import java.util.Locale;

/** The parts of a request target and a Host field that routing looks at. */
final class RequestTarget {
  private RequestTarget() {}

  /**
   * The path of a request target (origin-form or absolute-form), without the query;
   * "*" stays "*".
   */
  static String path(String target) {
    int start = 0;
    if (!target.isEmpty() && target.charAt(0) != '/' && target.charAt(0) != '*') {
      int scheme = target.indexOf("://");
      int slash = scheme < 0 ? -1 : target.indexOf('/', scheme + 3);
      int query = target.indexOf('?', scheme < 0 ? 0 : scheme + 3);
      if (slash < 0 || (query >= 0 && query < slash)) {
        return "/";
      }
      start = slash;
    }
    int query = target.indexOf('?', start);
    return query < 0 ? (start == 0 ? target : target.substring(start)) : target.substring(start, query);
  }

  /** The host of a Host field value, without the port, in lower case; "" when absent. */
  static String hostOnly(String host) {
    if (host == null || host.isEmpty()) {
      return "";
    }
    int end;
    if (host.charAt(0) == '[') {
      int close = host.indexOf(']');
      end = close < 0 ? host.length() : close + 1;
    } else {
      int colon = host.indexOf(':');
      end = colon < 0 ? host.length() : colon;
    }
    String name = host.substring(0, end);
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        return name.toLowerCase(Locale.ROOT);
      }
    }
    return name;
  }
}
