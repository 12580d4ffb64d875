package sluice.node.pcap;

import io.netty.bootstrap.Bootstrap;
import java.net.InetSocketAddress;
import sluice.node.settings.ConnectionSettings;
import sluice.node.tcp.L4Connection;

/**
 * One client connection of the pcap ingress, named by the client's address and port: queued
 * work from its first SYN, then forwarded packet by packet to one back-end until it ends. Its
 * state belongs to its {@link FlowTable} and changes only under the table's lock, from the
 * capture threads (packets) and the event loop (the queue and the back-end actor); the methods
 * here hand over to the table. See {@link FlowTable} for the states.
 */
final class PcapFlow implements L4Connection {

  enum State { QUEUED, CONNECTING, RELAYING, LINGER, DONE }

  final FlowTable table;
  final long key;
  final int clientIp;
  final int clientPort;

  // guarded by table
  byte[] clientMac;
  /** The client's latest SYN, forwarded once the flow has a back-end. */
  TcpFrame heldSyn;
  int isn;
  State state = State.QUEUED;
  InetSocketAddress backend;
  int backendIp;
  int backendPort;
  Events events;
  boolean synSent;
  /** The next sequence number each side will send, as far as we saw (for the resets we make). */
  int clientNext;
  int backendNext;
  boolean clientFin;
  boolean backendFin;
  long connectStartNanos;
  long lastActivityNanos;
  long lingerSinceNanos;

  private volatile long enqueuedNanos;

  PcapFlow(FlowTable table, long key, int clientIp, int clientPort) {
    this.table = table;
    this.key = key;
    this.clientIp = clientIp;
    this.clientPort = clientPort;
  }

  @Override
  public long enqueuedNanos() {
    return enqueuedNanos;
  }

  @Override
  public void setEnqueuedNanos(long nanos) {
    enqueuedNanos = nanos;
  }

  @Override
  public boolean abandoned() {
    return table.abandoned(this);
  }

  @Override
  public void refuse(Refusal refusal, String detail) {
    table.refuse(this, detail);
  }

  /** Forwards the held SYN to {@code backend}; {@code bootstrap} is not used (no socket is opened). */
  @Override
  public void connect(Bootstrap bootstrap, InetSocketAddress backend, Events events) {
    table.connect(this, backend, events);
  }

  @Override
  public void sweep(long nowNanos, ConnectionSettings settings) {
    table.sweep(this, nowNanos, settings);
  }

  @Override
  public void closeNow(Outcome why) {
    table.closeNow(this, why);
  }

  @Override
  public String describe() {
    return table.describe(this);
  }

  @Override
  public String toString() {
    return "pcap flow " + TcpFrame.ipText(clientIp) + ":" + clientPort;
  }
}
