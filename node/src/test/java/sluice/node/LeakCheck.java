package sluice.node;

import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Fails a test class whose run leaked a Netty buffer. Netty's leak detector (at paranoid in
 * the test JVM, see the pom) reports a buffer that was garbage-collected without being
 * released, as an ERROR of its ResourceLeakDetector logger; this extension records those
 * and, after each test class, collects garbage and allocates a little so that pending
 * reports come out, then fails the class if there was any. Registered for every test
 * (META-INF/services, junit-platform.properties).
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {

  private static final List<String> LEAKS = new ArrayList<>();
  private static final AppenderBase<ILoggingEvent> APPENDER = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent event) {
      if (event.getLevel().isGreaterOrEqual(Level.ERROR) && event.getFormattedMessage().contains("LEAK")) {
        synchronized (LEAKS) {
          LEAKS.add(event.getFormattedMessage());
        }
      }
    }
  };

  static {
    ch.qos.logback.classic.Logger logger =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.netty.util.ResourceLeakDetector");
    APPENDER.setContext(logger.getLoggerContext());
    APPENDER.start();
    logger.addAppender(APPENDER);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    synchronized (LEAKS) {
      LEAKS.clear();
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws InterruptedException {
    for (int round = 0; round < 3; round++) {
      System.gc();
      Thread.sleep(50);
      // leak reports are made when buffers are allocated (and so tracked) after the collection
      for (int i = 0; i < 64; i++) {
        ByteBuf a = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        a.release();
        ByteBuf b = UnpooledByteBufAllocator.DEFAULT.heapBuffer(16);
        b.release();
        ByteBuf c = io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(16);
        c.release();
      }
    }
    List<String> found;
    synchronized (LEAKS) {
      found = List.copyOf(LEAKS);
      LEAKS.clear();
    }
    if (!found.isEmpty()) {
      fail(found.size() + " Netty buffer leak(s) in " + context.getDisplayName() + ":\n" + String.join("\n\n", found));
    }
  }
}
