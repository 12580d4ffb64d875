package sluice.node.pcap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sluice.node.settings.ConnectionSettings;
import sluice.node.tcp.L4Connection;

/**
 * The pcap ingress's decisions, frame by frame, with a fake wire, queue and clock (no pcap,
 * no actor): what is queued, what is forwarded with which addresses, when a slot frees.
 */
class FlowTableTest {
  private static final InetSocketAddress BACKEND = new InetSocketAddress("203.0.113.2", 8080);
  private static final ConnectionSettings SETTINGS = new ConnectionSettings(0, Duration.ofSeconds(10),
      Duration.ofSeconds(2), Duration.ofSeconds(10), Duration.ofMillis(100), Duration.ofSeconds(1), 0);
  private static final int PORT = 40000;
  private static final int ISN = 1000;
  private static final int BACKEND_ISN = 50000;

  private long now = 1_000_000_000L;
  private final List<byte[]> toClient = new ArrayList<>();
  private final List<byte[]> toBackend = new ArrayList<>();
  private final List<PcapFlow> queued = new ArrayList<>();
  private final List<String> events = new ArrayList<>();
  private final Map<Integer, byte[]> macs = new HashMap<>(Map.of(Frames.BACKEND, Frames.BACKEND_MAC));
  private boolean refusing;
  private int countedRefused;

  private final FlowTable table = new FlowTable("pcap test", Frames.VIP, 80,
      new FlowTable.Side(Frames.CLIENT_SIDE_MAC, 1500), new FlowTable.Side(Frames.BACKEND_SIDE_MAC, 1500),
      new FlowTable.Wire() {
        @Override
        public void toClient(byte[] frame) {
          toClient.add(frame);
        }

        @Override
        public void toBackend(byte[] frame) {
          toBackend.add(frame);
        }
      },
      new FlowTable.Admission() {
        @Override
        public boolean refusing() {
          return refusing;
        }

        @Override
        public void countRefused() {
          countedRefused++;
        }

        @Override
        public void enqueue(PcapFlow flow) {
          queued.add(flow);
        }
      },
      new FlowTable.Neighbours() {
        @Override
        public byte[] macOf(int ip) {
          return macs.get(ip);
        }

        @Override
        public void learn(int ip, byte[] mac) {
          macs.put(ip, mac);
        }
      },
      () -> now);

  private final L4Connection.Events actor = new L4Connection.Events() {
    @Override
    public void connected(L4Connection connection) {
      events.add("connected");
    }

    @Override
    public void connectFailed(L4Connection connection, Throwable cause) {
      events.add("connectFailed " + cause.getMessage());
    }

    @Override
    public void finished(L4Connection connection, L4Connection.Outcome outcome, long lifetimeNanos) {
      events.add("finished " + outcome);
    }
  };

  private void client(int seq, int ack, int flags, byte[] payload) {
    byte[] f = Frames.fromClient(PORT, seq, ack, flags, payload);
    table.fromClient(f, f.length);
  }

  private void backend(int seq, int ack, int flags, byte[] payload) {
    byte[] f = Frames.fromBackend(PORT, seq, ack, flags, payload);
    table.fromBackend(f, f.length);
  }

  private static TcpFrame read(byte[] frame) {
    return TcpFrame.parse(frame, frame.length);
  }

