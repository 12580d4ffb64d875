package sluice.controller.algorithm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import sluice.protocol.LimitSpec;

class LimitAlgorithmsTest {

  private static LimitAlgorithm create(String algorithm, Map<String, String> params) {
    return LimitAlgorithms.create(new LimitSpec(algorithm, 1, 1000, 8, params), () -> 0L, new SplittableRandom(1));
  }

  private static String rejection(String algorithm, Map<String, String> params) {
    return assertThrows(IllegalArgumentException.class, () -> create(algorithm, params)).getMessage();
  }

  @Test
  void buildsEveryNamedAlgorithmWithDefaults() {
    assertInstanceOf(AutoLimit.class, create("auto", Map.of()));
    assertInstanceOf(FixedLimit.class, create("fixed", Map.of("value", "24")));
    assertInstanceOf(BandLimit.class, create("band", Map.of("low", "10", "high", "20")));
    assertInstanceOf(QueueLimit.class, create("queue", Map.of()));
    assertInstanceOf(GradientLimit.class, create("gradient", Map.of()));
    assertInstanceOf(VegasLimit.class, create("vegas", Map.of()));
    assertInstanceOf(AimdLimit.class, create("aimd", Map.of()));
    assertEquals(8, create("auto", Map.of()).limit() >= 8 ? 8 : -1);
  }

  @Test
  void rejectionsStartWithTheKeyAndSayWhatIsAllowed() {
    assertTrue(rejection("nope", Map.of()).startsWith("algorithm: unknown 'nope'"));
    assertTrue(rejection("auto", Map.of("knee-gain", "2")).startsWith("knee-gain must be in [0.0, 0.9]"));
    assertTrue(rejection("auto", Map.of("probe", "x")).startsWith("probe must be a number"));
    assertTrue(rejection("auto", Map.of("kneegain", "0.1")).startsWith("kneegain is not a parameter of algorithm auto"));
    assertTrue(rejection("band", Map.of("high", "20")).startsWith("low is required"));
    assertTrue(rejection("band", Map.of("low", "20", "high", "10")).startsWith("high must be greater than low"));
    assertTrue(rejection("band", Map.of("low", "1", "high", "2", "metric", "cpu")).startsWith("metric must be one of"));
    assertTrue(rejection("band", Map.of("low", "1", "high", "2", "step", "0")).startsWith("step must be in [1, 100000], was 0"));
    assertTrue(rejection("queue", Map.of("low", "5", "high", "2")).startsWith("high must be at least low (5), was 2"));
    assertTrue(rejection("gradient", Map.of("min-rtt-interval", "10ms")).startsWith("min-rtt-interval must be within"));
    assertTrue(rejection("gradient", Map.of("jitter", "150")).startsWith("jitter must be in [0.0, 100.0]"));
    assertTrue(rejection("vegas", Map.of("alpha", "6", "beta", "3")).startsWith("beta must be greater than alpha"));
    assertTrue(rejection("aimd", Map.of("backoff-ratio", "0.3")).startsWith("backoff-ratio must be in [0.5, 0.99]"));
    assertTrue(rejection("aimd", Map.of("timeout", "soon")).startsWith("timeout must be a duration"));
    assertTrue(rejection("fixed", Map.of("value", "0")).startsWith("value must be at least 1, was 0"));
  }

  @Test
  void rejectsBoundsThatDoNotNest() {
    String message = assertThrows(IllegalArgumentException.class, () -> LimitAlgorithms.validate(
        new LimitSpec("auto", 10, 5, 8, Map.of()))).getMessage();
    assertEquals("max must be at least min (10), was 5", message);
  }

  @Test
  void readsDurationsWithUnitsAndBareMilliseconds() {
    AimdLimit aimd = (AimdLimit) create("aimd", Map.of("timeout", "100"));
    aimd.onSample(Windows.window(8, 100, 150, 10));
    assertEquals(7, aimd.limit());
  }
}
