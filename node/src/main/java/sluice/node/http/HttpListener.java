package sluice.node.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.loop.EventLoops;
import sluice.node.loop.OpenConnections;
import sluice.node.loop.SweepPeriod;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.RouteSettings;

/**
 * The client-facing HTTP listener: accepts connections on the data plane's event loops
 * (or closes them at once while the {@link ConnectionGate} says a queue is too long) and
 * gives each a pipeline of a {@link RequestDecoder} and a {@link ClientConnection} that sends its requests to the pools' queues of its own loop.
 *
 * <p>A reload ({@link #reconfigure}) replaces each loop's routes and client timeouts on that
 * loop's thread, between two events, so no request sees half of a change; the request limits,
 * body buffering and Retry-After apply to connections accepted from then on (read once per
 * connection, from {@link #setup}).
 */
public final class HttpListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpListener.class);

  /** What each new client connection starts with; replaced whole by a reload. */
  private record Setup(RequestParser.Limits limits, int bufferRequestsUpTo, String retryAfterSeconds) {
    static Setup of(HttpSettings http, Duration retryAfter) {
      return new Setup(new RequestParser.Limits(http.maxUriLength(), http.maxHeaderNameLength(),
          http.maxHeaderValueLength(), http.maxHeaderCount(), http.maxBodySize()), http.bufferRequestsUpTo(),
          Long.toString(Math.max(1, (retryAfter.toMillis() + 999) / 1000)));
    }
  }

  private final Channel serverChannel;
  private final List<ClientTimeouts> timeouts;
  private final List<EventLoop> loops;
  private final OpenConnections openConnections;
  private final List<Router> routers;
  private final List<ResponseBuffers> buffers;
  private final AtomicReference<Setup> setup;

  private HttpListener(Channel serverChannel, List<ClientTimeouts> timeouts, List<EventLoop> loops,
      OpenConnections openConnections, List<Router> routers, List<ResponseBuffers> buffers, AtomicReference<Setup> setup) {
    this.serverChannel = serverChannel;
    this.timeouts = timeouts;
    this.loops = loops;
    this.openConnections = openConnections;
    this.routers = routers;
    this.buffers = buffers;
    this.setup = setup;
  }

  /**
   * Binds the listener.
   *
   * @param queuesPerLoop for each loop, every pool's queue actor on that loop, by pool name
   * @param exchangeGuard the longest any exchange may wait for the start of its response
   * @param retryAfter    the Retry-After of 503 answers
   * @param accessLog     where finished exchanges are logged; null: no access log
   */
  public static HttpListener bind(EventLoops loops, HttpSettings http, List<RouteSettings> routes,
      Optional<String> defaultPool, List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop,
      ConnectionGate gate, Duration exchangeGuard, Duration retryAfter, AccessLog accessLog)
      throws InterruptedException {
    // written by a reload, read once per accepted connection (never per request)
    AtomicReference<Setup> setup = new AtomicReference<>(Setup.of(http, retryAfter));
    Duration sweepEvery = sweepEvery(http);
    Map<EventLoop, Router> routers = new IdentityHashMap<>();
    Map<EventLoop, ClientTimeouts> timeoutsByLoop = new IdentityHashMap<>();
    Map<EventLoop, ResponseBuffers> buffersByLoop = new IdentityHashMap<>();
    long responseShare = http.responseBufferTotal() / loops.size(); // each loop its own counter: no atomics
    List<ClientTimeouts> allTimeouts = new java.util.ArrayList<>();
    List<EventLoop> allLoops = new java.util.ArrayList<>();
    List<Router> allRouters = new java.util.ArrayList<>();
    List<ResponseBuffers> allBuffers = new java.util.ArrayList<>();
    OpenConnections open = new OpenConnections();
    for (int i = 0; i < loops.size(); i++) {
      EventLoop loop = loops.loop(i);
      allLoops.add(loop);
      Router router = new Router(routes, queuesPerLoop.get(i), defaultPool);
      routers.put(loop, router);
      allRouters.add(router);
      ClientTimeouts t = new ClientTimeouts(http.idleTimeout(), http.headDeadline(), http.bodyDeadline(),
          exchangeGuard);
      ResponseBuffers b = new ResponseBuffers(responseShare);
      buffersByLoop.put(loop, b);
      allBuffers.add(b);
      t.start(loop, sweepEvery);
      timeoutsByLoop.put(loop, t);
      allTimeouts.add(t);
    }
    InetSocketAddress bind = new InetSocketAddress(http.host(), http.port());
    ServerBootstrap bootstrap = loops.serverChannelFor(EventLoops.noDelay(new ServerBootstrap()), bind)
        .group(loops.group())
        .option(ChannelOption.SO_BACKLOG, 4096)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childHandler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            if (gate.refusing()) {
              log.debug("refusing connection from {}: a queue is above its threshold", ch.remoteAddress());
              gate.countRefused();
              ch.close();
              return;
            }
            open.track(ch);
            EventLoop loop = ch.eventLoop();
            Setup now = setup.get();
            ch.pipeline().addLast(new RequestDecoder(now.limits()),
                new ClientConnection(routers.get(loop), timeoutsByLoop.get(loop), buffersByLoop.get(loop),
                    now.bufferRequestsUpTo(), now.retryAfterSeconds(), accessLog));
          }
        });
    Channel channel = bootstrap.bind(bind).sync().channel();
    return new HttpListener(channel, List.copyOf(allTimeouts), List.copyOf(allLoops), open, List.copyOf(allRouters),
        List.copyOf(allBuffers), setup);
  }

  private static Duration sweepEvery(HttpSettings http) {
    return SweepPeriod.of(min(min(http.headDeadline(), http.bodyDeadline()), http.idleTimeout()), 10,
        Duration.ofMillis(10), Duration.ofMillis(250));
  }

  /**
   * A reload: each loop takes the new routes (to its own queues), client timeouts and response
   * buffer share on its own thread; connections accepted from then on take the new limits, body
   * buffering and Retry-After. Completes once every loop has.
   *
   * @param queuesPerLoop for each loop, every pool's queue actor on that loop, by pool name
   */
  public CompletableFuture<Void> reconfigure(HttpSettings http, List<RouteSettings> routes,
      Optional<String> defaultPool, List<Map<String, ActorRef<QueueActor.Command>>> queuesPerLoop,
      Duration exchangeGuard, Duration retryAfter) {
    setup.set(Setup.of(http, retryAfter));
    Duration every = sweepEvery(http);
    long share = http.responseBufferTotal() / loops.size();
    List<CompletableFuture<Void>> done = new java.util.ArrayList<>();
    for (int i = 0; i < loops.size(); i++) {
      Router router = routers.get(i);
      ClientTimeouts t = timeouts.get(i);
      ResponseBuffers b = buffers.get(i);
      Map<String, ActorRef<QueueActor.Command>> queues = Map.copyOf(queuesPerLoop.get(i));
      CompletableFuture<Void> applied = new CompletableFuture<>();
      loops.get(i).execute(() -> {
        try {
          router.replace(routes, queues, defaultPool);
          t.retime(http.idleTimeout(), http.headDeadline(), http.bodyDeadline(), exchangeGuard, every);
          b.setShare(share);
          applied.complete(null);
        } catch (RuntimeException e) {
          applied.completeExceptionally(e);
        }
      });
      done.add(applied);
    }
    return CompletableFuture.allOf(done.toArray(CompletableFuture[]::new));
  }

  /** Client connections open now (for /metrics). */
  public long openConnections() {
    return openConnections.count();
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
