package sluice.node.loop;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoOps;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns reading on again on a channel whose reading was turned off (back-pressure), past a bug
 * of Netty 4.2.18's epoll transport (from 4.2.13 on; the newest 4.2 on Maven Central has it too).
 *
 * <p>The bug: when a channel's epoll interest becomes empty, Netty removes its fd from the
 * epoll set but its registration stays "added", so the next change of interest is an
 * {@code EPOLL_CTL_MOD} of an fd epoll no longer has: {@code epoll_ctl(..) failed with
 * error(-2): No such file or directory}, and Netty closes the channel. The interest becomes
 * empty when reading is off (EPOLLIN cleared), nothing waits to be written (no EPOLLOUT) and
 * Netty has cleared EPOLLRDHUP after handling an RDHUP event (the peer half-closed, or an event
 * meant for an earlier connection with the same fd number). The soak test lost normal clients'
 * connections to it when a held request body let reading go on again.
 *
 * <p>The way around: before turning reading on, look at the channel's interest; if it is empty,
 * the fd is not in the epoll set, so the channel is deregistered from its loop and registered
 * again (Netty then adds the fd anew with its initial interest), and reading is turned on once
 * that is done. Reading the interest needs a private field of Netty's channel; if that cannot
 * be read (another Netty), reading is turned on as before and the start-up log says so once.
 * Only the loop's thread calls this.
 */
public final class ReadResume {
  private static final Logger log = LoggerFactory.getLogger(ReadResume.class);
  /** Netty's package-private base class of its epoll channels, which holds their interest ({@code ops}). */
  private static final Class<?> EPOLL_CHANNEL = epollChannelClass();
  private static final VarHandle OPS = opsHandle();

  private ReadResume() {}

  /** Turns reading on; re-registers the channel first if its interest went empty. */
  public static void resume(Channel channel) {
    if (OPS != null && EPOLL_CHANNEL.isInstance(channel) && channel.isRegistered()
        && ((EpollIoOps) OPS.get(channel)).value() == 0) {
      EventLoop loop = channel.eventLoop();
      channel.deregister().addListener(deregistered -> {
        if (channel.isOpen()) {
          loop.register(channel).addListener(registered -> {
            if (registered.isSuccess()) {
              channel.config().setAutoRead(true);
            } else {
              channel.close();
            }
          });
        }
      });
      return;
    }
    channel.config().setAutoRead(true);
  }

  /** Whether the work-around is in force (native epoll, and Netty's field could be read). */
  public static boolean active() {
    return OPS != null;
  }

  private static Class<?> epollChannelClass() {
    try {
      return Class.forName("io.netty.channel.epoll.AbstractEpollChannel");
    } catch (ClassNotFoundException e) {
      return Void.class; // no epoll transport: nothing is an instance of it
    }
  }

  private static VarHandle opsHandle() {
    if (!Epoll.isAvailable()) {
      return null;
    }
    try {
      return MethodHandles.privateLookupIn(EPOLL_CHANNEL, MethodHandles.lookup())
          .findVarHandle(EPOLL_CHANNEL, "ops", EpollIoOps.class);
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.warn("cannot read Netty's epoll interest ({}): a connection whose reading was paused may be closed when "
          + "it resumes (Netty 4.2 epoll bug, see ReadResume)", e.toString());
      return null;
    }
  }
}
