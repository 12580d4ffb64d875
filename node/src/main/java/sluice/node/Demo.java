package sluice.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import sluice.demo.ThrashingBackend;
import sluice.demo.ThrashingParams;

/**
 * The embedded default: a demo back-end that thrashes (its service time grows with the
 * requests in flight, Universal Scalability Law), and the settings of a one-node Sluice in
 * front of it. Port 9001 for the back-end if free, else any; Sluice on 127.0.0.1:8080.
 */
final class Demo implements AutoCloseable {
  private final ThrashingBackend backend;

  private Demo(ThrashingBackend backend) {
    this.backend = backend;
  }

  static Demo start() {
    ThrashingBackend backend;
    try {
      backend = ThrashingBackend.create("127.0.0.1", 9001, ThrashingParams.defaults()).start();
    } catch (RuntimeException portTaken) {
      backend = ThrashingBackend.create("127.0.0.1", 0, ThrashingParams.defaults()).start();
    }
    System.out.printf("demo back-end on 127.0.0.1:%d: %s%n", backend.port(), backend.params());
    return new Demo(backend);
  }

  /** The demo's settings; a user's file and -D overrides go over them. */
  Config config() {
    return ConfigFactory.parseString("""
        sluice {
          http.listen = "127.0.0.1:8080"
          cluster.port = 0
          status-interval = 1s
          admin.listen = "127.0.0.1:0"
          pools.demo.backends = ["127.0.0.1:%d"]
        }
        """.formatted(backend.port()));
  }

  void printHowToLoad(int port, int adminPort) {
    System.out.printf("""
        sluice is up: http://127.0.0.1:%1$d/ -> demo back-end 127.0.0.1:%2$d
        status: curl http://127.0.0.1:%3$d/status
        load it, for example:
          ab -k -c 512 -n 200000 http://127.0.0.1:%1$d/
          wrk -t2 -c512 -d30s http://127.0.0.1:%1$d/
        and compare with the back-end alone: the same command against port %2$d
        back-end stats: curl http://127.0.0.1:%2$d/stats
        a status line per back-end follows every second; Ctrl-C stops both
        """, port, backend.port(), adminPort);
  }

  @Override
  public void close() {
    backend.close();
  }
}
