package sluice.node.backend;

import java.util.function.LongSupplier;
import sluice.protocol.LeaseProtocol.Lease;

/**
 * This node's lease on one back-end: how many of its slots the node may use, and until when.
 * Plain Java with an injected clock; not thread-safe (owned by the back-end's actor).
 *
 * <p>States: none (epoch 0, nothing usable) until the first lease; then the lease last
 * applied, valid while the clock is before {@code demandSentAtNanos + validNanos}, which is
 * when the node must stop starting work on its slots. Only {@link #apply} changes it:
 * <ul>
 *   <li>a lease of the current epoch applies only if its seq is higher (an older one was
 *       overtaken);
 *   <li>a lease of another epoch (a new incarnation of the entity) applies whatever its seq,
 *       and retires the current epoch, unless that epoch was retired itself (a late lease of
 *       an incarnation the node has left behind; the last {@value #RETIRED_KEPT} are kept) or
 *       it answers an older demand than the current lease does (a late lease of an
 *       incarnation that stopped before the current one started: each incarnation only ever
 *       answers demands sent after those the one before it answered).
 * </ul>
 */
public final class LeaseState {
  static final int RETIRED_KEPT = 8;

  private final LongSupplier nanoClock;
  /** Epochs left behind, newest at {@code retiredNext - 1}; 0 marks an empty place. */
  private final long[] retired = new long[RETIRED_KEPT];
  private int retiredNext;
  private long epoch;
  private long seq;
  private int limit;
  private int granted;
  private String reason = "";
  private long demandSentAtNanos;
  private long expiresAtNanos;

  public LeaseState(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** @return false if the lease was ignored (see the class comment) */
  public boolean apply(Lease lease) {
    if (lease.epoch() == 0) {
      return false; // no incarnation issues epoch 0: it stands for "no lease"
    }
    if (lease.epoch() == epoch) {
      if (lease.seq() <= seq) {
        return false;
      }
    } else {
      if (isRetired(lease.epoch())) {
        return false;
      }
      if (epoch != 0 && lease.demandSentAtNanos() - demandSentAtNanos < 0) {
        return false;
      }
      if (epoch != 0) {
        retire(epoch);
      }
      epoch = lease.epoch();
    }
    seq = lease.seq();
    limit = lease.limit();
    granted = lease.granted();
    reason = lease.reason();
    demandSentAtNanos = lease.demandSentAtNanos();
    expiresAtNanos = lease.demandSentAtNanos() + lease.validNanos();
    return true;
  }

  /** The slots the node may use now: the grant while the lease is valid, else 0. */
  public int usable() {
    return valid() ? granted : 0;
  }

  /** A lease was applied and the clock has not reached its expiry. */
  public boolean valid() {
    return epoch != 0 && nanoClock.getAsLong() - expiresAtNanos < 0;
  }

  /** The grant of the last lease applied, valid or not. */
  public int granted() {
    return granted;
  }

  /** The back-end's cluster-wide limit, as last told. */
  public int limit() {
    return limit;
  }

  /** The epoch of the last lease applied; 0 if none. */
  public long epoch() {
    return epoch;
  }

  /** The seq of the last lease applied; 0 if none. */
  public long seq() {
    return seq;
  }

  public String reason() {
    return reason;
  }

  /** When the lease lapses, on this node's clock; meaningless before the first lease. */
  public long expiresAtNanos() {
    return expiresAtNanos;
  }

  private boolean isRetired(long candidate) {
    for (long e : retired) {
      if (e == candidate) {
        return true;
      }
    }
    return false;
  }

  private void retire(long old) {
    retired[retiredNext] = old;
    retiredNext = (retiredNext + 1) % RETIRED_KEPT;
  }
}
