package sluice.node.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import sluice.protocol.LeaseProtocol.Lease;

class LeaseStateTest {
  private static final long VALID = 2_000;

  private long now;
  private final LeaseState state = new LeaseState(() -> now);

  private static Lease lease(long epoch, long seq, int granted, long demandSentAtNanos) {
    return new Lease("b", epoch, seq, 10, granted, demandSentAtNanos, VALID, "e" + epoch + "s" + seq);
  }

  @Test
  void nothingIsUsableBeforeTheFirstLease() {
    assertEquals(0, state.epoch());
    assertEquals(0, state.seq());
    assertEquals(0, state.usable());
    assertFalse(state.valid());
  }

  @Test
  void aLeaseIsUsableUntilItsDemandWasSentPlusItsValidity() {
    now = 1_500;
    assertTrue(state.apply(lease(5, 1, 4, 1_000)));
    assertEquals(4, state.usable());
    assertEquals(4, state.granted());
    assertEquals(10, state.limit());
    assertEquals("e5s1", state.reason());
    assertEquals(3_000, state.expiresAtNanos());
  }

  @Test
  void theLeaseLapsesExactlyAtItsExpiry() {
    assertTrue(state.apply(lease(5, 1, 4, 1_000)));
    now = 2_999;
    assertTrue(state.valid());
    assertEquals(4, state.usable());
    now = 3_000;
    assertFalse(state.valid());
    assertEquals(0, state.usable());
    assertEquals(4, state.granted(), "the grant is still known, only not usable");
  }

  @Test
  void usableIsBackAfterARenewal() {
    assertTrue(state.apply(lease(5, 1, 4, 1_000)));
    now = 3_500;
    assertEquals(0, state.usable());
    assertTrue(state.apply(lease(5, 2, 4, 3_400)));
    assertEquals(4, state.usable());
    now = 5_399;
    assertEquals(4, state.usable());
    now = 5_400;
    assertEquals(0, state.usable());
  }

  @Test
  void aStaleSeqOfTheSameEpochIsIgnored() {
    assertTrue(state.apply(lease(5, 3, 6, 1_000)));
    assertFalse(state.apply(lease(5, 2, 1, 1_100)), "overtaken by seq 3");
    assertFalse(state.apply(lease(5, 3, 1, 1_100)), "seq 3 again");
    assertEquals(6, state.granted());
    assertEquals(3, state.seq());
    assertEquals(3_000, state.expiresAtNanos());
  }

  @Test
  void aNewEpochIsAcceptedWithALowerSeq() {
    assertTrue(state.apply(lease(5, 900, 6, 1_000)));
    assertTrue(state.apply(lease(6, 1, 2, 1_200)));
    assertEquals(6, state.epoch());
    assertEquals(1, state.seq());
    assertEquals(2, state.usable());
  }

  @Test
  void aLateLeaseOfARetiredEpochIsIgnored() {
    assertTrue(state.apply(lease(5, 3, 6, 1_000)));
    assertTrue(state.apply(lease(6, 1, 2, 1_200)));
    assertFalse(state.apply(lease(5, 4, 8, 1_300)), "epoch 5 was left behind");
    assertEquals(6, state.epoch());
    assertEquals(2, state.granted());
  }

  @Test
  void theLastEightEpochsLeftBehindAreRemembered() {
    long sent = 1_000;
    for (long epoch = 1; epoch <= 10; epoch++) {
      assertTrue(state.apply(lease(epoch, 1, 1, sent++)));
    }
    // 1..9 were retired, in that order; the last eight are 2..9
    for (long epoch = 2; epoch <= 9; epoch++) {
      assertFalse(state.apply(lease(epoch, 5, 1, sent++)), "epoch " + epoch);
    }
    assertTrue(state.apply(lease(1, 5, 1, sent)), "epoch 1 fell out of the eight");
  }

  @Test
  void aLeaseOfAnotherEpochAnsweringAnOlderDemandIsIgnored() {
    // the node never applied epoch 4: its lease arrives late, after one of epoch 6
    assertTrue(state.apply(lease(6, 1, 2, 5_000)));
    assertFalse(state.apply(lease(4, 7, 8, 4_000)));
    assertEquals(6, state.epoch());
    assertEquals(2, state.granted());
  }

  @Test
  void aLeaseOfEpochZeroIsIgnored() {
    assertFalse(state.apply(lease(0, 1, 4, 1_000)));
    assertEquals(0, state.usable());
  }
}
