package sluice.node.pcap;

import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.settings.ConnectionSettings;
import sluice.node.tcp.L4Connection.Events;
import sluice.node.tcp.L4Connection.Outcome;

/**
 * The flows of one pcap ingress (one virtual address), by client address and port, and what
 * happens to each packet: the decisions of the L4/3 ingress, in plain Java with an injected
 * clock; the frames it sends go to a {@link Wire}. {@link PcapIngress} feeds it what pcap
 * captures; a test feeds it frames it made.
 *
 * <p>A flow's states ({@link PcapFlow.State}), all changed under this table's lock:
 * <ul>
 *   <li>QUEUED: the client's SYN arrived and the flow is queued work in its pool's queue. The
 *       SYN is held, not answered; the client's retransmissions of it (same initial sequence
 *       number) are recognised and absorbed, not queued again; a SYN with another initial
 *       sequence number (the client gave up and tried again from the same port) replaces the
 *       held one and keeps the flow's place. The client's RST drops the flow (the queue sees
 *       it abandoned). The queue refusing it (full, timed out, stopping) sends the client a
 *       reset.
 *   <li>CONNECTING: a back-end actor holds a slot for it: the held SYN went to the back-end
 *       (destination rewritten to it; the client's own address stays, so the back-end routes its
 *       answer through the dispatcher); the client's retransmitted SYNs go too. The back-end's
 *       SYN-ACK makes it RELAYING; its RST, or no SYN-ACK within {@code connect-timeout},
 *       sends it back to the queue (the actor marks the back-end down, as for a refused
 *       socket).
 *   <li>RELAYING: every packet goes on, client to back-end with the destination rewritten,
 *       back-end to client with the source rewritten to the virtual address. The slot frees
 *       when both sides have sent FIN (the flow then LINGERs), when either side sends RST
 *       (passed on), or after {@code idle-timeout} without a packet (both sides get a reset).
 *   <li>LINGER: the slot is free; the flow's addresses stay for {@link #LINGER} so that the
 *       last ACK and retransmitted FINs still reach their side. A new SYN from the same client
 *       address and port starts a new flow.
 *   <li>DONE: out of the table. A packet that matches no flow is dropped, unanswered.
 * </ul>
 * A flow in CONNECTING or RELAYING holds one slot of its back-end actor and tells it {@link
 * Events#finished} exactly once.
 */
final class FlowTable {
  private static final Logger log = LoggerFactory.getLogger(FlowTable.class);

  /** How long a finished flow's addresses stay (the last ACK, retransmitted FINs). */
  static final Duration LINGER = Duration.ofSeconds(5);

  /** Where frames go out. Called under the table's lock; must not block for long. */
  interface Wire {
    /** Sends a frame on the client-facing interface. */
    void toClient(byte[] frame);

    /** Sends a frame on the back-end interface. */
    void toBackend(byte[] frame);
  }

  /** The pool's queue, as the ingress uses it. */
  interface Admission {
    /** The pool's queue is above its refuse threshold: a new client is reset at once. */
    boolean refusing();

    /** Counts a client reset because {@link #refusing()}. */
    void countRefused();

    /** Queues a new flow (a tell: it returns at once). */
    void enqueue(PcapFlow flow);
  }

  /** The Ethernet addresses of the back-ends (or of their next hop). Never does I/O. */
  interface Neighbours {
    /** Null while unknown; the ingress then resolves it off the lock. */
    byte[] macOf(int ip);

    /** A frame from {@code ip} came from {@code mac}. */
    void learn(int ip, byte[] mac);
  }

  /** One side of the dispatcher: its interface's Ethernet address and MTU. */
  record Side(byte[] mac, int mtu) {}

  private final String id;
  private final int vip;
  private final int vipPort;
  private final Side clientSide;
  private final Side backendSide;
  private final Wire wire;
  private final Admission admission;
  private final Neighbours neighbours;
  private final LongSupplier nanoClock;
  private final Map<Long, PcapFlow> flows = new HashMap<>();
  private boolean accepting = true;

  private long flowsQueued;
  private long synRetransmitsAbsorbed;
  private long synsReplaced;
  private long refused;
  private long framesDropped;
  private long framesForwarded;
  private long aggregatesCut;

  FlowTable(String id, int vip, int vipPort, Side clientSide, Side backendSide, Wire wire, Admission admission,
      Neighbours neighbours, LongSupplier nanoClock) {
    this.id = id;
    this.vip = vip;
    this.vipPort = vipPort;
    this.clientSide = clientSide;
    this.backendSide = backendSide;
    this.wire = wire;
    this.admission = admission;
    this.neighbours = neighbours;
    this.nanoClock = nanoClock;
  }

