package sluice.node.queue;

/**
 * One unit of work waiting for a back-end slot: an HTTP request (L7) or, later, a client
 * connection (L4). The queue knows nothing of the protocol: it orders work, times it out,
 * drops work whose client left, and refuses work it cannot take. Whoever made the work
 * answers its client when the queue refuses it.
 *
 * <p>All methods are called on the work's own event loop thread.
 */
public interface Work {

  /** Why the queue gave work up without a back-end. */
  enum Refusal {
    /** The queue already held queue.max items. */
    QUEUE_FULL,
    /** The work waited longer than queue.timeout. */
    QUEUE_TIMEOUT,
    /** Every back-end of the pool is known down (its last connection attempt failed). */
    NO_BACKEND_UP,
    /** The queue stopped (node shutting down, or the queue actor restarted after a bug). */
    STOPPING
  }

  /** When the work joined the queue (System.nanoTime()); set by the queue, kept when it comes back. */
  long enqueuedNanos();

  void setEnqueuedNanos(long nanos);

  /** True once nobody waits for the work any more (its client went away): it is dropped unserved. */
  boolean abandoned();

  /** The queue will not serve this work; the owner answers its client. Called at most once. */
  void refuse(Refusal refusal, String detail);
}
