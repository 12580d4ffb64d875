package sluice.node;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.actor.CoordinatedShutdown;
import sun.misc.Signal;
import sluice.node.settings.SettingsException;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.SluiceSettings;

/**
 * Starts a Sluice node.
 *
 * <pre>
 *   java -jar sluice.jar --config sluice.conf   # HOCON; -Dsluice.x=y overrides a key
 *   java -jar sluice.jar --demo                 # one node in front of a demo back-end it starts
 * </pre>
 *
 * Exit codes: 0 after a normal stop, 2 for a bad command line, 78 for a bad configuration,
 * 1 when the node could not start (a port in use, say), 3 when the cluster downed the node.
 *
 * <p>SIGHUP reloads the configuration (see {@link SluiceNode#reload}); SIGTERM stops the node
 * gracefully (Pekko's coordinated shutdown runs from its JVM shutdown hook).
 */
public final class Main {
  private Main() {}

  static final String USAGE = """
      usage: java -jar sluice.jar --config FILE      run with a HOCON configuration file
             java -jar sluice.jar --demo [--config FILE]
                                                    run in front of a demo back-end that thrashes
                                                    (FILE, if given, overrides the demo's settings)
      Any key can be overridden with -Dsluice.<key>=<value>, e.g. -Dsluice.http.listen=127.0.0.1:9090
      """;

  public static void main(String[] args) {
    // Netty's leak detector samples buffers with a stack trace each: a cost on every request.
    // The tests run it at paranoid; a node runs without it unless asked (-Dio.netty.leakDetection.level).
    if (System.getProperty("io.netty.leakDetection.level") == null) {
      System.setProperty("io.netty.leakDetection.level", "disabled");
    }
    int code = run(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  static int run(String[] args) {
    Optional<Path> configFile = Optional.empty();
    boolean demo = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--config" -> {
          if (i + 1 >= args.length) {
            System.err.println("--config needs a file name\n" + USAGE);
            return 2;
          }
          configFile = Optional.of(Path.of(args[++i]));
        }
        case "--demo" -> demo = true;
        case "--help", "-h" -> {
          System.out.println(USAGE);
          return 0;
        }
        default -> {
          System.err.println("unknown argument '" + args[i] + "'\n" + USAGE);
          return 2;
        }
      }
    }
    if (!demo && configFile.isEmpty()) {
      System.err.println("say which configuration to run: --config FILE, or --demo\n" + USAGE);
      return 2;
    }
    Demo demoRun = null;
    try {
      Supplier<Config> source;
      if (demo) {
        demoRun = Demo.start();
        Config demoConfig = demoRun.config();
        Optional<Path> file = configFile;
        source = () -> SettingsReader.loadConfigOver(file, demoConfig);
      } else {
        Optional<Path> file = configFile;
        source = () -> SettingsReader.loadConfig(file);
      }
      Config config = source.get();
      SluiceSettings settings = SettingsReader.read(config);
      LogFormats.apply(settings.logFormat()); // sluice.log-format given in the file
      // a SIGTERM runs the node's graceful stop through Pekko's coordinated shutdown (its own
      // JVM hook); so does the cluster downing this node
      SluiceNode node = SluiceNode.start(settings, config, source);
      reloadOnHangup(node);
      if (demoRun != null) {
        Demo stopWithNode = demoRun;
        node.system().getWhenTerminated().thenRun(stopWithNode::close);
        demoRun.printHowToLoad(node.httpPort(), node.adminAddress().getPort());
      }
      node.system().getWhenTerminated().toCompletableFuture().join();
      Optional<CoordinatedShutdown.Reason> reason = CoordinatedShutdown.get(node.system()).getShutdownReason();
      if (reason.isPresent() && reason.get() instanceof CoordinatedShutdown.ClusterDowningReason$) {
        System.err.println("sluice: this node was downed by the cluster (it was unreachable, or on the losing side "
            + "of a partition) and has stopped; start it again to rejoin");
        return 3;
      }
      return 0;
    } catch (SettingsException e) {
      System.err.println(e.getMessage());
      closeQuietly(demoRun);
      return 78;
    } catch (RuntimeException e) {
      System.err.println("sluice could not start: " + e.getMessage());
      closeQuietly(demoRun);
      return 1;
    }
  }

  /**
   * SIGHUP reloads the configuration (the JVM would otherwise stop on it). The handler only
   * starts the reload, which runs on the node's reload thread and logs what it did.
   */
  static void reloadOnHangup(SluiceNode node) {
    try {
      Signal.handle(new Signal("HUP"), signal -> node.reload("SIGHUP"));
    } catch (IllegalArgumentException e) {
      // no SIGHUP here (-Xrs, or a platform without it): POST /reload still works
      System.err.println("sluice: SIGHUP cannot be caught here (" + e.getMessage() + "); reload with POST /reload");
    }
  }

  private static void closeQuietly(Demo demo) {
    if (demo != null) {
      demo.close();
    }
  }
}