  static long key(int ip, int port) {
    return ((ip & 0xffffffffL) << 16) | port;
  }

  // ---- packets ------------------------------------------------------------------------

  /** A frame captured on the client-facing interface (the filter let through TCP to the virtual address). */
  synchronized void fromClient(byte[] data, int length) {
    TcpFrame f = TcpFrame.parse(data, length);
    if (f == null || f.dstIp() != vip || f.dstPort() != vipPort) {
      framesDropped++;
      return;
    }
    long now = nanoClock.getAsLong();
    long key = key(f.srcIp(), f.srcPort());
    PcapFlow flow = flows.get(key);
    boolean newSyn = f.has(TcpFrame.SYN) && !f.has(TcpFrame.ACK) && !f.has(TcpFrame.RST);
    if (newSyn && (flow == null || flow.state == PcapFlow.State.LINGER)) {
      newFlow(f, key);
      return;
    }
    if (flow == null) {
      framesDropped++; // not ours, or no more: no answer, so a stray packet costs one lookup
      return;
    }
    flow.clientMac = f.srcMac();
    switch (flow.state) {
      case QUEUED -> whileQueued(flow, f, newSyn);
      case CONNECTING, RELAYING, LINGER -> clientToBackend(flow, f, newSyn, now);
      case DONE -> framesDropped++;
    }
  }

  private void newFlow(TcpFrame syn, long key) {
    PcapFlow old = flows.remove(key);
    if (old != null) {
      old.state = PcapFlow.State.DONE; // lingering: its slot is long free
    }
    PcapFlow flow = new PcapFlow(this, key, syn.srcIp(), syn.srcPort());
    flow.clientMac = syn.srcMac();
    flow.heldSyn = syn;
    flow.isn = syn.seq();
    if (!accepting || admission.refusing()) {
      if (accepting) {
        admission.countRefused();
      }
      refused++;
      log.debug("{}: resetting {}: {}", id, flow, accepting ? "the pool's queue is above its threshold"
          : "the node is stopping");
      wire.toClient(clientReset(flow));
      return;
    }
    flows.put(key, flow);
    flowsQueued++;
    admission.enqueue(flow);
  }

  private void whileQueued(PcapFlow flow, TcpFrame f, boolean syn) {
    if (f.has(TcpFrame.RST)) {
      remove(flow); // the queue finds it abandoned and drops it
      log.debug("{}: {} reset while it waited", id, flow);
    } else if (syn) {
      if (f.seq() == flow.isn) {
        synRetransmitsAbsorbed++;
      } else {
        synsReplaced++;
        flow.isn = f.seq();
      }
      flow.heldSyn = f;
    } else {
      framesDropped++; // nothing else can come before our SYN-ACK
    }
  }

  private void clientToBackend(PcapFlow flow, TcpFrame f, boolean syn, long now) {
    if (flow.state == PcapFlow.State.CONNECTING && syn) {
      flow.isn = f.seq();
      flow.heldSyn = f;
      flow.clientNext = f.nextSeq();
      flow.synSent |= toBackend(flow, f); // the client's retransmission is ours too
      return;
    }
    toBackend(flow, f);
    flow.lastActivityNanos = now;
    if (after(f.nextSeq(), flow.clientNext)) {
      flow.clientNext = f.nextSeq();
    }
    if (f.has(TcpFrame.RST)) {
      if (flow.state != PcapFlow.State.LINGER) {
        finish(flow, flow.backendFin ? Outcome.COMPLETED : Outcome.CLIENT_ABORTED, now);
      }
      remove(flow);
    } else if (f.has(TcpFrame.FIN) && !flow.clientFin) {
      flow.clientFin = true;
      completeIfBothEnded(flow, now);
    }
  }

  /** A frame captured on the back-end interface (the filter let through TCP from the pool's back-ends). */
  synchronized void fromBackend(byte[] data, int length) {
    TcpFrame f = TcpFrame.parse(data, length);
    if (f == null) {
      framesDropped++;
      return;
    }
    PcapFlow flow = flows.get(key(f.dstIp(), f.dstPort()));
    if (flow == null || flow.backend == null || flow.backendIp != f.srcIp() || flow.backendPort != f.srcPort()) {
      framesDropped++;
      return;
    }
    neighbours.learn(f.srcIp(), f.srcMac());
    long now = nanoClock.getAsLong();
    switch (flow.state) {
      case CONNECTING -> backendAnswers(flow, f, now);
      case RELAYING, LINGER -> {
        toClient(flow, f);
        flow.lastActivityNanos = now;
        if (after(f.nextSeq(), flow.backendNext)) {
          flow.backendNext = f.nextSeq();
        }
        if (f.has(TcpFrame.RST)) {
          if (flow.state == PcapFlow.State.RELAYING) {
            finish(flow, Outcome.BACKEND_FAILED, now);
          }
          remove(flow);
        } else if (f.has(TcpFrame.FIN) && !flow.backendFin) {
          flow.backendFin = true;
          completeIfBothEnded(flow, now);
        }
      }
      default -> framesDropped++;
    }
  }

