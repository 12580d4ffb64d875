package sluice.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.backend.LeaseBook.Grant;

class LeaseBookTest {
  private static final long EPOCH = 7;
  private static final long OLD_EPOCH = 3;
  private static final Duration LEASE = Duration.ofSeconds(2);
  /** The node has applied every lease sent to it. */
  private static final long SEEN_ALL = Long.MAX_VALUE;

  /** A clock that moves only when told. */
  private static final class FakeClock implements LongSupplier {
    long nanos;

    @Override
    public long getAsLong() {
      return nanos;
    }

    void advance(Duration by) {
      nanos += by.toNanos();
    }

    void set(Duration sinceStart) {
      nanos = sinceStart.toNanos();
    }
  }

  private final FakeClock clock = new FakeClock();

  /** A book that has ended learning, with L = 8. */
  private LeaseBook<String> book() {
    LeaseBook<String> book = new LeaseBook<>(EPOCH, LEASE, clock);
    book.endLearning();
    book.setLimit(8);
    return book;
  }

  /** A report from a node that runs on this book's epoch and has applied every lease. */
  private List<Grant<String>> report(LeaseBook<String> book, String node, int wanted, int held) {
    return book.demand(node, wanted, held, 0, EPOCH, SEEN_ALL, clock.nanos);
  }

  private static Grant<String> to(String node, List<Grant<String>> leases) {
    return leases.stream().filter(g -> g.node().equals(node)).reduce((a, b) -> b)
        .orElseThrow(() -> new AssertionError("no lease to " + node + " in " + leases));
  }

  private static boolean anyTo(String node, List<Grant<String>> leases) {
    return leases.stream().anyMatch(g -> g.node().equals(node));
  }

  // ---- fair share, as the entity did it before the book -----------------------------

  @Test
  void warmSlotsComeOnlyFromWhatNobodyWantsAndGoFirst() {
    var book = book(); // L = 8
    // three idle nodes, each would keep one pre-opened connection: each gets its one
    for (String n : List.of("a", "b", "c")) {
      assertEquals(1, to(n, book.demand(n, 0, 1, 0, 0, EPOCH, SEEN_ALL, clock.nanos)).granted());
    }
    // all the load on b: it wants 20; a and c lose their warm slots (once they confirm)
    List<Grant<String>> leases = book.demand("b", 20, 1, 1, 1, EPOCH, SEEN_ALL, clock.nanos);
    assertEquals(0, to("a", leases).granted());
    assertEquals(0, to("c", leases).granted());
    assertEquals(6, to("b", leases).granted(), "what is free now: 8 - 1 - 1 still held by a and c");
    book.demand("a", 0, 1, 0, 0, EPOCH, SEEN_ALL, clock.nanos);
    book.demand("c", 0, 1, 0, 0, EPOCH, SEEN_ALL, clock.nanos);
    assertEquals(8, to("b", book.demand("b", 20, 1, 6, 6, EPOCH, SEEN_ALL, clock.nanos)).granted(),
        "the node with the work holds all of L");
    // the load stops: b gives back what the others would keep warm, and keeps the rest until
    // a node wants it
    assertEquals(6, to("b", book.demand("b", 0, 1, 8, 8, EPOCH, SEEN_ALL, clock.nanos)).granted());
    book.demand("b", 0, 1, 6, 6, EPOCH, SEEN_ALL, clock.nanos);
    assertEquals(1, to("a", book.demand("a", 0, 1, 0, 0, EPOCH, SEEN_ALL, clock.nanos)).granted());
  }

  @Test
  void oneNodeGetsWhatItWantsUpToTheLimit() {
    var book = book();
    assertEquals(3, to("a", report(book, "a", 3, 0)).granted());
    Grant<String> lease = to("a", report(book, "a", 100, 3));
    assertEquals(8, lease.granted());
    assertEquals(8, lease.limit());
    assertEquals(EPOCH, lease.epoch());
  }

  @Test
  void twoNodesShareAndNeverExceedTheLimit() {
    var book = book();
    assertEquals(8, to("a", report(book, "a", 100, 0)).granted());
    // a may hold all 8; b asks: a's grant drops to its fair share, b gets only what is free (nothing yet)
    var leases = report(book, "b", 100, 0);
    assertEquals(0, to("b", leases).granted());
    assertEquals(4, to("a", leases).granted());
    // a reports it let 4 connections go: b gets them at once, in a lease of its own
    assertEquals(4, to("b", report(book, "a", 100, 4)).granted());
    assertEquals(8, book.granted());
    assertEquals(8, book.committed());
  }

