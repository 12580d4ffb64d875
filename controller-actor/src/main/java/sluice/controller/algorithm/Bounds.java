package sluice.controller.algorithm;

/** The [min, max] every algorithm keeps its limit in, and the limit it starts from. */
record Bounds(int min, int max, int initial) {

  Bounds {
    if (min < 1) {
      throw new IllegalArgumentException("min must be at least 1, was " + min);
    }
    if (max < min) {
      throw new IllegalArgumentException("max must be at least min (" + min + "), was " + max);
    }
    if (initial < min || initial > max) {
      throw new IllegalArgumentException(
          "initial must be within [min, max] = [" + min + ", " + max + "], was " + initial);
    }
  }

  int clamp(long limit) {
    return (int) Math.max(min, Math.min(max, limit));
  }

  int clamp(double limit) {
    return clamp(Math.round(limit));
  }
}
