package sluice.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LimitChangeLogTest {
  private long now = 1_000_000_000L;
  private final LimitChangeLog log = new LimitChangeLog(Duration.ofSeconds(5), () -> now);

  private static long ms(long millis) {
    return millis * 1_000_000L;
  }

  @Test
  void theFirstLimitIsShownAtOnce() {
    Optional<LimitChangeLog.Summary> first = log.decided(24, "initial limit of algorithm auto");
    assertTrue(first.isPresent());
    assertTrue(first.get().first());
    assertEquals(24, first.get().to());
  }

  @Test
  void manySmallDecisionsGiveOneLinePerFiveSeconds() {
    log.decided(24, "initial");
    List<LimitChangeLog.Summary> lines = new ArrayList<>();
    int limit = 24;
    // a decision every 500 ms for 60 s, moving by one up and down, and a tick every 100 ms
    for (int step = 1; step <= 600; step++) {
      now += ms(100);
      if (step % 5 == 0) {
        limit += (step / 5) % 3 == 0 ? -1 : 1;
        log.decided(limit, "step " + step).ifPresent(lines::add);
      }
      log.tick().ifPresent(lines::add);
    }
    // 120 decisions over 60 s: at most one line per 5 s; and one as soon as 5 s have passed since
    // the first decision after the line before, i.e. every 5.5 s here: 10 in 60 s
    assertTrue(lines.size() <= 60 / 5, lines.size() + " lines: " + lines);
    assertEquals(10, lines.size(), "a summary every 5.5 s: " + lines);
    int decisions = lines.stream().mapToInt(LimitChangeLog.Summary::decisions).sum();
    LimitChangeLog.Summary last = lines.get(lines.size() - 1);
    assertEquals(120, decisions + pendingAfter(last), "every decision is in a line, or still pending");
    for (int i = 1; i < lines.size(); i++) {
      assertEquals(lines.get(i - 1).to(), lines.get(i).from(), "each line starts where the one before ended");
    }
  }

  /** The decisions after the last line: counted by forcing the next summary. */
  private int pendingAfter(LimitChangeLog.Summary last) {
    now += ms(5_000);
    return log.tick().map(LimitChangeLog.Summary::decisions).orElse(0);
  }

  @Test
  void aSummaryCarriesTheMoveTheCountAndTheLastReason() {
    log.decided(24, "initial");
    now += ms(1_000);
    assertTrue(log.decided(26, "a").isEmpty());
    now += ms(1_000);
    assertTrue(log.decided(31, "b").isEmpty());
    now += ms(2_000);
    assertTrue(log.tick().isEmpty(), "not yet 5 s since the first of the run");
    now += ms(2_000);
    LimitChangeLog.Summary s = log.tick().orElseThrow();
    assertEquals(new LimitChangeLog.Summary(24, 31, 26, 31, 5.0, 2, "b"), s);
    now += ms(10_000);
    assertTrue(log.tick().isEmpty(), "nothing new, nothing to say");
  }

  @Test
  void aLargeMoveIsShownAtOnceEitherWay() {
    log.decided(20, "initial");
    now += ms(100);
    assertEquals(new LimitChangeLog.Summary(20, 40, 40, 40, 0.0, 1, "up"), log.decided(40, "up").orElseThrow());
    now += ms(100);
    assertTrue(log.decided(30, "down a little").isEmpty());
    now += ms(100);
    LimitChangeLog.Summary down = log.decided(20, "down").orElseThrow();
    assertEquals(40, down.from());
    assertEquals(20, down.to());
    assertEquals(2, down.decisions(), "the small move before it is in the same line");
    assertEquals(20, down.lowest());
    assertEquals(30, down.highest());
  }
}
