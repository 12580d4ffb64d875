package sluice.node.http;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * An allocator that remembers every buffer it hands out (leak-aware, so Netty's detector
 * at paranoid records their accesses), for a test to check at its end that each one has
 * been released: the test's input buffers and whatever the code under test allocated.
 */
final class TrackingAllocator extends AbstractByteBufAllocator {
  private final List<ByteBuf> allocated = new ArrayList<>();

  TrackingAllocator() {
    super(true);
  }

  /** A buffer holding the string's characters as bytes (ISO-8859-1: one byte each). */
  ByteBuf bytes(String text) {
    return bytes(text, text.length());
  }

  ByteBuf bytes(String text, int capacity) {
    ByteBuf buf = directBuffer(Math.max(capacity, text.length()));
    buf.writeBytes(text.getBytes(ISO_8859_1));
    return buf;
  }

  /** The buffers not released yet. */
  List<ByteBuf> live() {
    List<ByteBuf> live = new ArrayList<>();
    for (ByteBuf buf : allocated) {
      if (buf.refCnt() > 0) {
        live.add(buf);
      }
    }
    return live;
  }

  void assertAllReleased() {
    assertEquals(List.of(), live(), "buffers not released");
  }

  @Override
  protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
    return track(new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity));
  }

  @Override
  protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
    return track(new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity));
  }

  @Override
  public boolean isDirectBufferPooled() {
    return false;
  }

  private ByteBuf track(ByteBuf buf) {
    ByteBuf leakAware = toLeakAwareBuffer(buf);
    allocated.add(leakAware);
    return leakAware;
  }
}