  @Test
  void aLowerLimitIsHonouredAsNodesGiveSlotsBack() {
    var book = book();
    assertEquals(4, to("a", report(book, "a", 4, 4)).granted());
    assertEquals(4, to("b", report(book, "b", 4, 0)).granted());
    var leases = book.setLimit(4);
    assertEquals(2, to("a", leases).granted());
    assertEquals(2, to("b", leases).granted());
    // a still holds 4 connections: even if b asks for more, nothing beyond what is held is lent
    assertEquals(2, to("b", report(book, "b", 10, 2)).granted());
    assertEquals(4, book.granted());
    assertEquals(6, book.committed(), "a's 4 still held, b's 2");
    report(book, "a", 4, 2);
    assertEquals(4, book.committed());
  }

  @Test
  void aReportOlderThanALoweredGrantDoesNotFreeSlots() {
    var book = book();
    Grant<String> full = to("a", report(book, "a", 100, 0));
    assertEquals(8, full.granted());
    Grant<String> lowered = to("a", report(book, "b", 100, 0));
    assertEquals(4, lowered.granted());
    // a report a counted before it saw the lowered grant says 0 held; a may hold 8 by now
    book.demand("a", 100, 0, 8, EPOCH, full.seq(), clock.nanos);
    assertEquals(0, to("b", report(book, "b", 100, 0)).granted());
    assertEquals(8, book.committed("a"));
    // once a confirms after the lowered lease, its freed slots move to b
    var leases = book.demand("a", 100, 4, 4, EPOCH, lowered.seq(), clock.nanos);
    assertEquals(4, to("b", leases).granted());
  }

  @Test
  void slotsOfARemovedNodeGoBack() {
    var book = book();
    assertEquals(8, to("a", report(book, "a", 8, 8)).granted());
    assertEquals(0, to("b", report(book, "b", 8, 0)).granted(), "a still holds everything");
    var leases = book.remove("a");
    assertEquals(8, to("b", leases).granted());
    assertFalse(book.knows("a"));
    assertEquals(List.of(), book.remove("a"), "removing twice changes nothing");
  }

  @Test
  void everyDemandIsAnsweredAndSeqRisesWithEveryLease() {
    var book = book();
    long a1 = to("a", report(book, "a", 2, 0)).seq();
    long a2 = to("a", report(book, "a", 2, 2)).seq();
    long b1 = to("b", report(book, "b", 2, 0)).seq();
    long a3 = to("a", report(book, "a", 2, 2)).seq();
    assertTrue(a1 < a2 && a2 < b1 && b1 < a3, a1 + " " + a2 + " " + b1 + " " + a3);
  }

  @Test
  void leasesEchoTheSendTimeOfTheNodesLatestDemand() {
    var book = book();
    book.demand("a", 100, 0, 0, EPOCH, SEEN_ALL, 111);
    clock.advance(Duration.ofMillis(5));
    Grant<String> toA = to("a", book.demand("a", 100, 0, 0, EPOCH, SEEN_ALL, 222));
    assertEquals(222, toA.demandSentAtNanos());
    assertEquals(LEASE.toNanos(), toA.validNanos());
    // b's demand lowers a's grant: the lease to a, sent on the book's own, echoes a's latest demand
    var leases = book.demand("b", 100, 0, 0, 0, 0, 333);
    assertEquals(222, to("a", leases).demandSentAtNanos());
    assertEquals(333, to("b", leases).demandSentAtNanos());
  }

  // ---- learning ----------------------------------------------------------------------

