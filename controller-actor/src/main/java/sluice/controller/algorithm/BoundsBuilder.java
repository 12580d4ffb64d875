package sluice.controller.algorithm;

/**
 * What every algorithm's builder takes: the bounds of the limit. The algorithm checks them
 * (through {@link Bounds}) when it is built.
 *
 * @param <B> the concrete builder, returned for chaining
 */
public abstract class BoundsBuilder<B extends BoundsBuilder<B>> {
  int min = 1;
  int max = 1000;
  int initial = 8;

  BoundsBuilder() {}

  /** Lowest and highest limit, and the limit before the first decision. */
  @SuppressWarnings("unchecked")
  public B bounds(int min, int max, int initial) {
    this.min = min;
    this.max = max;
    this.initial = initial;
    return (B) this;
  }
}
