package sluice.node.http;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import sluice.node.queue.QueueActor;
import sluice.node.settings.RouteSettings;

/**
 * Picks a request's pool queue on one event loop: the first route that matches, else the
 * default pool, else none (404). Built once per loop; read only.
 */
final class Router {
  private final List<RouteSettings> routes;
  private final List<ActorRef<QueueActor.Command>> routeQueues;
  private final ActorRef<QueueActor.Command> defaultQueue;

  /**
   * @param queues this loop's queue of every pool, by pool name
   */
  Router(List<RouteSettings> routes, Map<String, ActorRef<QueueActor.Command>> queues, Optional<String> defaultPool) {
    this.routes = List.copyOf(routes);
    this.routeQueues = routes.stream().map(route -> queues.get(route.pool())).toList();
    this.defaultQueue = defaultPool.map(queues::get).orElse(null);
  }

  /**
   * @param hostField the request's Host field (may hold a port), null if none
   * @param target    the request target as written
   * @return the pool's queue, or null when nothing matches
   */
  ActorRef<QueueActor.Command> route(String hostField, String target) {
    if (routeQueues.isEmpty()) {
      return defaultQueue;
    }
    String host = RequestTarget.hostOnly(hostField);
    String path = RequestTarget.path(target);
    for (int i = 0; i < routeQueues.size(); i++) {
      if (routes.get(i).matches(host, path)) {
        return routeQueues.get(i);
      }
    }
    return defaultQueue;
  }
}
