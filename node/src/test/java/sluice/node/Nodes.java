package sluice.node;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import sluice.node.pool.PoolStatus;
import sluice.node.settings.SluiceSettings;

/** Starting nodes for tests, and waiting on their status. */
final class Nodes {
  private Nodes() {}

  static SluiceNode start(SluiceSettings settings) {
    return SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"));
  }

  static PoolStatus status(SluiceNode node) {
    return node.status().toCompletableFuture().join().get(0);
  }

  static List<PoolStatus> statuses(SluiceNode node) {
    return node.status().toCompletableFuture().join();
  }

  /** Polls the first pool's status until it satisfies {@code condition}; fails after {@code timeout}. */
  static PoolStatus awaitStatus(SluiceNode node, Duration timeout, Predicate<PoolStatus> condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    PoolStatus last = status(node);
    while (!condition.test(last)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("status never reached the expected state; last: " + last);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      last = status(node);
    }
    return last;
  }
}
