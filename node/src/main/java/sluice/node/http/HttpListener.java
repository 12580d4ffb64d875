package sluice.node.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.loop.EventLoops;
import sluice.node.loop.SweepPeriod;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.RouteSettings;

/**
 * The client-facing HTTP listener: accepts connections on the data plane's event loops
 * (or closes them at once while the {@link ConnectionGate} says a queue is too long) and
 * gives each a pipeline of a {@link RequestDecoder} and a {@link ClientConnection} that sends its requests to the pools' queues of its own loop.
 */
public final class HttpListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpListener.class);

  private final Channel serverChannel;
  private final List<ClientTimeouts> timeouts;
  private final List<EventLoop> loops;
  private final LongAdder openConnections;

  private HttpListener(Channel serverChannel, List<ClientTimeouts> timeouts, List<EventLoop> loops,
      LongAdder openConnections) {
    this.serverChannel = serverChannel;
    this.timeouts = timeouts;
    this.loops = loops;
    this.openConnections = openConnections;
  }

  /**
   * Binds the listener.
   *
   * @param queuesPerLoop for each loop, every pool's queue actor on that loop, by pool name
   * @param exchangeGuard the longest any exchange may wait for the start of its response
   * @param retryAfter    the Retry-After of 503 answers
   */
  public static HttpListener bind(EventLoops loops, HttpSettings http, List<RouteSettings> routes,
      Optional<String> defaultPool, List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop,
      ConnectionGate gate, Duration exchangeGuard, Duration retryAfter) throws InterruptedException {
    RequestParser.Limits limits = new RequestParser.Limits(http.maxUriLength(), http.maxHeaderNameLength(),
        http.maxHeaderValueLength(), http.maxHeaderCount(), http.maxBodySize());
    String retryAfterSeconds = Long.toString(Math.max(1, (retryAfter.toMillis() + 999) / 1000));
    Duration sweepEvery = SweepPeriod.of(min(min(http.headDeadline(), http.bodyDeadline()), http.idleTimeout()), 10,
        Duration.ofMillis(10), Duration.ofMillis(250));
    Map<EventLoop, Router> routers = new IdentityHashMap<>();
    Map<EventLoop, ClientTimeouts> timeoutsByLoop = new IdentityHashMap<>();
    Map<EventLoop, ResponseBuffers> buffersByLoop = new IdentityHashMap<>();
    long responseShare = http.responseBufferTotal() / loops.size(); // each loop its own counter: no atomics
    List<ClientTimeouts> allTimeouts = new java.util.ArrayList<>();
    List<EventLoop> allLoops = new java.util.ArrayList<>();
    LongAdder open = new LongAdder();
    ChannelFutureListener closed = future -> open.decrement();
    for (int i = 0; i < loops.size(); i++) {
      EventLoop loop = loops.loop(i);
      allLoops.add(loop);
      routers.put(loop, new Router(routes, queuesPerLoop.get(i), defaultPool));
      ClientTimeouts t = new ClientTimeouts(http.idleTimeout(), http.headDeadline(), http.bodyDeadline(),
          exchangeGuard);
      buffersByLoop.put(loop, new ResponseBuffers(responseShare));
      t.start(loop, sweepEvery);
      timeoutsByLoop.put(loop, t);
      allTimeouts.add(t);
    }
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(loops.group())
        .channel(loops.serverChannelType())
        .option(ChannelOption.SO_BACKLOG, 4096)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            if (gate.refusing()) {
              log.debug("refusing connection from {}: a queue is above its threshold", ch.remoteAddress());
              gate.countRefused();
              ch.close();
              return;
            }
            open.increment();
            ch.closeFuture().addListener(closed);
            EventLoop loop = ch.eventLoop();
            ch.pipeline().addLast(new RequestDecoder(limits),
                new ClientConnection(routers.get(loop), timeoutsByLoop.get(loop), buffersByLoop.get(loop),
                    http.bufferRequestsUpTo(), retryAfterSeconds));
          }
        });
    Channel channel = bootstrap.bind(new InetSocketAddress(http.host(), http.port())).sync().channel();
    return new HttpListener(channel, List.copyOf(allTimeouts), List.copyOf(allLoops), open);
  }

  /** Client connections open now (for /metrics). */
  public long openConnections() {
    return openConnections.sum();
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) serverChannel.localAddress();
  }

  /**
   * The node stops: no new connections; connections between requests close now, the others
   * after their current response (with Connection: close).
   */
  public void drain() {
    serverChannel.close().awaitUninterruptibly();
    for (int i = 0; i < loops.size(); i++) {
      ClientTimeouts t = timeouts.get(i);
      loops.get(i).execute(t::drain);
    }
  }

  /** Stops accepting; open connections stay until the node stops their loops. */
  @Override
  public void close() {
    serverChannel.close().awaitUninterruptibly();
    timeouts.forEach(ClientTimeouts::stop);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

}
