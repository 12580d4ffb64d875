package sluice.node.loop;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.concurrent.atomic.LongAdder;

/**
 * How many of a listener's client connections are open now, for {@code /metrics}: a listener
 * tracks each connection it keeps (not one it refuses at accept) and the count falls when that
 * connection closes. Tracked on the connections' event loops, read from any thread.
 */
public final class OpenConnections {
  private final LongAdder open = new LongAdder();
  private final ChannelFutureListener closed = future -> open.decrement();

  /** Counts {@code ch} until it closes. */
  public void track(Channel ch) {
    open.increment();
    ch.closeFuture().addListener(closed);
  }

  public long count() {
    return open.sum();
  }
}
