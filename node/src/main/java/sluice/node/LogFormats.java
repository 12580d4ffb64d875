package sluice.node;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.LoggerFactory;
import sluice.node.settings.LogFormat;

/**
 * Applies {@code sluice.log-format} to logback once the configuration has been read. Sluice's
 * logback.xml gives the root logger one appender named after the format it starts with
 * ({@code -Dsluice.log-format}, else {@code text}); if the configuration asks for the other,
 * that appender is replaced by one of the same kind in the asked format (the same encoders as
 * logback.xml declares). With a logback configuration of the user's own (neither appender on
 * the root logger), nothing changes: the user's configuration rules.
 */
final class LogFormats {
  static final String TEXT_PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n";

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
    String other = format == LogFormat.JSON ? LogFormat.TEXT.configName() : LogFormat.JSON.configName();
    if (root.getAppender(other) == null) {
      return false; // not Sluice's logback.xml
    }
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(context);
    appender.setName(want);
    appender.setEncoder(encoder(format, context));
    appender.start();
    root.addAppender(appender);
    root.getAppender(other).stop();
    root.detachAppender(other);
    return true;
  }

  private static Encoder<ILoggingEvent> encoder(LogFormat format, LoggerContext context) {
    if (format == LogFormat.JSON) {
      JsonEncoder json = new JsonEncoder();
      json.setContext(context);
      json.setWithSequenceNumber(false);
      json.setWithNanoseconds(false);
      json.setWithContext(false);
      json.setWithMDC(false);
      json.setWithKVPList(false);
      json.setWithMarkers(false);
      json.setWithMessage(false);
      json.setWithArguments(false);
      json.setWithFormattedMessage(true);
      json.start();
      return json;
    }
    PatternLayoutEncoder text = new PatternLayoutEncoder();
    text.setContext(context);
    text.setPattern(TEXT_PATTERN);
    text.start();
    return text;
  }
}
