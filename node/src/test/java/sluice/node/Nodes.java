package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.SluiceSettings;

/** Starting nodes for tests, and waiting on their status. */
final class Nodes {
  private static final HttpClient ADMIN_HTTP = HttpClient.newHttpClient();

  private Nodes() {}

  /**
   * Starts a node and waits until it is ready to serve: every back-end has its limit from
   * its entity and its pre-opened connection. Tests with short queue timeouts would
   * otherwise see their first request expire while a loaded machine is still starting up.
   */
  static SluiceNode start(SluiceSettings settings) {
    SluiceNode node = SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"));
    try {
      awaitReady(node, settings);
    } catch (AssertionError e) {
      node.close();
      throw e;
    }
    return node;
  }

  /**
   * Starts a node from a configuration file as {@code --config} does (with the tests' Pekko
   * settings over it), able to reload it, and waits until it is ready to serve.
   */
  static SluiceNode startFrom(Path file) {
    Supplier<Config> source = () -> ConfigFactory.parseResources("application-test.conf")
        .withFallback(SettingsReader.loadConfig(Optional.of(file)));
    Config config = source.get();
    SluiceSettings settings = SettingsReader.read(config);
    SluiceNode node = SluiceNode.start(settings, config, source);
    try {
      awaitReady(node, settings);
    } catch (AssertionError e) {
      node.close();
      throw e;
    }
    return node;
  }

  /** Waits up to 30 s until {@code condition} holds, else fails naming {@code what}. */
  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("never: " + what);
      }
      Thread.sleep(5);
    }
  }

  /** GET on the node's admin listener; the body, which must come with a 200. */
  static String adminGet(SluiceNode node, String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + node.adminAddress().getPort() + path);
    HttpResponse<String> r = ADMIN_HTTP.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body();
  }

  /** Waits until every back-end of {@code settings} has its limit, its slots and its pre-opened connection. */
  static void awaitReady(SluiceNode node, SluiceSettings settings) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!ready(node, settings)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("node not ready in 30 s: " + statuses(node));
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  private static boolean ready(SluiceNode node, SluiceSettings settings) {
    for (PoolStatus pool : statuses(node)) {
      int preOpen = settings.pools().get(pool.pool()).connections().preOpen();
      for (PoolStatus.BackendStatus b : pool.backends()) {
        if (b.limit() == 0 || b.connections() < Math.min(preOpen, b.granted()) || b.granted() == 0) {
          return false;
        }
      }
    }
    return true;
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
