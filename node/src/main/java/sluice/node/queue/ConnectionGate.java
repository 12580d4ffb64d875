package sluice.node.queue;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Tells the listener whether to refuse new client connections: it does while any pool's
 * queue is above that pool's refuse threshold. Pools set their own flag; the listener
 * reads, and counts each connection it refused against every queue above its threshold
 * then (for /metrics). Thread-safe.
 */
public final class ConnectionGate {
  private final Set<String> poolsOverThreshold = ConcurrentHashMap.newKeySet();
  private final Map<String, LongAdder> refused = new ConcurrentHashMap<>();

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

  /** The listener refused a connection because {@link #refusing()}. */
  public void countRefused() {
    for (String key : poolsOverThreshold) {
      refused.computeIfAbsent(key, k -> new LongAdder()).increment();
    }
  }

  /** Connections refused while the queue named {@code key} was above its threshold. */
  public long refused(String key) {
    LongAdder count = refused.get(key);
    return count == null ? 0 : count.sum();
  }
}
