package sluice.node.settings;

import java.util.Optional;

/**
 * The optional access log ({@code sluice.access-log}): one line per finished HTTP exchange.
 *
 * @param enabled      off by default; off, the request path does no access-log work
 * @param file         the file lines are appended to; empty: the logger {@code sluice.access}
 *                     (standard output through logback unless logback is configured otherwise)
 * @param format       text (like HAProxy's httplog) or json (one object per line)
 * @param pendingLines how many lines may wait for the writer thread; beyond, lines are
 *                     dropped and counted, never waited for
 */
public record AccessLogSettings(boolean enabled, Optional<String> file, LogFormat format, int pendingLines) {

  /** Off: what a node runs with unless its configuration turns it on. */
  public static final AccessLogSettings OFF = new AccessLogSettings(false, Optional.empty(), LogFormat.TEXT, 16384);
}
