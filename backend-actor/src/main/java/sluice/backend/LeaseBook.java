package sluice.backend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The budget book of one back-end's entity incarnation: the limit L and the slots lent to
 * each node as leases. Plain Java with an injected clock; the actor around it only carries
 * messages. Generic in the node key {@code N} (the actor uses the node pool's reply
 * reference, tests use strings).
 *
 * <p>Per node: {@code granted} (what its lease allows), {@code held} (what it may hold: its
 * report, more while it has not confirmed a lowered grant, or what a lease of another
 * incarnation lets it use), {@code wanted}, the {@code seq} of its last lease, the seq at
 * which its grant was last lowered, the send time of its last demand (echoed in every lease
 * to it) and an expiry on this book's clock (when its last demand arrived plus the lease
 * time). A node counts as max(granted, held).
 *
 * <p>Invariant: the sum of the counts of the nodes in the book (those whose lease has not
 * expired) never exceeds L, and neither does the sum of the grants. A grant rises only out
 * of free slots, so the book never breaks the first on its own; it can stand above L only
 * when L drops below what nodes already hold, or when a node reports slots held under a
 * lease of another incarnation. Slots a node holds cannot be taken back: the book lowers
 * grants at once and lends nothing new until the nodes report those slots closed or their
 * leases expire.
 *
 * <p>States: a new book is <em>learning</em>: it records every demand, grants nothing and
 * sends no lease, until {@link #endLearning()} or one lease time after its start (by then
 * every lease of an older incarnation has lapsed on its node). A node enters with its first
 * demand and leaves through {@link #expire()} (no demand for a lease time) or
 * {@link #remove}. Every method that changes the book returns the leases to send now.
 *
 * @param <N> what identifies a node's pool
 */
public final class LeaseBook<N> {

  /**
   * A lease to send to {@code node} now. The node may use {@code granted} slots until its own
   * clock reaches {@code demandSentAtNanos + validNanos}.
   */
  public record Grant<N>(
      N node, long epoch, long seq, int limit, int granted, long demandSentAtNanos, long validNanos) {}

  /** What {@link #expire()} did: the nodes dropped (with the slots they counted) and the leases to send. */
  public record Expired<N>(Map<N, Integer> dropped, List<Grant<N>> leases) {}

  private static final class Account {
    int granted;
    int held;
    int wanted;
    /** Slots for pre-opened connections, lent only out of slots no node wants. */
    int warm;
    long seq;
    long loweredAtSeq;
    long demandSentAtNanos;
    long expiresAtNanos;

    int committed() {
      return Math.max(granted, held);
    }
  }

  private final long epoch;
  private final long leaseNanos;
  private final LongSupplier nanoClock;
  private final long startedAtNanos;
  private final Map<N, Account> accounts = new LinkedHashMap<>();
  private int limit;
  private boolean learning = true;
  /**
   * The seq of the last lease sent to any node. One counter for the whole book, so that a
   * node that expired and came back still sees its seq rise within this epoch.
   */
  private long lastSeq;

  /**
   * @param epoch     this incarnation, never 0 (0 means "no lease" in a node's demand)
   * @param leaseTime how long a lease is valid after the demand it answers was sent
   */
  public LeaseBook(long epoch, Duration leaseTime, LongSupplier nanoClock) {
    if (epoch == 0) {
      throw new IllegalArgumentException("epoch must not be 0, which stands for no lease");
    }
    if (leaseTime.isNegative() || leaseTime.isZero()) {
      throw new IllegalArgumentException("lease time must be > 0, was " + leaseTime);
    }
    this.epoch = epoch;
    this.leaseNanos = leaseTime.toNanos();
    this.nanoClock = nanoClock;
    this.startedAtNanos = nanoClock.getAsLong();
  }

  /**
   * A node's report, which also renews its lease.
   *
   * @param held       slots the node holds now (connections open or busy)
   * @param grantedNow slots it may still use under its current lease (0 if none or lapsed)
   * @param nodeEpoch  epoch of the lease the node applies (0 if none)
   * @param seenSeq    seq of that lease
   * @param sentAtNanos the node's clock when it sent the report; echoed in its leases
   * @return the leases to send: none while learning, else at least one to {@code node}
   */
  public List<Grant<N>> demand(
      N node, int wanted, int held, int grantedNow, long nodeEpoch, long seenSeq, long sentAtNanos) {
    return demand(node, wanted, 0, held, grantedNow, nodeEpoch, seenSeq, sentAtNanos);
  }

  /**
   * As {@link #demand(Object, int, int, int, long, long, long)}, with {@code warm} slots the
   * node would keep for pre-opened connections: it gets them only out of slots that no node
   * wants (and gives them up first when one does).
   */
  public List<Grant<N>> demand(
      N node, int wanted, int warm, int held, int grantedNow, long nodeEpoch, long seenSeq, long sentAtNanos) {
    long now = nanoClock.getAsLong();
    Account account = accounts.computeIfAbsent(node, n -> new Account());
    account.wanted = Math.max(0, wanted);
    account.warm = Math.max(0, warm);
    account.demandSentAtNanos = sentAtNanos;
    account.expiresAtNanos = now + leaseNanos;
    boolean ours = nodeEpoch == epoch;
    // under a lease of another incarnation the node may use all of that lease, whatever it holds now
    int reported = ours ? Math.max(0, held) : Math.max(0, Math.max(held, grantedNow));
    // A report proves slots free only if the node counted them after it saw every lowered
    // grant of this epoch; a report under another epoch has seen none of ours.
    boolean current = ours ? seenSeq >= account.loweredAtSeq : account.loweredAtSeq == 0;
    account.held = current ? reported : Math.max(account.held, reported);
    if (learning) {
      return learningDeadlinePassed(now) ? endLearning() : List.of();
    }
    Set<N> changed = rebalance();
    changed.add(node); // every demand is answered: the answer renews the lease
    return issue(changed);
  }

  /** A new limit from the controller. */
  public List<Grant<N>> setLimit(int newLimit) {
    limit = Math.max(0, newLimit);
    return learning ? List.of() : issue(rebalance());
  }

  /**
   * Ends learning now (the actor knows every node has reported): grants from what the nodes
   * reported and returns a lease for every node. Nothing if learning has already ended.
   */
  public List<Grant<N>> endLearning() {
    if (!learning) {
      return List.of();
    }
    learning = false;
    rebalance();
    return issue(accounts.keySet());
  }

  /**
   * Drops every node whose last demand arrived a lease time ago or more: the node stopped
   * starting work on its slots when its own lease lapsed, which is earlier, so they are free.
   * Also ends learning once a lease time has passed since the book started.
   */
  public Expired<N> expire() {
    long now = nanoClock.getAsLong();
    Map<N, Integer> dropped = new LinkedHashMap<>();
    for (Iterator<Map.Entry<N, Account>> it = accounts.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<N, Account> entry = it.next();
      if (now - entry.getValue().expiresAtNanos >= 0) {
        dropped.put(entry.getKey(), entry.getValue().committed());
        it.remove();
      }
    }
    List<Grant<N>> leases;
    if (learning) {
      leases = learningDeadlinePassed(now) ? endLearning() : List.of();
    } else {
      leases = dropped.isEmpty() ? List.of() : issue(rebalance());
    }
    return new Expired<>(dropped, leases);
  }

  /** A node known to be gone (its pool stopped): its slots are free now. */
  public List<Grant<N>> remove(N node) {
    if (accounts.remove(node) == null || learning) {
      return List.of();
    }
    return issue(rebalance());
  }

  public long epoch() {
    return epoch;
  }

  public int limit() {
    return limit;
  }

  public boolean learning() {
    return learning;
  }

  public long startedAtNanos() {
    return startedAtNanos;
  }

  public Duration leaseTime() {
    return Duration.ofNanos(leaseNanos);
  }

  /** Nodes in the book. */
  public int nodes() {
    return accounts.size();
  }

  /** The nodes in the book, in the order it first heard of them. */
  public List<N> holders() {
    return List.copyOf(accounts.keySet());
  }

  public boolean knows(N node) {
    return accounts.containsKey(node);
  }

  /** Sum of the grants. */
  public int granted() {
    return accounts.values().stream().mapToInt(a -> a.granted).sum();
  }

  /** Sum over nodes of max(granted, held): the slots counted as used. */
  public int committed() {
    return accounts.values().stream().mapToInt(Account::committed).sum();
  }

  /** The node's grant, 0 if it is not in the book. */
  public int granted(N node) {
    Account account = accounts.get(node);
    return account == null ? 0 : account.granted;
  }

  /** The slots counted for the node, max(granted, held); 0 if it is not in the book. */
  public int committed(N node) {
    Account account = accounts.get(node);
    return account == null ? 0 : account.committed();
  }

  private boolean learningDeadlinePassed(long now) {
    return now - (startedAtNanos + leaseNanos) >= 0;
  }

  /**
   * Moves grants toward a fair share of L among the nodes that want slots: each node's
   * target is what it wants, capped by an equal split of L that leftover slots top up.
   * A node keeps slots above its target until another node needs them or L drops below
   * what is lent (so a node whose demand dips does not close and reopen connections).
   * Lowers grants at once; raises them only out of slots that are free now.
   *
   * @return the nodes whose grant changed, in book order
   */
  private Set<N> rebalance() {
    Map<N, Integer> targets = fairTargets();
    int committed = 0;
    int shortfall = 0;
    for (var entry : accounts.entrySet()) {
      Account account = entry.getValue();
      committed += account.committed();
      shortfall += Math.max(0, targets.get(entry.getKey()) - account.committed());
    }
    int free = limit - committed;
    int reclaim = Math.max(0, -free) + Math.max(0, shortfall - Math.max(0, free));
    Set<N> changed = new LinkedHashSet<>();
    for (var entry : accounts.entrySet()) {
      Account account = entry.getValue();
      int excess = account.granted - targets.get(entry.getKey());
      if (reclaim > 0 && excess > 0) {
        int take = Math.min(excess, reclaim);
        reclaim -= take;
        // until the node confirms, it may still hold every slot of its old grant
        account.held = Math.max(account.held, account.granted);
        account.granted -= take;
        // the lease that tells the node is issued below, with a seq above every earlier one
        account.loweredAtSeq = lastSeq + 1;
        changed.add(entry.getKey());
      }
    }
    for (var entry : accounts.entrySet()) {
      Account account = entry.getValue();
      int target = targets.get(entry.getKey());
      // Over L (free < 0) nothing rises, not even onto slots the node already holds: those
      // may be connections it kept through an expired lease, whose slots the others now use.
      if (target > account.granted && free >= 0) {
        // within L, slots already held above the grant are counted in committed: reuse them first
        int before = account.committed();
        int after = Math.min(target, before + Math.max(0, free));
        if (after > account.granted) {
          free -= Math.max(0, after - before);
          account.granted = after;
          changed.add(entry.getKey());
        }
      }
    }
    return changed;
  }

  private Map<N, Integer> fairTargets() {
    Map<N, Integer> targets = new LinkedHashMap<>();
    int remaining = limit;
    List<N> open = new ArrayList<>();
    for (var entry : accounts.entrySet()) {
      targets.put(entry.getKey(), 0);
      if (entry.getValue().wanted > 0) {
        open.add(entry.getKey());
      }
    }
    // water-filling: give each open node an equal share, capped by what it wants
    while (remaining > 0 && !open.isEmpty()) {
      int share = Math.max(1, remaining / open.size());
      List<N> stillOpen = new ArrayList<>();
      for (N node : open) {
        if (remaining == 0) {
          break;
        }
        int wanted = accounts.get(node).wanted;
        int give = Math.min(Math.min(share, wanted - targets.get(node)), remaining);
        targets.merge(node, give, Integer::sum);
        remaining -= give;
        if (wanted > targets.get(node)) {
          stillOpen.add(node);
        }
      }
      open = stillOpen;
    }
    // what nobody wants may keep pre-opened connections warm, one slot at a time around the nodes
    boolean gave = true;
    while (remaining > 0 && gave) {
      gave = false;
      for (var entry : accounts.entrySet()) {
        if (remaining > 0 && targets.get(entry.getKey()) < entry.getValue().warm) {
          targets.merge(entry.getKey(), 1, Integer::sum);
          remaining--;
          gave = true;
        }
      }
    }
    return targets;
  }

  private List<Grant<N>> issue(Collection<N> nodes) {
    List<Grant<N>> leases = new ArrayList<>(nodes.size());
    for (N node : nodes) {
      Account account = accounts.get(node);
      account.seq = ++lastSeq;
      leases.add(new Grant<>(node, epoch, account.seq, limit, account.granted,
          account.demandSentAtNanos, leaseNanos));
    }
    return leases;
  }
}
