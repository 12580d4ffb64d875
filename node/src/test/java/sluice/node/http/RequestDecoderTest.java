package sluice.node.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.node.http.Events.END;
import static sluice.node.http.Events.HEAD_STARTED;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sluice.node.http.RequestParser.Limits;

class RequestDecoderTest {

  private static final Limits LIMITS = new Limits(64, 32, 64, 16, 1000);
  private static final String GET_1 = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  private static final String GET_2 = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  private static final String GET_3 = "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";

  private final TrackingAllocator alloc = new TrackingAllocator();
  private final RequestDecoder decoder = new RequestDecoder(LIMITS);
  private final Recorder next = new Recorder();
  private EmbeddedChannel channel;

  @BeforeAll
  static void leakDetectorParanoid() {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
  }

  @BeforeEach
  void open() {
    channel = new EmbeddedChannel();
    channel.config().setAllocator(alloc);
    channel.pipeline().addLast(decoder, next);
  }

  @AfterEach
  void everyBufferReleased() {
    channel.finishAndReleaseAll();
    alloc.assertAllReleased();
  }

  /** The handler after the decoder: records what it is given, described, and may act on it. */
  private static final class Recorder extends ChannelInboundHandlerAdapter {
    private final List<String> events = new ArrayList<>();
    Consumer<ChannelHandlerContext> onLast = ctx -> { };
    Consumer<ChannelHandlerContext> onHeadStarted = ctx -> { };
    boolean recordReadComplete;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      boolean last = msg instanceof LastHttpContent;
      events.add(msg instanceof String text ? "other:" + text : Events.describe(msg));
      if (last) {
        onLast.accept(ctx);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      events.add(Events.describe(evt));
      if (evt == RequestDecoder.HeadStarted.INSTANCE) {
        onHeadStarted.accept(ctx);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (recordReadComplete) {
        events.add("read complete");
      }
    }

    /** The events since the last call. */
    List<String> take() {
      List<String> taken = List.copyOf(events);
      events.clear();
      return taken;
    }
  }

  private void receive(String bytes) {
    channel.writeInbound(alloc.bytes(bytes));
  }

  @Test
  void requestIsFiredAfterHeadStarted() {
    receive(GET_1);
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
    assertEquals(List.of(), alloc.live(), "nothing held between requests");
  }

