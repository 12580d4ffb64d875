package sluice.node.loop;

import com.typesafe.config.Config;
import io.netty.channel.EventLoop;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

/**
 * A Pekko executor that is one Netty event loop: a mailbox scheduled on this dispatcher
 * runs as a task of the loop, on the loop's own thread. Declared by
 * {@link EventLoops#dispatcherConfig()}; the loop's life is the node's, not Pekko's, so
 * shutting the executor down leaves the loop running.
 */
public final class EventLoopExecutor extends ExecutorServiceConfigurator {
  private final EventLoop loop;

  public EventLoopExecutor(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    this.loop = EventLoops.lookup(config.getString("sluice-event-loops"), config.getInt("sluice-event-loop-index"));
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    return () -> new OnLoop(loop);
  }

  private static final class OnLoop extends AbstractExecutorService {
    private final EventLoop loop;
    private volatile boolean shutdown;

    OnLoop(EventLoop loop) {
      this.loop = loop;
    }

    @Override
    public void execute(Runnable task) {
      loop.execute(task);
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }

    @Override
    public List<Runnable> shutdownNow() {
      shutdown = true;
      return List.of();
    }

    @Override
    public boolean isShutdown() {
      return shutdown;
    }

    @Override
    public boolean isTerminated() {
      return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return true;
    }
  }

  static ExecutorService forTest(EventLoop loop) {
    return new OnLoop(loop);
  }
}