  private void backendAnswers(PcapFlow flow, TcpFrame f, long now) {
    if (f.has(TcpFrame.RST)) {
      backToQueue(flow, new ConnectException("connection refused: " + flow.backend + " answered the SYN with a reset"));
    } else if (f.has(TcpFrame.SYN) && f.has(TcpFrame.ACK)) {
      toClient(flow, f);
      flow.backendNext = f.nextSeq();
      flow.lastActivityNanos = now;
      flow.state = PcapFlow.State.RELAYING;
      flow.events.connected(flow);
    } else {
      framesDropped++;
    }
  }

  private void completeIfBothEnded(PcapFlow flow, long now) {
    if (flow.clientFin && flow.backendFin && flow.state == PcapFlow.State.RELAYING) {
      finish(flow, Outcome.COMPLETED, now);
      flow.state = PcapFlow.State.LINGER;
      flow.lingerSinceNanos = now;
    }
  }

  // ---- the queue and the back-end actor (on the event loop) ----------------------------

  synchronized boolean abandoned(PcapFlow flow) {
    return flow.state == PcapFlow.State.DONE;
  }

  /** The queue gives the flow up (full, timed out, stopping): the client, still in SYN-SENT, gets a reset. */
  synchronized void refuse(PcapFlow flow, String detail) {
    if (flow.state == PcapFlow.State.QUEUED) {
      log.debug("{}: {} reset: {}", id, flow, detail);
      wire.toClient(clientReset(flow));
      remove(flow);
    }
  }

  synchronized void connect(PcapFlow flow, InetSocketAddress backend, Events events) {
    long now = nanoClock.getAsLong();
    if (flow.state != PcapFlow.State.QUEUED) {
      events.finished(flow, Outcome.CLIENT_ABORTED, 0); // it left on the way to the actor
      return;
    }
    flow.backend = backend;
    flow.backendIp = ipv4(backend);
    flow.backendPort = backend.getPort();
    flow.events = events;
    flow.state = PcapFlow.State.CONNECTING;
    flow.connectStartNanos = now;
    flow.lastActivityNanos = now;
    flow.clientNext = flow.isn + 1;
    flow.backendNext = 0;
    flow.clientFin = false;
    flow.backendFin = false;
    flow.synSent = toBackend(flow, flow.heldSyn);
  }

  synchronized void sweep(PcapFlow flow, long now, ConnectionSettings settings) {
    switch (flow.state) {
      case CONNECTING -> {
        if (now - flow.connectStartNanos >= settings.connectTimeout().toNanos()) {
          backToQueue(flow, new SocketTimeoutException((flow.synSent ? "no answer to the SYN" : "no Ethernet address")
              + " from " + flow.backend + " within " + settings.connectTimeout().toMillis() + " ms"));
        } else if (!flow.synSent) {
          flow.synSent = toBackend(flow, flow.heldSyn);
        }
      }
      case RELAYING -> {
        if (now - flow.lastActivityNanos >= settings.idleTimeout().toNanos()) {
          log.debug("{}: {} idle, resetting both sides", id, flow);
          resetBoth(flow);
          finish(flow, Outcome.IDLE_TIMEOUT, now);
          remove(flow);
        }
      }
      default -> { }
    }
  }

  synchronized void closeNow(PcapFlow flow, Outcome why) {
    switch (flow.state) {
      case QUEUED -> wire.toClient(clientReset(flow));
      case CONNECTING, RELAYING -> {
        resetBoth(flow);
        finish(flow, why, nanoClock.getAsLong());
      }
      default -> { }
    }
    remove(flow);
  }

  synchronized String describe(PcapFlow flow) {
    return flow + " -> " + (flow.backend == null ? "?" : flow.backend) + " " + flow.state;
  }

  // ---- the ingress's housekeeping (on a capture thread) --------------------------------