  @Test
  void pipelinedRequestWaitsForResume() {
    receive(GET_1 + GET_2 + GET_3);
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END), next.take());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "GET /3 HTTP/1.1 | Host: a", END), next.take());
    decoder.resume();
    assertEquals(List.of(), next.take());
    assertEquals(List.of(), alloc.live());
  }

  @Test
  void bytesReceivedWhilePausedWaitWithoutHeadStarted() {
    receive(GET_1);
    next.take();
    receive(GET_2);
    assertEquals(List.of(), next.take());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void resumeFromInsideTheNextHandlersChannelRead() {
    next.onLast = ctx -> decoder.resume();
    receive(GET_1 + GET_2 + GET_3);
    assertEquals(List.of(
        HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END,
        HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END,
        HEAD_STARTED, "GET /3 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void resumeFromATaskRunLaterOnTheEventLoop() {
    channel.freezeTime();
    next.recordReadComplete = true;
    next.onLast = ctx -> ctx.executor().schedule(decoder::resume, 1, TimeUnit.MILLISECONDS);
    receive(GET_1 + GET_2);
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END, "read complete"), next.take());
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertEquals(List.of(HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END), next.take());
    channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
    assertEquals(List.of(), next.take(), "nothing buffered: waits for bytes");
    receive(GET_3);
    assertEquals(List.of(HEAD_STARTED, "GET /3 HTTP/1.1 | Host: a", END, "read complete"), next.take());
  }

  @Test
  void manyPipelinedRequestsResumedFromInsideDoNotNest() {
    next.onLast = ctx -> decoder.resume();
    receive(GET_1.repeat(2000));
    List<String> events = next.take();
    assertEquals(6000, events.size());
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), events.subList(5997, 6000));
  }

  @Test
  void headStartedOnTheFirstByteOfAHead() {
    receive("G");
    assertEquals(List.of(HEAD_STARTED), next.take());
    receive("ET /1 HTTP/1.1\r\nHost: a\r\n");
    assertEquals(List.of(), next.take());
    receive("\r\n");
    assertEquals(List.of("GET /1 HTTP/1.1 | Host: a", END), next.take());
    decoder.resume();
    assertEquals(List.of(), next.take(), "nothing buffered");
    receive("\r\n");
    assertEquals(List.of(HEAD_STARTED), next.take(), "an empty line before a request line starts a head");
    receive(GET_2);
    assertEquals(List.of("GET /2 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void headStartedAtResumeForBufferedBytes() {
    receive(GET_1 + "GE");
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED), next.take());
    receive("T /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals(List.of("GET /2 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void resumeWhileNotPausedDoesNothing() {
    receive("GET /1 HTTP/1.1\r\nHo");
    assertEquals(List.of(HEAD_STARTED), next.take());
    decoder.resume();
    assertEquals(List.of(), next.take());
    receive("st: a\r\n\r\n");
    assertEquals(List.of("GET /1 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void bodyIsFiredAsItArrives() {
    receive("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
    assertEquals(List.of(HEAD_STARTED, "POST /up HTTP/1.1 | Host: a | Content-Length: 10", "data:01234"), next.take());
    assertEquals(List.of(), alloc.live(), "the body slice was released by the next handler; nothing kept");
    receive("567");
    assertEquals(List.of("data:567"), next.take());
    receive("89" + GET_2);
    assertEquals(List.of("end:89"), next.take());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void chunkedUploadOneByteAtATimeThenAPipelinedRequest() {
    next.onLast = ctx -> decoder.resume();
    String upload = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (String b : (upload + GET_2).split("")) {
      receive(b);
    }
    List<String> events = next.take();
    assertEquals(List.of(HEAD_STARTED, "POST /c HTTP/1.1 | Host: a | Transfer-Encoding: chunked"), events.subList(0, 2));
    assertEquals("hello world", Events.body(events));
    assertEquals(List.of(END, HEAD_STARTED, "GET /2 HTTP/1.1 | Host: a", END), events.subList(events.size() - 4, events.size()));
    assertEquals(2 + 11 + 4, events.size(), "one data event per byte of chunk data");
  }

  @Test
  void aPartialHeadIsCopiedOutOfTheReadBuffer() {
    ByteBuf read = alloc.bytes("GET /1 HTTP/1.1\r\nHo", 4096);
    channel.writeInbound(read);
    assertEquals(0, read.refCnt(), "the read buffer is not kept for a few bytes");
    List<ByteBuf> held = alloc.live();
    assertEquals(1, held.size());
    assertTrue(held.get(0).capacity() < 4096, "held " + held.get(0));
    receive("st: a\r\n");
    receive("\r\n");
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
    assertEquals(List.of(), alloc.live(), "nothing held between requests");
  }

  @Test
  void malformedIsFiredOnceThenEveryByteIsDropped() {
    receive("GARBAGE\r\n\r\n");
    assertEquals(List.of(HEAD_STARTED, "refused 400 malformed request line"), next.take());
    ByteBuf later = alloc.bytes(GET_1);
    channel.writeInbound(later);
    assertEquals(0, later.refCnt());
    decoder.resume();
    assertEquals(List.of(), next.take());
  }

  @Test
  void malformedPipelinedRequestReleasesWhatIsBuffered() {
    receive(GET_1 + "G@T / HTTP/1.1\r\nHost: a\r\n\r\n" + GET_3);
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
    assertEquals(1, alloc.live().size(), "the pipelined bytes wait");
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "refused 501 method not implemented"), next.take());
    assertEquals(List.of(), alloc.live());
  }

  @Test
  void malformedBodyAfterDataWasFired() {
    receive("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n");
    assertEquals(List.of(HEAD_STARTED, "POST / HTTP/1.1 | Host: a | Transfer-Encoding: chunked", "data:abc",
        "refused 400 invalid chunk size"), next.take());
  }

  @Test
  void cumulationIsReleasedWhenTheChannelCloses() {
    receive("GET /1 HTTP/1.1\r\nHo");
    assertEquals(1, alloc.live().size());
    channel.close();
    assertEquals(List.of(), alloc.live());
  }

  @Test
  void cumulationIsReleasedWhenTheDecoderIsRemoved() {
    receive(GET_1 + "GET /2 HTTP/1.1\r\nHo");
    assertEquals(1, alloc.live().size());
    channel.pipeline().remove(decoder);
    assertEquals(List.of(), alloc.live());
    decoder.resume();
    assertEquals(List.of(HEAD_STARTED, "GET /1 HTTP/1.1 | Host: a", END), next.take());
  }

  @Test
  void removedFromInsideAnEventItStops() {
    next.onHeadStarted = ctx -> ctx.pipeline().remove(decoder);
    receive(GET_1);
    assertEquals(List.of(HEAD_STARTED), next.take());
    assertEquals(List.of(), alloc.live());
  }

  @Test
  void otherMessagesPassThrough() {
    channel.writeInbound("not bytes");
    assertEquals(List.of("other:not bytes"), next.take());
  }
}
