package sluice.node.settings;

import java.util.Optional;

/**
 * Sends requests to a pool by Host (exact, case-insensitive, port ignored) and/or path prefix.
 *
 * @param host        empty matches any host
 * @param pathPrefix  "/" matches every path
 * @param pool        the pool's name
 */
public record RouteSettings(Optional<String> host, String pathPrefix, String pool) {

  public boolean matches(String requestHost, String path) {
    return host.map(h -> h.equalsIgnoreCase(requestHost)).orElse(true) && path.startsWith(pathPrefix);
  }
}
