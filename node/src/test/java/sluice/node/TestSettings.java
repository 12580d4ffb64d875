package sluice.node;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sluice.node.settings.AdminSettings;
import sluice.node.settings.BackendSettings;
import sluice.node.settings.Balance;
import sluice.node.settings.ClusterSettings;
import sluice.node.settings.ConnectionSettings;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.PoolSettings;
import sluice.node.settings.QueueSettings;
import sluice.node.settings.RouteSettings;
import sluice.node.settings.SluiceSettings;
import sluice.protocol.LimitSpec;

/** Settings for tests: one node on free ports, pools built by hand. */
final class TestSettings {
  private TestSettings() {}

  static HttpSettings http() {
    return new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(30), Duration.ofSeconds(5), 8192, 256, 8192, 100,
        1L << 40);
  }

  static QueueSettings queue(int max, Duration timeout, int refuseAbove) {
    return new QueueSettings(max, timeout, refuseAbove, Duration.ofSeconds(1));
  }

  static ConnectionSettings connections() {
    return new ConnectionSettings(1, Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofSeconds(10),
        Duration.ofMillis(100), Duration.ofSeconds(1), 64 * 1024);
  }

  static BackendSettings backend(int port, int limit) {
    return new BackendSettings("127.0.0.1:" + port, "127.0.0.1", port, LimitSpec.fixed(limit));
  }

  static PoolSettings pool(String name, List<BackendSettings> backends, QueueSettings queue,
      ConnectionSettings connections) {
    return new PoolSettings(name, backends, Balance.ROUND_ROBIN, queue, connections, Optional.empty());
  }

  /** One pool "web" with one back-end at 127.0.0.1:port and a fixed limit. */
  static SluiceSettings onePool(int port, int limit, QueueSettings queue, ConnectionSettings connections) {
    return node(pool("web", List.of(backend(port, limit)), queue, connections));
  }

  static SluiceSettings node(PoolSettings... pools) {
    Map<String, PoolSettings> byName = new LinkedHashMap<>();
    for (PoolSettings p : pools) {
      byName.put(p.name(), p);
    }
    List<RouteSettings> routes = new ArrayList<>();
    return new SluiceSettings(http(), ClusterSettings.single("127.0.0.1", 0), byName, routes,
        Optional.of(pools[0].name()), Duration.ofMillis(100), Duration.ofMillis(500), Duration.ZERO, 1, admin(),
        Duration.ofSeconds(2));
  }

  /** The operator's listener on a free loopback port. */
  static AdminSettings admin() {
    return new AdminSettings("127.0.0.1", 0, Optional.empty());
  }

  /** The same settings with {@code loops} data-plane event loops. */
  static SluiceSettings withEventLoops(SluiceSettings s, int loops) {
    return new SluiceSettings(s.http(), s.cluster(), s.pools(), s.routes(), s.defaultPool(), s.reportInterval(),
        s.controllerWindow(), s.statusInterval(), loops, s.admin(), s.drainTimeout());
  }
}
