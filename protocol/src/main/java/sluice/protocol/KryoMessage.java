package sluice.protocol;

/**
 * Marker of every message that may cross nodes. Pekko is configured to serialize these
 * with {@link KryoSerializer}; every class is registered there with a fixed id.
 */
public interface KryoMessage {}
