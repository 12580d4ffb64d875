package sluice.node.queue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tells the listener whether to refuse new client connections: it does while any pool's
 * queue is above that pool's refuse threshold. Pools set their own flag; the listener
 * reads. Thread-safe.
 */
public final class ConnectionGate {
  private final Set<String> poolsOverThreshold = ConcurrentHashMap.newKeySet();

  public void setOverThreshold(String pool, boolean over) {
    if (over) {
      poolsOverThreshold.add(pool);
    } else {
      poolsOverThreshold.remove(pool);
    }
  }

  public boolean refusing() {
    return !poolsOverThreshold.isEmpty();
  }
}
