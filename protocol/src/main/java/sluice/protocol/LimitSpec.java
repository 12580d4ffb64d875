package sluice.protocol;

import java.util.Map;
import java.util.TreeMap;

/**
 * How one back-end's limit is chosen: the algorithm's name, the bounds every algorithm
 * respects, and the algorithm's own parameters as text (each algorithm's builder parses
 * and validates them). Crosses nodes inside {@link LeaseProtocol.Demand} so that the
 * entity of a back-end learns its settings from the first node that talks to it.
 *
 * @param algorithm  fixed, band, queue, gradient, vegas, aimd or auto
 * @param min        lowest limit, at least 1
 * @param max        highest limit, at least min
 * @param initial    limit before the first decision, within [min, max]
 * @param params     algorithm parameters, e.g. {@code value -> 24} for fixed
 */
public record LimitSpec(String algorithm, int min, int max, int initial, Map<String, String> params) {

  public LimitSpec {
    params = Map.copyOf(new TreeMap<>(params));
  }

  /** As an operator reads it in a log: {@code fixed value=8}, {@code gradient min=1 max=40 initial=8 buffer=0.5}. */
  public String describe() {
    StringBuilder out = new StringBuilder(algorithm);
    if (!(algorithm.equals("fixed") && min == max && max == initial)) {
      out.append(" min=").append(min).append(" max=").append(max).append(" initial=").append(initial);
    }
    params.forEach((k, v) -> out.append(' ').append(k).append('=').append(v));
    return out.toString();
  }

  public static LimitSpec fixed(int value) {
    return new LimitSpec("fixed", value, value, value, Map.of("value", Integer.toString(value)));
  }
}
