package sluice.node;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import org.slf4j.LoggerFactory;
import sluice.node.settings.LogFormat;

/**
 * Applies {@code sluice.log-format} to logback once the configuration has been read. Sluice's
 * logback.xml defines an appender per format, holds both on the logger {@value #HOLDER} (which
 * logs nothing) and gives the root logger the one {@code -Dsluice.log-format} names ({@code text}
 * by default); if the configuration file asks for the other, the root logger takes that one
 * instead, so the formats are defined in logback.xml alone. With a logback configuration of the
 * user's own (no such holder), nothing changes: the user's configuration rules.
 */
final class LogFormats {
  /** The logger of Sluice's logback.xml that holds one appender per format. */
  static final String HOLDER = "sluice.log-formats";

  private LogFormats() {}

  /** Returns whether the root logger now writes in {@code format}. */
  static boolean apply(LogFormat format) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return false;
    }
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    String want = format.configName();
    if (root.getAppender(want) != null) {
      return true;
    }
    Appender<ILoggingEvent> appender = context.getLogger(HOLDER).getAppender(want);
    if (appender == null) {
      return false; // not Sluice's logback.xml
    }
    root.addAppender(appender);
    for (LogFormat f : LogFormat.values()) {
      if (f != format) {
        root.detachAppender(f.configName());
      }
    }
    return true;
  }
}