  @Test
  void aNewBookGrantsNothingWhileLearning() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    assertTrue(book.learning());
    assertEquals(List.of(), book.setLimit(8));
    assertEquals(List.of(), book.demand("a", 4, 0, 0, 0, 0, clock.nanos));
    clock.advance(Duration.ofMillis(500));
    assertEquals(List.of(), book.demand("b", 4, 0, 0, 0, 0, clock.nanos));
    assertEquals(List.of(), book.expire().leases());
    assertEquals(0, book.granted());
    assertEquals(2, book.nodes());
  }

  @Test
  void whenLearningEndsEveryNodeGetsALease() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 4, 0, 0, 0, 0, 10);
    book.demand("b", 4, 0, 0, 0, 0, 20);
    book.demand("c", 0, 0, 0, 0, 0, 30);
    var leases = book.endLearning();
    assertFalse(book.learning());
    assertEquals(List.of("a", "b", "c"), leases.stream().map(Grant::node).toList());
    assertEquals(4, to("a", leases).granted());
    assertEquals(4, to("b", leases).granted());
    assertEquals(0, to("c", leases).granted(), "a node that wants nothing still learns the epoch");
    assertEquals(20, to("b", leases).demandSentAtNanos());
    assertTrue(leases.stream().allMatch(g -> g.epoch() == EPOCH && g.limit() == 8));
    assertEquals(List.of(), book.endLearning(), "learning ends once");
  }

  @Test
  void learningEndsByItselfOneLeaseTimeAfterTheStart() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 4, 0, 0, 0, 0, clock.nanos);
    clock.set(Duration.ofSeconds(1));
    book.demand("a", 4, 0, 0, 0, 0, clock.nanos);
    clock.set(LEASE.minusNanos(1));
    assertEquals(List.of(), book.expire().leases());
    assertTrue(book.learning());
    clock.set(LEASE);
    var expired = book.expire();
    assertFalse(book.learning());
    assertEquals(Map.of(), expired.dropped());
    assertEquals(4, to("a", expired.leases()).granted());
  }

  @Test
  void aDemandAfterTheLearningDeadlineEndsLearning() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 4, 0, 0, 0, 0, clock.nanos);
    clock.set(LEASE);
    var leases = book.demand("b", 4, 0, 0, 0, 0, clock.nanos);
    assertFalse(book.learning());
    assertEquals(4, to("a", leases).granted());
    assertEquals(4, to("b", leases).granted());
  }

  @Test
  void aNodeOnAnOlderEpochHoldingSixOfEightLeavesOnlyTwoForOthers() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 6, 6, 6, OLD_EPOCH, 40, clock.nanos);
    book.demand("b", 8, 0, 0, 0, 0, clock.nanos);
    var leases = book.endLearning();
    assertEquals(4, to("a", leases).granted(), "a's fair share, out of slots it holds anyway");
    assertEquals(2, to("b", leases).granted());
    assertEquals(8, book.committed());
    // a still reports under the old epoch: b gets no more
    book.demand("a", 6, 6, 6, OLD_EPOCH, 40, clock.nanos);
    assertEquals(2, to("b", book.demand("b", 8, 2, 2, EPOCH, SEEN_ALL, clock.nanos)).granted());
    // a applies the new lease and lets two connections go: b gets them
    var confirmed = book.demand("a", 6, 4, 4, EPOCH, to("a", leases).seq(), clock.nanos);
    assertEquals(4, to("b", confirmed).granted());
  }

  @Test
  void aNodeOnAnOlderEpochCountsAtWhatItsLeaseAllowsNotWhatItHolds() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    // a holds 2 connections now but its old lease lets it open 6
    book.demand("a", 6, 2, 6, OLD_EPOCH, 40, clock.nanos);
    book.demand("b", 8, 0, 0, 0, 0, clock.nanos);
    assertEquals(2, to("b", book.endLearning()).granted());
    assertEquals(6, book.committed("a"));
  }

  // ---- expiry ------------------------------------------------------------------------

  @Test
  void aSilentNodeLosesItsSlotsAfterExactlyTheLeaseTime() {
    var book = book();
    assertEquals(8, to("a", report(book, "a", 8, 8)).granted());
    assertEquals(0, to("b", report(book, "b", 8, 0)).granted());
    // a falls silent; b goes on reporting
    clock.set(Duration.ofSeconds(1));
    assertEquals(0, to("b", report(book, "b", 8, 0)).granted());
    clock.set(Duration.ofMillis(1900));
    assertEquals(0, to("b", report(book, "b", 8, 0)).granted());
    clock.set(LEASE.minusNanos(1));
    var early = book.expire();
    assertEquals(Map.of(), early.dropped());
    assertEquals(List.of(), early.leases());
    assertTrue(book.knows("a"));
    clock.set(LEASE);
    var expired = book.expire();
    assertEquals(Map.of("a", 8), expired.dropped());
    assertFalse(book.knows("a"));
    assertEquals(8, to("b", expired.leases()).granted());
  }

  /**
   * The freeze seen in a multi-JVM run: c stops (SIGSTOP) holding 4 of 12, its lease
   * expires, a and b take its slots; c comes back still holding its 4 connections (idle
   * now: it started nothing while its lease was lapsed). a and b may still use 6 each until
   * they confirm their lowered grants, so c must get nothing until they do, or 16 could run.
   */
  @Test
  void aNodeBackFromAnExpiredLeaseGetsNothingWhileTheOthersStillHoldItsSlots() {
    var book = book();
    book.setLimit(12);
    for (String n : List.of("a", "b", "c")) {
      report(book, n, 20, 0);
    }
    for (String n : List.of("a", "b", "c")) {
      assertEquals(4, to(n, report(book, n, 20, 4)).granted());
    }
    // c falls silent; a and b go on reporting until c's lease expires
    clock.set(Duration.ofMillis(1500));
    report(book, "a", 20, 4);
    report(book, "b", 20, 4);
    clock.set(LEASE);
    var expired = book.expire();
    assertEquals(Map.of("c", 4), expired.dropped());
    report(book, "a", 20, 4);
    report(book, "b", 20, 4);
    assertEquals(6, book.granted("a"));
    assertEquals(6, book.granted("b"));
    report(book, "a", 20, 6);
    report(book, "b", 20, 6);
    // c is back, reporting its 4 open connections
    var back = book.demand("c", 20, 4, 0, EPOCH, SEEN_ALL, clock.nanos);
    assertEquals(0, to("c", back).granted(), "a and b may still hold 12");
    assertEquals(4, to("a", back).granted());
    assertEquals(4, to("b", back).granted());
    assertEquals(8, book.granted());
    // a confirms it is down to 4: the book is still over L (4 + 6 + 4), c still gets nothing
    long loweredSeq = to("a", back).seq();
    var afterA = book.demand("a", 20, 4, 4, EPOCH, loweredSeq, clock.nanos);
    assertFalse(anyTo("c", afterA) && to("c", afterA).granted() > 0, "c granted while over L: " + afterA);
    assertEquals(0, book.granted("c"));
    // b confirms too: now c's 4 are within L and it gets them
    var afterB = book.demand("b", 20, 4, 4, EPOCH, to("b", back).seq(), clock.nanos);
    assertEquals(4, to("c", afterB).granted());
    assertEquals(12, book.granted());
    assertEquals(12, book.committed());
  }

  @Test
  void aDemandRenewsTheLease() {
    var book = book();
    report(book, "a", 4, 0);
    clock.set(Duration.ofMillis(1500));
    report(book, "a", 4, 4);
    clock.set(LEASE);
    assertEquals(Map.of(), book.expire().dropped());
    clock.set(Duration.ofMillis(3500));
    assertEquals(Map.of("a", 4), book.expire().dropped());
  }

  @Test
  void aNodeBackAfterExpirySeesItsSeqRiseStill() {
    var book = book();
    long before = to("a", report(book, "a", 4, 0)).seq();
    clock.set(LEASE);
    assertEquals(Set.of("a"), book.expire().dropped().keySet());
    Grant<String> back = to("a", book.demand("a", 4, 0, 0, EPOCH, before, clock.nanos));
    assertTrue(back.seq() > before, back.seq() + " after " + before);
    assertEquals(4, back.granted());
  }

  // ---- epochs ------------------------------------------------------------------------

  @Test
  void aSeqOfTheOldEpochDoesNotConfirmALoweredGrant() {
    var book = book();
    // a still runs on the old incarnation's lease, whose seq is far above this book's
    assertEquals(8, to("a", book.demand("a", 100, 0, 0, OLD_EPOCH, 1000, clock.nanos)).granted());
    Grant<String> lowered = to("a", report(book, "b", 100, 0));
    assertEquals(4, lowered.granted());
    assertTrue(lowered.seq() < 1000);
    // a has not applied this epoch's leases yet: seq 1000 of the old epoch proves nothing
    book.demand("a", 100, 0, 0, OLD_EPOCH, 1000, clock.nanos);
    assertEquals(0, to("b", report(book, "b", 100, 0)).granted());
    assertEquals(8, book.committed("a"));
    var leases = book.demand("a", 100, 4, 4, EPOCH, lowered.seq(), clock.nanos);
    assertEquals(4, to("b", leases).granted());
  }

  @Test
  void aNewBookStartsItsSeqsAgainUnderItsOwnEpoch() {
    var old = new LeaseBook<String>(OLD_EPOCH, LEASE, clock);
    old.endLearning();
    old.setLimit(8);
    Grant<String> last = null;
    for (int i = 0; i < 5; i++) {
      last = to("a", old.demand("a", 8, 8, 8, OLD_EPOCH, SEEN_ALL, clock.nanos));
    }
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 8, 8, 8, OLD_EPOCH, last.seq(), clock.nanos);
    Grant<String> fresh = to("a", book.endLearning());
    assertEquals(EPOCH, fresh.epoch());
    assertTrue(fresh.seq() < last.seq(), "a tells the epochs apart, not the seqs");
    assertEquals(8, fresh.granted());
  }

  @Test
  void aNodeRemovedWhileLearningIsForgotten() {
    var book = new LeaseBook<String>(EPOCH, LEASE, clock);
    book.setLimit(8);
    book.demand("a", 8, 8, 8, OLD_EPOCH, 1, clock.nanos);
    assertEquals(List.of(), book.remove("a"));
    book.demand("b", 8, 0, 0, 0, 0, clock.nanos);
    assertEquals(8, to("b", book.endLearning()).granted());
    assertFalse(anyTo("a", book.endLearning()));
  }

  @Test
  void rejectsEpochZeroAndANonPositiveLeaseTime() {
    assertThrows(IllegalArgumentException.class, () -> new LeaseBook<String>(0, LEASE, clock));
    assertThrows(IllegalArgumentException.class, () -> new LeaseBook<String>(EPOCH, Duration.ZERO, clock));
    assertThrows(IllegalArgumentException.class, () -> new LeaseBook<String>(EPOCH, Duration.ofSeconds(-1), clock));
  }

  // ---- the invariant through random runs -----------------------------------------------

  static LongStream seeds() {
    return LongStream.rangeClosed(1, 20);
  }

  /**
   * Three nodes that obey their leases talk to the book over channels that delay messages
   * (FIFO each way), drop them while a node is cut off, and lose them when a node dies.
   * The limit moves, the clock jumps, the entity restarts with a new epoch. After every
   * step: the grants never add up to more than L; while the counted slots stand above L no
   * node's count rises except by its own report, and no grant rises at all; every node runs
   * no more requests than the book counts for it (its connections may outlive a lapsed lease); no lease leaves a learning book; a node's seq rises with every lease.
   * At the end, once the nodes settle, L is shared out in full.
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void theInvariantHoldsThroughRandomRuns(long seed) {
    new Run(seed).play(4000);
  }

  /** What a node's demand carries. */
  private record DemandMsg(int wanted, int held, int grantedNow, long epoch, long seenSeq, long sentAtNanos) {}

  /** A node that obeys its lease: the node the book is built for (it mirrors the node's LeaseState). */
  private static final class SimNode {
    final String key;
    final ArrayDeque<DemandMsg> toBook = new ArrayDeque<>();
    final ArrayDeque<Grant<String>> toNode = new ArrayDeque<>();
    final Set<Long> retired = new HashSet<>();
    long epoch;
    long seq;
    int granted;
    long expiresAtNanos;
    /** Connections open: what it reports as held. */
    int held;
    /** Of those, the ones running a request: at most {@code held}, none while the lease is lapsed. */
    int busy;
    boolean cutOff;

    SimNode(String key) {
      this.key = key;
    }

    boolean valid(long now) {
      return epoch != 0 && now - expiresAtNanos < 0;
    }

    int usable(long now) {
      return valid(now) ? granted : 0;
    }

    void apply(Grant<String> lease) {
      if (lease.epoch() == epoch) {
        if (lease.seq() <= seq) {
          return;
        }
      } else if (retired.contains(lease.epoch())) {
        return;
      } else if (epoch != 0) {
        retired.add(epoch);
      }
      epoch = lease.epoch();
      seq = lease.seq();
      granted = lease.granted();
      expiresAtNanos = lease.demandSentAtNanos() + lease.validNanos();
    }

    DemandMsg demand(int wanted, long now) {
      return new DemandMsg(wanted, held, usable(now), epoch, seq, now);
    }
  }

  private static final class Run {
    final long seed;
    final SplittableRandom random;
    final FakeClock clock = new FakeClock();
    final List<SimNode> nodes = new ArrayList<>();
    final Set<String> reportedToThisBook = new HashSet<>();
    final Map<String, Long> lastSeqTo = new HashMap<>();
    LeaseBook<String> book;
    long nextEpoch = 100;
    int nextName;
    int step;

    Run(long seed) {
      this.seed = seed;
      this.random = new SplittableRandom(seed);
      clock.nanos = random.nextLong(); // wrap-around of nanoTime must not matter
      newBook();
      for (int i = 0; i < 3; i++) {
        nodes.add(new SimNode("n" + nextName++));
      }
    }

    void play(int steps) {
      for (step = 0; step < steps; step++) {
        Map<String, Integer> countsBefore = counts();
        Map<String, Integer> grantsBefore = grants();
        LeaseBook<String> bookBefore = book;
        String reporter = null;
        int claim = 0;
        int roll = random.nextInt(100);
        if (roll < 20) {
          advance(Duration.ofNanos(random.nextLong(LEASE.toNanos() / 20)));
        } else if (roll < 23) {
          advance(Duration.ofNanos(random.nextLong(LEASE.toNanos() / 4, LEASE.toNanos())));
        } else if (roll < 43) {
          SimNode node = pick();
          if (!node.cutOff) {
            node.toBook.add(node.demand(random.nextInt(11), clock.nanos));
          }
        } else if (roll < 63) {
          SimNode node = pickWith(n -> !n.toBook.isEmpty());
          if (node != null) {
            DemandMsg d = node.toBook.poll();
            reporter = node.key;
            claim = d.epoch() == book.epoch() ? d.held() : Math.max(d.held(), d.grantedNow());
            deliver(node, d);
          }
        } else if (roll < 81) {
          SimNode node = pickWith(n -> !n.toNode.isEmpty());
          if (node != null) {
            node.apply(node.toNode.poll());
          }
        } else if (roll < 89) {
          work(pick());
        } else if (roll < 92) {
          route(book.setLimit(random.nextInt(13)));
        } else if (roll < 95) {
          route(book.expire().leases());
        } else if (roll < 96) {
          SimNode node = pick();
          node.cutOff = !node.cutOff;
          node.toBook.clear();
          node.toNode.clear();
        } else if (roll < 97) {
          kill(pick());
        } else if (roll < 98) {
          restart();
        } else if (nodes.stream().allMatch(n -> reportedToThisBook.contains(n.key))) {
          // what the actor does once every member has reported
          route(book.endLearning());
        }
        check(countsBefore, reporter, claim);
        if (book == bookBefore && book.committed() > book.limit()) {
          for (SimNode node : nodes) {
            int before = grantsBefore.getOrDefault(node.key, 0);
            assertTrue(book.granted(node.key) <= before, at("over L " + book.limit() + " ("
                + book.committed() + " counted), yet " + node.key + "'s grant rose " + before + " -> "
                + book.granted(node.key)));
          }
        }
      }
      settle();
    }

    SimNode pick() {
      return nodes.get(random.nextInt(nodes.size()));
    }

    SimNode pickWith(java.util.function.Predicate<SimNode> p) {
      List<SimNode> some = nodes.stream().filter(p).toList();
      return some.isEmpty() ? null : some.get(random.nextInt(some.size()));
    }

    void newBook() {
      book = new LeaseBook<>(nextEpoch++, LEASE, clock);
      reportedToThisBook.clear();
      lastSeqTo.clear();
    }

    void advance(Duration by) {
      clock.advance(by);
      for (SimNode node : nodes) {
        if (!node.valid(clock.nanos)) {
          node.busy = 0; // the lease lapsed: the node stopped using its slots, its connections may stay open
        }
      }
    }

    void deliver(SimNode node, DemandMsg d) {
      reportedToThisBook.add(node.key);
      route(book.demand(node.key, d.wanted(), d.held(), d.grantedNow(), d.epoch(), d.seenSeq(), d.sentAtNanos()));
    }

    /**
     * Connections open and requests running move: both rise only within the usable grant
     * (a request starts only under a valid lease, on an open connection), both fall freely.
     */
    void work(SimNode node) {
      int usable = node.usable(clock.nanos);
      int next = random.nextInt(Math.max(node.held, usable) + 1);
      node.held = next > node.held ? Math.min(next, usable) : next;
      int busy = random.nextInt(node.held + 1);
      node.busy = busy > node.busy ? Math.min(busy, usable) : Math.min(busy, node.held);
    }

    void kill(SimNode node) {
      nodes.remove(node);
      route(book.remove(node.key));
      nodes.add(new SimNode("n" + nextName++));
    }

    /**
     * A new incarnation. Leases the old one sent reach their nodes first and demands on the
     * way to it are lost: a lease of the old epoch that reached a node after the node's first
     * report to the new one could raise its old grant unseen, which only a full lease time
     * of learning rules out (see BackendEntity).
     */
    void restart() {
      for (SimNode node : nodes) {
        while (!node.toNode.isEmpty()) {
          node.apply(node.toNode.poll());
        }
        node.toBook.clear();
      }
      newBook();
    }

    void route(List<Grant<String>> leases) {
      if (!leases.isEmpty()) {
        assertFalse(book.learning(), at("a learning book sent " + leases));
      }
      for (Grant<String> lease : leases) {
        assertEquals(book.epoch(), lease.epoch(), at("epoch"));
        Long last = lastSeqTo.put(lease.node(), lease.seq());
        assertTrue(last == null || lease.seq() > last, at("seq " + lease.seq() + " after " + last));
        if (lease.granted() > lease.limit()) {
          fail(at("grant above the limit: " + lease));
        }
        for (SimNode node : nodes) {
          if (node.key.equals(lease.node()) && !node.cutOff) {
            node.toNode.add(lease);
          }
        }
      }
    }

    Map<String, Integer> counts() {
      Map<String, Integer> counts = new HashMap<>();
      for (SimNode node : nodes) {
        counts.put(node.key, book.committed(node.key));
      }
      return counts;
    }

    Map<String, Integer> grants() {
      Map<String, Integer> grants = new HashMap<>();
      for (SimNode node : nodes) {
        grants.put(node.key, book.granted(node.key));
      }
      return grants;
    }

    void check(Map<String, Integer> countsBefore, String reporter, int claim) {
      int limit = book.limit();
      assertTrue(book.granted() <= limit, at("grants " + book.granted() + " above L " + limit));
      if (book.committed() > limit) {
        for (SimNode node : nodes) {
          int before = countsBefore.getOrDefault(node.key, 0);
          int after = book.committed(node.key);
          int allowed = node.key.equals(reporter) ? Math.max(before, claim) : before;
          assertTrue(after <= allowed, at("over L " + limit + " (" + book.committed() + " counted), "
              + node.key + " rose " + before + " -> " + after));
        }
      }
      for (SimNode node : nodes) {
        if (!book.learning() || book.knows(node.key)) {
          assertTrue(node.busy <= book.committed(node.key),
              at(node.key + " runs " + node.busy + ", the book counts " + book.committed(node.key)));
        }
      }
    }

    /** Heal, let every node report and apply until nothing moves: L = 9 is shared 3, 3, 3. */
    void settle() {
      for (SimNode node : nodes) {
        node.cutOff = false;
      }
      advance(LEASE); // every lease lapses; learning, if any, ends at the next expiry
      route(book.expire().leases());
      route(book.setLimit(9));
      for (int round = 0; round < 20; round++) {
        for (SimNode node : nodes) {
          node.held = Math.min(node.held, node.usable(clock.nanos));
          node.busy = Math.min(node.busy, node.held);
          node.toBook.add(node.demand(5, clock.nanos));
        }
        for (SimNode node : nodes) {
          while (!node.toBook.isEmpty()) {
            deliver(node, node.toBook.poll());
          }
        }
        for (SimNode node : nodes) {
          while (!node.toNode.isEmpty()) {
            node.apply(node.toNode.poll());
          }
        }
        check(counts(), null, 0);
        advance(Duration.ofMillis(100));
      }
      for (SimNode node : nodes) {
        assertEquals(3, node.usable(clock.nanos), at(node.key + " after settling"));
      }
      assertEquals(9, book.granted(), at("after settling"));
    }

    String at(String what) {
      return "seed " + seed + ", step " + step + ": " + what;
    }
  }
}
