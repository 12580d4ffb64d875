package sluice.node.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The soak (SoakTest) lost normal clients' connections: the node's client connection, whose
 * reading had been turned off (a held request body), failed when reading was turned on again,
 * with {@code epoll_ctl(..) failed with error(-2): No such file or directory}, and Netty closed
 * it. The cause is in Netty's epoll transport (4.2.18, and 4.2.19 to 4.2.21 the same; see
 * {@link ReadResume}): a channel whose interest set went empty (reading off, EPOLLRDHUP cleared
 * after an RDHUP event) is deleted from epoll while its registration stays "added". These tests
 * make that happen in the plainest way: the peer half-closes while reading is off.
 */
class EpollInterestTest {

  /** Netty still has the bug: if this fails after an upgrade, {@link ReadResume} can go. */
  @Test
  void nettyClosesTheChannelWhenReadingIsTurnedOnPlainly() throws Exception {
    Outcome outcome = halfCloseWhileReadingIsOff(ch -> ch.config().setAutoRead(true));
    assertNotNull(outcome.failure, "Netty's epoll no longer fails here: ReadResume's work-around can be removed");
    assertTrue(outcome.failure.toString().contains("No such file or directory"), outcome.failure::toString);
  }

  @Test
  void readResumeKeepsTheChannelAndTheHalfClosedPeerGetsItsReply() throws Exception {
    assertTrue(ReadResume.active(), "the work-around can read Netty's epoll interest");
    Outcome outcome = halfCloseWhileReadingIsOff(ReadResume::resume);
    assertNull(outcome.failure, () -> "the channel failed: " + outcome.failure);
    assertEquals("reply\n", outcome.reply, "the half-closed peer reads the reply");
    assertTrue(outcome.activeAfter, "the channel is still open");
  }

  private record Outcome(Throwable failure, String reply, boolean activeAfter) {}

  private static Outcome halfCloseWhileReadingIsOff(Consumer<Channel> turnReadingOn) throws Exception {
    assumeTrue(Epoll.isAvailable(), "needs native epoll");
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    CompletableFuture<Channel> accepted = new CompletableFuture<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    try {
      Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
          .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
          .childHandler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                  ctx.channel().config().setAutoRead(false); // like a held request body
                  accepted.complete(ctx.channel());
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                  ReferenceCountUtil.release(msg);
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                  failure.compareAndSet(null, cause);
                }
              });
            }
          }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      try (Socket client = new Socket()) {
        client.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        client.setSoTimeout(5_000);
        Channel ch = accepted.get(10, TimeUnit.SECONDS);
        client.shutdownOutput(); // the peer has said all it will say; it still reads
        Thread.sleep(200); // the RDHUP event arrives and is handled while reading is off
        ch.eventLoop().submit(() -> turnReadingOn.accept(ch)).get(10, TimeUnit.SECONDS);
        Thread.sleep(100); // a re-registration completes on the loop
        ByteBuf reply = Unpooled.copiedBuffer("reply\n", StandardCharsets.US_ASCII);
        ch.writeAndFlush(reply).await(10, TimeUnit.SECONDS);
        String got;
        try {
          got = new String(client.getInputStream().readNBytes(6), StandardCharsets.US_ASCII);
        } catch (IOException e) {
          got = e.toString();
        }
        boolean active = ch.isActive();
        server.close().sync();
        return new Outcome(failure.get(), got, active);
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }
}