  /** Forgets lingering flows past {@link #LINGER}; sends a held SYN whose back-end's address was unknown. */
  synchronized void housekeeping() {
    long now = nanoClock.getAsLong();
    List<PcapFlow> gone = new ArrayList<>();
    for (PcapFlow flow : flows.values()) {
      if (flow.state == PcapFlow.State.LINGER && now - flow.lingerSinceNanos >= LINGER.toNanos()) {
        gone.add(flow);
      } else if (flow.state == PcapFlow.State.CONNECTING && !flow.synSent) {
        flow.synSent = toBackend(flow, flow.heldSyn);
      }
    }
    gone.forEach(this::remove);
  }

  /** The node is stopping: a new SYN is reset, as a closed listening socket would answer it. */
  synchronized void stopAccepting() {
    accepting = false;
  }

  synchronized int size() {
    return flows.size();
  }

  synchronized PcapFlow flow(int clientIp, int clientPort) {
    return flows.get(key(clientIp, clientPort));
  }

  /** What the table has seen, for the ingress's closing log line and for tests. */
  record Counts(long flowsQueued, long synRetransmitsAbsorbed, long synsReplaced, long refused, long framesDropped,
      long framesForwarded, long aggregatesCut) {}

  synchronized Counts counts() {
    return new Counts(flowsQueued, synRetransmitsAbsorbed, synsReplaced, refused, framesDropped, framesForwarded,
        aggregatesCut);
  }

  // ---- helpers ------------------------------------------------------------------------

  private void backToQueue(PcapFlow flow, Exception cause) {
    Events events = flow.events;
    flow.state = PcapFlow.State.QUEUED;
    flow.events = null;
    flow.backend = null;
    flow.synSent = false;
    events.connectFailed(flow, cause);
  }

  private void finish(PcapFlow flow, Outcome outcome, long now) {
    Events events = flow.events;
    flow.events = null;
    if (events != null) {
      events.finished(flow, outcome, now - flow.connectStartNanos);
    }
  }

  private void remove(PcapFlow flow) {
    flow.state = PcapFlow.State.DONE;
    flows.remove(flow.key, flow);
  }

  /** False if the back-end's Ethernet address is not known yet (the frame is dropped; it is resolved). */
  private boolean toBackend(PcapFlow flow, TcpFrame f) {
    byte[] mac = neighbours.macOf(flow.backendIp);
    if (mac == null) {
      framesDropped++;
      return false;
    }
    List<byte[]> frames = f.rewritten(backendSide.mac(), mac, f.srcIp(), f.srcPort(), flow.backendIp,
        flow.backendPort, backendSide.mtu());
    if (frames.size() > 1) {
      aggregatesCut++;
    }
    for (byte[] frame : frames) {
      wire.toBackend(frame);
      framesForwarded++;
    }
    return true;
  }

  private void toClient(PcapFlow flow, TcpFrame f) {
    List<byte[]> frames = f.rewritten(clientSide.mac(), flow.clientMac, vip, vipPort, flow.clientIp, flow.clientPort,
        clientSide.mtu());
    if (frames.size() > 1) {
      aggregatesCut++;
    }
    for (byte[] frame : frames) {
      wire.toClient(frame);
      framesForwarded++;
    }
  }

  /** A reset for a client still in SYN-SENT: it acknowledges the SYN, as RFC 793 asks for it to be taken. */
  private byte[] clientReset(PcapFlow flow) {
    return TcpFrame.reset(clientSide.mac(), flow.clientMac, vip, vipPort, flow.clientIp, flow.clientPort, 0,
        flow.isn + 1);
  }

  /** Resets for both sides, each at the sequence number the other will expect next. */
  private void resetBoth(PcapFlow flow) {
    if (flow.state == PcapFlow.State.RELAYING) {
      wire.toClient(TcpFrame.reset(clientSide.mac(), flow.clientMac, vip, vipPort, flow.clientIp, flow.clientPort,
          flow.backendNext, flow.clientNext));
    } else {
      wire.toClient(clientReset(flow));
    }
    byte[] mac = neighbours.macOf(flow.backendIp);
    if (mac != null && flow.synSent) {
      wire.toBackend(TcpFrame.reset(backendSide.mac(), mac, flow.clientIp, flow.clientPort, flow.backendIp,
          flow.backendPort, flow.clientNext, flow.state == PcapFlow.State.RELAYING ? flow.backendNext : null));
    }
  }

  /** {@code a} comes after {@code b} in sequence space (mod 2^32). */
  private static boolean after(int a, int b) {
    return a - b > 0;
  }

  static int ipv4(InetSocketAddress address) {
    if (!(address.getAddress() instanceof Inet4Address v4)) {
      throw new IllegalArgumentException("the pcap ingress forwards to IPv4 back-ends only, not " + address);
    }
    return TcpFrame.i32(v4.getAddress(), 0);
  }
}
