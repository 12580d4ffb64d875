package sluice.node.tcp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.loop.EventLoops;
import sluice.node.loop.OpenConnections;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.TcpSettings;

/**
 * One TCP (L4) listener: accepts client connections on the data plane's event loops (half-closure
 * allowed; a queued client is read ahead only up to {@link TcpRelay#READ_AHEAD_BYTES}) and gives each a {@link TcpRelay},
 * which joins its pool's queue on its own loop. While the pool's queue is above its
 * {@code refuse-connections-above} ({@code gate}), a new connection is reset at once and
 * counted against that pool ({@code sluice_pool_refused_connections_total}).
 */
public final class TcpListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TcpListener.class);

  private final Channel serverChannel;
  private final TcpSettings settings;
  private final OpenConnections openConnections;

  private TcpListener(Channel serverChannel, TcpSettings settings, OpenConnections openConnections) {
    this.serverChannel = serverChannel;
    this.settings = settings;
    this.openConnections = openConnections;
  }

  /**
   * Binds the listener.
   *
   * @param queuePerLoop the pool's queue actor on each loop, in loop order
   * @param gate         says while the pool's queue (on any loop) is above its refuse threshold
   */
  public static TcpListener bind(EventLoops loops, TcpSettings settings, List<ActorRef<QueueActor.Command>> queuePerLoop,
      ConnectionGate gate) throws InterruptedException {
    Map<EventLoop, ActorRef<QueueActor.Command>> queues = new IdentityHashMap<>();
    for (int i = 0; i < loops.size(); i++) {
      queues.put(loops.loop(i), queuePerLoop.get(i));
    }
    String id = settings.id();
    OpenConnections open = new OpenConnections();
    InetSocketAddress bind = new InetSocketAddress(settings.host(), settings.port());
    ServerBootstrap bootstrap = loops.serverChannelFor(EventLoops.noDelay(new ServerBootstrap()), bind)
        .group(loops.group())
        .option(ChannelOption.SO_BACKLOG, 4096)
        .option(ChannelOption.SO_REUSEADDR, true)
        // read ahead while queued, up to TcpRelay.READ_AHEAD_BYTES
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childHandler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            if (gate.refusing()) {
              log.debug("tcp {}: resetting connection from {}: pool {}'s queue is above its threshold", id,
                  ch.remoteAddress(), settings.pool());
              gate.countRefused();
              TcpRelay.reset(ch);
              return;
            }
            open.track(ch);
            ch.pipeline().addLast(new TcpRelay(queues.get(ch.eventLoop()), id));
          }
        });
    Channel channel = bootstrap.bind(bind).sync().channel();
    return new TcpListener(channel, settings, open);
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) serverChannel.localAddress();
  }

  /** Client connections open now, queued or relayed (a connection reset at accept is not counted). */
  public long openConnections() {
    return openConnections.count();
  }

  public TcpSettings settings() {
    return settings;
  }

  /** Stops accepting; relayed connections go on until their pool's actors stop. */
  @Override
  public void close() {
    serverChannel.close().awaitUninterruptibly();
  }
}
