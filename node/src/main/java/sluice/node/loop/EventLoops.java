package sluice.node.loop;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.PlatformDependent;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data plane's threads: a group of Netty event loops (native epoll on Linux, NIO
 * elsewhere), one by default. Every client connection, every back-end connection and the
 * queue and back-end actors of its loop run on one loop thread, so that a request crosses
 * no thread between its client and its back-end. Each loop is also a Pekko dispatcher
 * ({@link #dispatcherId(int)}, see {@link EventLoopExecutor}): a message between two actors
 * of one loop is a task on that loop's own queue.
 *
 * <p>A node's loops are registered under a key that its Pekko configuration names, so that
 * the dispatcher configurator, which Pekko builds from configuration, finds them.
 */
public final class EventLoops implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventLoops.class);
  private static final Map<String, EventLoops> REGISTRY = new ConcurrentHashMap<>();
  private static final AtomicLong NEXT_KEY = new AtomicLong();

  private final String key;
  private final MultiThreadIoEventLoopGroup group;
  private final List<EventLoop> loops;
  private final boolean epoll;

  private EventLoops(String key, MultiThreadIoEventLoopGroup group, boolean epoll) {
    this.key = key;
    this.group = group;
    this.epoll = epoll;
    List<EventLoop> each = new ArrayList<>();
    for (EventExecutor executor : group) {
      each.add((EventLoop) executor);
    }
    this.loops = List.copyOf(each);
  }

  /** Starts {@code count} event loop threads, named {@code sluice-loop-<node>-<i>}. */
  public static EventLoops start(int count) {
    String key = Long.toString(NEXT_KEY.incrementAndGet());
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory io;
    if (epoll) {
      io = EpollIoHandler.newFactory();
    } else {
      log.warn("native epoll is not available ({}); the data plane runs on Java NIO, which is slower and does not "
          + "notice a client closing while its request waits", Epoll.unavailabilityCause().toString());
      io = NioIoHandler.newFactory();
    }
    var group = new MultiThreadIoEventLoopGroup(count, new DefaultThreadFactory("sluice-loop-" + key, true), io);
    EventLoops loops = new EventLoops(key, group, epoll);
    REGISTRY.put(key, loops);
    return loops;
  }

  static EventLoop lookup(String key, int index) {
    EventLoops loops = REGISTRY.get(key);
    if (loops == null) {
      throw new IllegalStateException("no event loops registered under '" + key + "'");
    }
    return loops.loop(index);
  }

  public int size() {
    return loops.size();
  }

  public EventLoop loop(int index) {
    return loops.get(index);
  }

  public MultiThreadIoEventLoopGroup group() {
    return group;
  }

  /** The Pekko dispatcher that runs actors on loop {@code index}. */
  public String dispatcherId(int index) {
    return "sluice-dispatcher-" + key + "-" + index;
  }

  /** Pekko configuration that declares one dispatcher per loop. */
  public String dispatcherConfig() {
    StringBuilder config = new StringBuilder();
    for (int i = 0; i < loops.size(); i++) {
      config.append(dispatcherId(i)).append(" {\n")
          .append("  type = Dispatcher\n")
          .append("  executor = \"").append(EventLoopExecutor.class.getName()).append("\"\n")
          .append("  sluice-event-loops = \"").append(key).append("\"\n")
          .append("  sluice-event-loop-index = ").append(i).append('\n')
          // a mailbox runs this many messages before the loop turns to I/O again
          .append("  throughput = 64\n")
          .append("}\n");
    }
    return config.toString();
  }

  public Class<? extends ServerChannel> serverChannelType() {
    return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  public Class<? extends Channel> channelType() {
    return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  /**
   * Sets {@code b}'s channel ({@code type}, as {@link #channelType()} gives it) for connections to
   * {@code target}: on epoll an IPv4 socket for an IPv4 address. Netty's default epoll socket is
   * dual-stack IPv6, which costs a setsockopt (IPV6_V6ONLY) per connection and takes the
   * kernel's IPv4-mapped path.
   */
  public static Bootstrap channelFor(Bootstrap b, Class<? extends Channel> type, InetSocketAddress target) {
    if (type == EpollSocketChannel.class && target.getAddress() instanceof Inet4Address) {
      return b.channelFactory(() -> new EpollSocketChannel(SocketProtocolFamily.INET));
    }
    return b.channel(type);
  }

  /** As {@link #channelFor(Bootstrap, Class, InetSocketAddress)}, for a listener bound to {@code bind}. */
  public ServerBootstrap serverChannelFor(ServerBootstrap b, InetSocketAddress bind) {
    if (epoll && bind.getAddress() instanceof Inet4Address) {
      return b.channelFactory(() -> new EpollServerSocketChannel(SocketProtocolFamily.INET));
    }
    return b.channel(serverChannelType());
  }

  /**
   * TCP_NODELAY on every connection {@code b} opens. Netty's socket channels already set it
   * when they are made (except on Android); set again it costs a setsockopt per connection.
   */
  public static Bootstrap noDelay(Bootstrap b) {
    return PlatformDependent.canEnableTcpNoDelayByDefault() ? b : b.option(ChannelOption.TCP_NODELAY, true);
  }

  /** As {@link #noDelay(Bootstrap)}, for every connection {@code b} accepts. */
  public static ServerBootstrap noDelay(ServerBootstrap b) {
    return PlatformDependent.canEnableTcpNoDelayByDefault() ? b : b.childOption(ChannelOption.TCP_NODELAY, true);
  }

  /** Stops the loop threads once their tasks are done; call after the actors on them have stopped. */
  @Override
  public void close() {
    REGISTRY.remove(key);
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }
}
