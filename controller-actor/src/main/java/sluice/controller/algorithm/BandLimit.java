package sluice.controller.algorithm;

import java.util.List;

/**
 * Keeps one metric of the back-end inside [low, high] rather than at a point. While the
 * metric is outside the band the limit moves one step per window; the direction that
 * brings the metric back is remembered separately for "below low" and "above high", and
 * reversed when a step made things worse. That memory is what lets it work on throughput,
 * which is not monotonic in the limit: past the knee a higher limit gives less.
 *
 * <p>Units: response times in milliseconds, throughput and request rate in requests per
 * second, reported load as the back-end reports it; for L4 back-ends also bytes per second
 * (both ways together) and the mean time to the back-end's first byte in milliseconds.
 *
 * <p>State: limit; the helpful direction for each side of the band; the distance to the
 * band after the last step (NaN when the last window was inside or had no data).
 */
public final class BandLimit implements LimitAlgorithm {

  /** What the band holds. */
  public enum Metric {
    THROUGHPUT("throughput"),
    MEAN_RESPONSE_TIME("mean-response-time"),
    MAX_RESPONSE_TIME("max-response-time"),
    REQUEST_RATE("request-rate"),
    REPORTED_LOAD("reported-load"),
    BYTES_PER_SECOND("bytes-per-second"),
    MEAN_FIRST_BYTE_TIME("mean-first-byte-time");

    public final String key;

    Metric(String key) {
      this.key = key;
    }

    public static final List<String> KEYS =
        List.of("throughput", "mean-response-time", "max-response-time", "request-rate", "reported-load",
            "bytes-per-second", "mean-first-byte-time");

    public static Metric of(String key) {
      for (Metric m : values()) {
        if (m.key.equals(key)) {
          return m;
        }
      }
      throw new IllegalArgumentException("metric must be one of " + KEYS + ", was '" + key + "'");
    }

    double of(WindowSample s) {
      return switch (this) {
        case THROUGHPUT -> s.throughput();
        case MEAN_RESPONSE_TIME -> s.completed() + s.dropped() == 0 ? Double.NaN : s.meanRttNanos() / 1e6;
        case MAX_RESPONSE_TIME -> s.completed() + s.dropped() == 0 ? Double.NaN : s.maxRttNanos() / 1e6;
        case REQUEST_RATE -> s.requestRate();
        case REPORTED_LOAD -> s.reportedLoad();
        case BYTES_PER_SECOND -> s.bytesPerSecond();
        case MEAN_FIRST_BYTE_TIME -> s.meanFirstByteNanos() == 0 ? Double.NaN : s.meanFirstByteNanos() / 1e6;
      };
    }
  }

  /** How much worse (relative to the band's width) a step must make things to count as wrong. */
  private static final double WORSE_TOLERANCE = 0.05;

  private final Bounds bounds;
  private final Metric metric;
  private final double low;
  private final double high;
  private final int step;
  private int limit;
  private int directionBelow = +1;
  private int directionAbove = -1;
  private double lastDistance = Double.NaN;
  private boolean lastBelow;

  private BandLimit(Builder b) {
    this.bounds = new Bounds(b.min, b.max, b.initial);
    if (b.metric == null) {
      throw new IllegalArgumentException("metric must be one of " + Metric.KEYS);
    }
    this.metric = b.metric;
    if (!(b.low >= 0) || Double.isInfinite(b.low)) {
      throw new IllegalArgumentException("low must be a number at least 0, was " + b.low);
    }
    if (!(b.high > b.low) || Double.isInfinite(b.high)) {
      throw new IllegalArgumentException("high must be greater than low (" + b.low + "), was " + b.high);
    }
    this.low = b.low;
    this.high = b.high;
    this.step = Params.checkInt("step", b.step, 1, 100_000);
    this.limit = b.initial;
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int limit() {
    return limit;
  }

  @Override
  public void onSample(WindowSample s) {
    double value = metric.of(s);
    if (Double.isNaN(value)) {
      lastDistance = Double.NaN;
      return;
    }
    boolean below = value < low;
    double distance = below ? low - value : value > high ? value - high : 0;
    if (distance == 0) {
      lastDistance = Double.NaN;
      return;
    }
    if (!Double.isNaN(lastDistance) && lastBelow == below
        && distance > lastDistance + WORSE_TOLERANCE * (high - low)) {
      if (below) {
        directionBelow = -directionBelow;
      } else {
        directionAbove = -directionAbove;
      }
    }
    int direction = below ? directionBelow : directionAbove;
    if (direction > 0 && !s.limitBound()) {
      lastDistance = Double.NaN;
      return;
    }
    limit = bounds.clamp((long) limit + (long) direction * step);
    lastDistance = distance;
    lastBelow = below;
  }

  public static final class Builder extends BoundsBuilder<Builder> {
    private Metric metric = Metric.MEAN_RESPONSE_TIME;
    private double low = Double.NaN;
    private double high = Double.NaN;
    private int step = 1;

    private Builder() {}


    /** The metric to hold; default mean-response-time. */
    public Builder metric(Metric metric) {
      this.metric = metric;
      return this;
    }

    /** The band: required, 0 <= low < high. */
    public Builder band(double low, double high) {
      this.low = low;
      this.high = high;
      return this;
    }

    /** Change of the limit per window outside the band, [1, 100000]; default 1. */
    public Builder step(int step) {
      this.step = step;
      return this;
    }

    public BandLimit build() {
      return new BandLimit(this);
    }
  }
}
