package sluice.node.http;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import sluice.node.queue.QueueActor;
import sluice.node.settings.RouteSettings;

/**
 * Picks a request's pool queue on one event loop: the first route that matches, else the
 * default pool, else none (404). One per loop; its table is replaced whole by a reload
 * ({@link #replace}), on the loop's own thread only, so a request sees the old table or the new,
 * never a mix, with no lock and no volatile read.
 */
final class Router {
  /** A pool's name and its queue on this loop. */
  record Pool(String name, ActorRef<QueueActor.Command> queue) {}

  /** The routes with their pools on this loop, immutable. */
  private record Table(List<RouteSettings> routes, List<Pool> routeQueues, Pool defaultQueue) {}

  private Table table;

  /**
   * @param queues this loop's queue of every pool, by pool name
   */
  Router(List<RouteSettings> routes, Map<String, ActorRef<QueueActor.Command>> queues, Optional<String> defaultPool) {
    this.table = table(routes, queues, defaultPool);
  }

  /** A reload: from now on requests on this loop go by these routes. Call on the router's loop. */
  void replace(List<RouteSettings> routes, Map<String, ActorRef<QueueActor.Command>> queues,
      Optional<String> defaultPool) {
    this.table = table(routes, queues, defaultPool);
  }

  private static Table table(List<RouteSettings> routes, Map<String, ActorRef<QueueActor.Command>> queues,
      Optional<String> defaultPool) {
    return new Table(List.copyOf(routes),
        routes.stream().map(route -> pool(route.pool(), queues)).toList(),
        defaultPool.map(name -> pool(name, queues)).orElse(null));
  }

  /** Null if the pool has no queue on this loop (as a missing route). */
  private static Pool pool(String name, Map<String, ActorRef<QueueActor.Command>> queues) {
    ActorRef<QueueActor.Command> queue = queues.get(name);
    return queue == null ? null : new Pool(name, queue);
  }

  /**
   * @param hostField the request's Host field (may hold a port), null if none
   * @param target    the request target as written
   * @return the pool (with its queue), or null when nothing matches
   */
  Pool route(String hostField, String target) {
    Table t = table;
    if (t.routeQueues.isEmpty()) {
      return t.defaultQueue;
    }
    String host = RequestTarget.hostOnly(hostField);
    String path = RequestTarget.path(target);
    for (int i = 0; i < t.routeQueues.size(); i++) {
      if (t.routes.get(i).matches(host, path)) {
        return t.routeQueues.get(i);
      }
    }
    return t.defaultQueue;
  }
}
