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
  private final ActorRef<QueueActor.Command>[] routeQueues;
  private final ActorRef<QueueActor.Command> defaultQueue;

  /**
   * @param queues this loop's queue of every pool, by pool name
   */
  @SuppressWarnings("unchecked")
  Router(List<RouteSettings> routes, Map<String, ActorRef<QueueActor.Command>> queues, Optional<String> defaultPool) {
    this.routes = List.copyOf(routes);
    this.routeQueues = new ActorRef[routes.size()];
    for (int i = 0; i < routes.size(); i++) {
      routeQueues[i] = queues.get(routes.get(i).pool());
    }
    this.defaultQueue = defaultPool.map(queues::get).orElse(null);
  }

  /**
   * @param hostField the request's Host field (may hold a port), null if none
   * @param target    the request target as written
   * @return the pool's queue, or null when nothing matches
   */
  ActorRef<QueueActor.Command> route(String hostField, String target) {
    if (routeQueues.length == 0) {
      return defaultQueue;
    }
    String host = RequestTarget.hostOnly(hostField);
    String path = RequestTarget.path(target);
    for (int i = 0; i < routeQueues.length; i++) {
      if (routes.get(i).matches(host, path)) {
        return routeQueues[i];
      }
    }
    return defaultQueue;
  }
}