  /** A flow through the three-way handshake: queued, admitted, SYN-ACK, ACK. */
  private PcapFlow established() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    flow.connect(null, BACKEND, actor);
    backend(BACKEND_ISN, ISN + 1, TcpFrame.SYN | TcpFrame.ACK, new byte[0]);
    client(ISN + 1, BACKEND_ISN + 1, TcpFrame.ACK, new byte[0]);
    toClient.clear();
    toBackend.clear();
    return flow;
  }

  @Test
  void retransmittedSynsAreRecognisedAndQueuedOnce() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    now += Duration.ofSeconds(1).toNanos();
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    now += Duration.ofSeconds(2).toNanos();
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    assertEquals(1, queued.size(), "one flow in the queue for three copies of one SYN");
    assertEquals(2, table.counts().synRetransmitsAbsorbed());
    assertTrue(toClient.isEmpty() && toBackend.isEmpty(), "a queued SYN is held, not answered");
    assertEquals(1, table.size());

    // the client gave up and tried again from the same port: the new SYN replaces the held one, in place
    client(ISN + 777, 0, TcpFrame.SYN, new byte[0]);
    assertEquals(1, queued.size());
    assertEquals(1, table.counts().synsReplaced());
    queued.get(0).connect(null, BACKEND, actor);
    assertEquals(ISN + 777, read(toBackend.get(0)).seq(), "the latest SYN goes to the back-end");
  }

  @Test
  void anAdmittedFlowIsForwardedBothWaysWithItsAddressesRewritten() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    flow.connect(null, BACKEND, actor);
    assertEquals(1, toBackend.size());
    byte[] syn = toBackend.get(0);
    TcpFrame s = read(syn);
    assertEquals(Frames.CLIENT, s.srcIp(), "the client's own address stays (L4/3: the back-end routes through us)");
    assertEquals(PORT, s.srcPort());
    assertEquals(Frames.BACKEND, s.dstIp());
    assertEquals(8080, s.dstPort());
    assertEquals(ISN, s.seq());
    assertArrayEquals(Frames.SYN_OPTIONS, Frames.options(syn), "TCP options pass unchanged");
    assertTrue(TcpFrame.checksumsValid(syn));
    assertArrayEquals(Frames.BACKEND_MAC, java.util.Arrays.copyOfRange(syn, 0, 6));
    assertArrayEquals(Frames.BACKEND_SIDE_MAC, java.util.Arrays.copyOfRange(syn, 6, 12));
    assertEquals(List.of(), events);

    // a retransmission while it connects goes on too: it is the back-end's to answer
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    assertEquals(2, toBackend.size());

    backend(BACKEND_ISN, ISN + 1, TcpFrame.SYN | TcpFrame.ACK, new byte[0]);
    assertEquals(List.of("connected"), events);
    byte[] synAck = toClient.get(0);
    TcpFrame a = read(synAck);
    assertEquals(Frames.VIP, a.srcIp(), "the back-end's answer comes from the virtual address");
    assertEquals(80, a.srcPort());
    assertEquals(Frames.CLIENT, a.dstIp());
    assertEquals(PORT, a.dstPort());
    assertTrue(TcpFrame.checksumsValid(synAck));
    assertArrayEquals(Frames.CLIENT_MAC, java.util.Arrays.copyOfRange(synAck, 0, 6));
    assertArrayEquals(Frames.CLIENT_SIDE_MAC, java.util.Arrays.copyOfRange(synAck, 6, 12));

    client(ISN + 1, BACKEND_ISN + 1, TcpFrame.ACK | TcpFrame.PSH, "hello".getBytes());
    assertArrayEquals("hello".getBytes(), Frames.payload(toBackend.get(2)));
    backend(BACKEND_ISN + 1, ISN + 6, TcpFrame.ACK | TcpFrame.PSH, "world".getBytes());
    assertArrayEquals("world".getBytes(), Frames.payload(toClient.get(1)));
    assertEquals(PcapFlow.State.RELAYING, flow.state);
  }

  @Test
  void bothFinsFreeTheSlotOnceAndTheLastAckStillPasses() {
    PcapFlow flow = established();
    client(ISN + 1, BACKEND_ISN + 1, TcpFrame.ACK | TcpFrame.FIN, new byte[0]);
    assertEquals(List.of("connected"), events, "a half-close does not free the slot");
    backend(BACKEND_ISN + 1, ISN + 2, TcpFrame.ACK | TcpFrame.FIN, new byte[0]);
    assertEquals(List.of("connected", "finished COMPLETED"), events);
    assertEquals(PcapFlow.State.LINGER, flow.state);
    client(ISN + 2, BACKEND_ISN + 2, TcpFrame.ACK, new byte[0]);
    assertEquals(3, toBackend.size() + toClient.size(), "FIN, FIN and the last ACK all went on");
    backend(BACKEND_ISN + 1, ISN + 2, TcpFrame.ACK | TcpFrame.FIN, new byte[0]); // a retransmitted FIN
    assertEquals(2, toClient.size());
    assertEquals(List.of("connected", "finished COMPLETED"), events, "finished once");

    now += FlowTable.LINGER.toNanos();
    table.housekeeping();
    assertEquals(0, table.size());
    client(ISN + 2, BACKEND_ISN + 2, TcpFrame.ACK, new byte[0]);
    assertEquals(2, toBackend.size(), "after the linger, nothing matches: dropped, unanswered");
    assertTrue(toClient.stream().noneMatch(f -> read(f).has(TcpFrame.RST)));
  }

  @Test
  void aNewSynFromALingeringPortStartsANewFlow() {
    PcapFlow flow = established();
    client(ISN + 1, BACKEND_ISN + 1, TcpFrame.ACK | TcpFrame.FIN, new byte[0]);
    backend(BACKEND_ISN + 1, ISN + 2, TcpFrame.ACK | TcpFrame.FIN, new byte[0]);
    client(ISN + 99_000, 0, TcpFrame.SYN, new byte[0]);
    assertEquals(2, queued.size());
    assertEquals(PcapFlow.State.DONE, flow.state);
    assertSame(queued.get(1), table.flow(Frames.CLIENT, PORT));
  }

  @Test
  void aClientResetIsPassedOnAndFreesTheSlot() {
    PcapFlow flow = established();
    client(ISN + 1, 0, TcpFrame.RST, new byte[0]);
    assertTrue(read(toBackend.get(0)).has(TcpFrame.RST));
    assertEquals(Frames.BACKEND, read(toBackend.get(0)).dstIp());
    assertEquals(List.of("connected", "finished CLIENT_ABORTED"), events);
    assertEquals(PcapFlow.State.DONE, flow.state);
    assertEquals(0, table.size());
  }

  @Test
  void aBackendResetIsPassedOnAndFreesTheSlot() {
    established();
    backend(BACKEND_ISN + 1, ISN + 1, TcpFrame.RST | TcpFrame.ACK, new byte[0]);
    TcpFrame r = read(toClient.get(0));
    assertTrue(r.has(TcpFrame.RST));
    assertEquals(Frames.VIP, r.srcIp());
    assertEquals(List.of("connected", "finished BACKEND_FAILED"), events);
    assertEquals(0, table.size());
  }

  @Test
  void anIdleFlowIsResetOnBothSidesAtTheSequenceNumbersEachExpects() {
    PcapFlow flow = established();
    client(ISN + 1, BACKEND_ISN + 1, TcpFrame.ACK | TcpFrame.PSH, new byte[300]);
    backend(BACKEND_ISN + 1, ISN + 301, TcpFrame.ACK | TcpFrame.PSH, new byte[200]);
    toClient.clear();
    toBackend.clear();
    now += SETTINGS.idleTimeout().toNanos() - 1;
    flow.sweep(now, SETTINGS);
    assertEquals(List.of("connected"), events, "not idle yet");
    now += 1;
    flow.sweep(now, SETTINGS);
    assertEquals(List.of("connected", "finished IDLE_TIMEOUT"), events);
    TcpFrame toC = read(toClient.get(0));
    assertEquals(TcpFrame.RST | TcpFrame.ACK, toC.flags());
    assertEquals(BACKEND_ISN + 201, toC.seq(), "the client's next expected sequence number");
    assertEquals(ISN + 301, toC.ack());
    assertEquals(Frames.VIP, toC.srcIp());
    TcpFrame toB = read(toBackend.get(0));
    assertEquals(TcpFrame.RST | TcpFrame.ACK, toB.flags());
    assertEquals(ISN + 301, toB.seq(), "the back-end's next expected sequence number");
    assertEquals(Frames.CLIENT, toB.srcIp());
    assertEquals(0, table.size());
  }

  @Test
  void aRefusedQueuedClientGetsAResetThatAcknowledgesItsSyn() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    flow.refuse(sluice.node.queue.Work.Refusal.QUEUE_TIMEOUT, "waited too long");
    TcpFrame r = read(toClient.get(0));
    assertEquals(TcpFrame.RST | TcpFrame.ACK, r.flags());
    assertEquals(ISN + 1, r.ack(), "a client in SYN-SENT takes only a reset that acknowledges its SYN");
    assertEquals(Frames.VIP, r.srcIp());
    assertEquals(80, r.srcPort());
    assertTrue(flow.abandoned());
    assertEquals(0, table.size());
  }

  @Test
  void aClientThatResetsWhileQueuedIsDroppedByTheQueue() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    assertFalse(flow.abandoned());
    client(ISN + 1, 0, TcpFrame.RST, new byte[0]);
    assertTrue(flow.abandoned());
    flow.connect(null, BACKEND, actor); // taken by an actor all the same: its slot comes straight back
    assertEquals(List.of("finished CLIENT_ABORTED"), events);
    assertTrue(toBackend.isEmpty());
  }

  @Test
  void aBackendThatResetsTheSynOrDoesNotAnswerSendsTheFlowBackToTheQueue() {
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    flow.connect(null, BACKEND, actor);
    backend(0, ISN + 1, TcpFrame.RST | TcpFrame.ACK, new byte[0]);
    assertEquals(1, events.size());
    assertTrue(events.get(0).startsWith("connectFailed connection refused"), events.toString());
    assertEquals(PcapFlow.State.QUEUED, flow.state);
    assertTrue(toClient.isEmpty(), "the client knows nothing of it: it still waits");

    flow.connect(null, BACKEND, actor); // the queue gave it to an actor again
    now += SETTINGS.connectTimeout().toNanos();
    flow.sweep(now, SETTINGS);
    assertTrue(events.get(1).startsWith("connectFailed no answer to the SYN"), events.toString());
    assertEquals(PcapFlow.State.QUEUED, flow.state);
  }

  @Test
  void aSynIsHeldUntilTheBackendsEthernetAddressIsKnown() {
    macs.clear();
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    PcapFlow flow = queued.get(0);
    flow.connect(null, BACKEND, actor);
    assertTrue(toBackend.isEmpty());
    table.housekeeping();
    assertTrue(toBackend.isEmpty());
    macs.put(Frames.BACKEND, Frames.BACKEND_MAC); // resolved meanwhile
    table.housekeeping();
    assertEquals(1, toBackend.size());
    assertEquals(ISN, read(toBackend.get(0)).seq());
  }

  @Test
  void whileTheQueueIsAboveItsThresholdANewClientIsResetAtOnce() {
    refusing = true;
    client(ISN, 0, TcpFrame.SYN, new byte[0]);
    assertTrue(queued.isEmpty());
    assertEquals(1, countedRefused);
    assertEquals(TcpFrame.RST | TcpFrame.ACK, read(toClient.get(0)).flags());
    assertEquals(0, table.size());
  }

  @Test
  void aStoppingIngressResetsNewSynsAndClosesWhatItHolds() {
    PcapFlow flow = established();
    table.stopAccepting();
    byte[] other = Frames.fromClient(PORT + 1, 7, 0, TcpFrame.SYN, new byte[0]);
    table.fromClient(other, other.length);
    assertEquals(1, queued.size(), "not queued");
    assertTrue(read(toClient.get(0)).has(TcpFrame.RST));
    flow.closeNow(L4Connection.Outcome.STOPPED);
    assertEquals(List.of("connected", "finished STOPPED"), events);
    assertEquals(3, toClient.size() + toBackend.size(), "one reset for the new SYN, one each way for the flow");
    assertNull(table.flow(Frames.CLIENT, PORT));
  }

  @Test
  void framesThatMatchNoFlowOrAnotherBackendAreDroppedUnanswered() {
    client(ISN + 1, 5, TcpFrame.ACK, new byte[10]); // no flow
    established();
    byte[] stranger = Frames.tcp(Frames.BACKEND_MAC, Frames.BACKEND_SIDE_MAC, Frames.BACKEND, 9999, Frames.CLIENT,
        PORT, 1, 1, TcpFrame.ACK, new byte[0], new byte[4]);
    table.fromBackend(stranger, stranger.length); // right client, wrong back-end port
    byte[] elsewhere = Frames.tcp(Frames.CLIENT_MAC, Frames.CLIENT_SIDE_MAC, Frames.CLIENT, PORT, Frames.VIP, 81, 1, 1,
        TcpFrame.ACK, new byte[0], new byte[4]);
    table.fromClient(elsewhere, elsewhere.length); // another port of the virtual address
    assertTrue(toClient.isEmpty() && toBackend.isEmpty());
    assertEquals(3, table.counts().framesDropped());
  }
}
