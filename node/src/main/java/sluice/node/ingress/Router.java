package sluice.node.ingress;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import sluice.node.pool.PoolQueue;
import sluice.node.settings.RouteSettings;

/** Picks a request's pool: the first route that matches, else the default pool, else none. */
final class Router {
  private final List<RouteSettings> routes;
  private final Map<String, ActorRef<PoolQueue.Command>> pools;
  private final Optional<String> defaultPool;

  Router(List<RouteSettings> routes, Map<String, ActorRef<PoolQueue.Command>> pools, Optional<String> defaultPool) {
    this.routes = routes;
    this.pools = pools;
    this.defaultPool = defaultPool;
  }

  /**
   * @param host the Host header's host part (no port), empty if none
   * @return the pool's queue, or null when nothing matches
   */
  ActorRef<PoolQueue.Command> route(String host, String path) {
    for (RouteSettings route : routes) {
      if (route.matches(host, path)) {
        return pools.get(route.pool());
      }
    }
    return defaultPool.map(pools::get).orElse(null);
  }
}
