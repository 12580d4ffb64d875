package sluice.node.pcap;

import java.util.ArrayList;
import java.util.List;

/**
 * One captured Ethernet frame carrying an IPv4 TCP segment, read in place, and the frames the
 * pcap ingress sends: the same segment with its addresses and ports rewritten (IPv4 and TCP
 * checksums recomputed over the result), or a reset it makes itself. Plain Java, no pcap4j.
 *
 * <p>What it takes: Ethernet II without a VLAN tag, IPv4 with or without options, an
 * unfragmented datagram (a fragment, MF set or offset above 0, is not a {@code TcpFrame}), the
 * whole of it captured. Ethernet padding after the IP datagram is dropped. TCP options pass
 * unchanged; sequence numbers are not touched.
 *
 * <p>Checksums are computed anew, not verified first: a frame captured from a local sender or a
 * veth carries a partial checksum (offloaded to a NIC that never comes), which is normal there.
 * A segment larger than the outgoing MTU (the capture saw a TSO or GRO aggregate) is cut into
 * segments of at most the MTU, as the NIC would have done.
 */
final class TcpFrame {
  static final int ETHERNET_HEADER = 14;
  static final int ETHERTYPE_IPV4 = 0x0800;
  static final int PROTOCOL_TCP = 6;

  static final int FIN = 0x01;
  static final int SYN = 0x02;
  static final int RST = 0x04;
  static final int PSH = 0x08;
  static final int ACK = 0x10;
  static final int CWR = 0x80;

  private final byte[] data;
  private final int ipHeaderLength;
  private final int ipTotalLength;
  private final int tcpHeaderLength;

  private TcpFrame(byte[] data, int ipHeaderLength, int ipTotalLength, int tcpHeaderLength) {
    this.data = data;
    this.ipHeaderLength = ipHeaderLength;
    this.ipTotalLength = ipTotalLength;
    this.tcpHeaderLength = tcpHeaderLength;
  }

  /**
   * Reads a captured frame; null if it is not a whole, unfragmented IPv4 TCP segment in an
   * untagged Ethernet frame (the ingress drops it then).
   *
   * @param length the captured length (the frame's length on the wire if nothing was cut)
   */
  static TcpFrame parse(byte[] data, int length) {
    if (length < ETHERNET_HEADER + 20 + 20 || length > data.length || u16(data, 12) != ETHERTYPE_IPV4) {
      return null;
    }
    int ip = ETHERNET_HEADER;
    int versionIhl = data[ip] & 0xff;
    int ihl = (versionIhl & 0x0f) * 4;
    if (versionIhl >> 4 != 4 || ihl < 20 || data[ip + 9] != PROTOCOL_TCP) {
      return null;
    }
    int total = u16(data, ip + 2);
    int fragment = u16(data, ip + 6);
    if ((fragment & 0x2000) != 0 || (fragment & 0x1fff) != 0) {
      return null; // a fragment: not reassembled
    }
    if (total < ihl + 20 || ETHERNET_HEADER + total > length) {
      return null; // cut short by the capture, or nonsense
    }
    int tcpHeader = ((data[ip + ihl + 12] & 0xff) >> 4) * 4;
    if (tcpHeader < 20 || ihl + tcpHeader > total) {
      return null;
    }
    return new TcpFrame(data, ihl, total, tcpHeader);
  }

  private int tcp() {
    return ETHERNET_HEADER + ipHeaderLength;
  }

  int srcIp() {
    return i32(data, ETHERNET_HEADER + 12);
  }

  int dstIp() {
    return i32(data, ETHERNET_HEADER + 16);
  }

  int srcPort() {
    return u16(data, tcp());
  }

  int dstPort() {
    return u16(data, tcp() + 2);
  }

  int seq() {
    return i32(data, tcp() + 4);
  }

  int ack() {
    return i32(data, tcp() + 8);
  }

  int flags() {
    return data[tcp() + 13] & 0xff;
  }

  boolean has(int flag) {
    return (flags() & flag) != 0;
  }

  int payloadLength() {
    return ipTotalLength - ipHeaderLength - tcpHeaderLength;
  }

  /** The sequence number after this segment: seq + payload + 1 for SYN + 1 for FIN. */
  int nextSeq() {
    return seq() + payloadLength() + (has(SYN) ? 1 : 0) + (has(FIN) ? 1 : 0);
  }

  /** The sender's Ethernet address (the client or its last router; the back-end or its router). */
  byte[] srcMac() {
    byte[] mac = new byte[6];
    System.arraycopy(data, 6, mac, 0, 6);
    return mac;
  }

  /**
   * This segment as sent on: new Ethernet addresses, IPv4 addresses and TCP ports, checksums
   * computed; cut into several segments if it is larger than {@code mtu} (the IP datagram's
   * largest size on the outgoing link).
   */
  List<byte[]> rewritten(byte[] srcMac, byte[] dstMac, int srcIp, int srcPort, int dstIp, int dstPort, int mtu) {
    int payload = payloadLength();
    int headers = ipHeaderLength + tcpHeaderLength;
    int room = mtu - headers;
    if (payload <= room || room <= 0) {
      return List.of(segment(srcMac, dstMac, srcIp, srcPort, dstIp, dstPort, 0, 0, payload, true, true));
    }
    List<byte[]> out = new ArrayList<>(payload / room + 1);
    int index = 0;
    for (int offset = 0; offset < payload; offset += room) {
      int n = Math.min(room, payload - offset);
      out.add(segment(srcMac, dstMac, srcIp, srcPort, dstIp, dstPort, index++, offset, n, offset == 0,
          offset + n == payload));
    }
    return out;
  }

  /**
   * The payload bytes {@code [offset, offset + n)} as one segment. As a NIC's TSO does: the
   * sequence number advances by the offset, the IP id by the segment's index, CWR stays on the
   * first, FIN and PSH on the last.
   */
  private byte[] segment(byte[] srcMac, byte[] dstMac, int srcIp, int srcPort, int dstIp, int dstPort, int index,
      int offset, int n, boolean first, boolean last) {
    int ipLength = ipHeaderLength + tcpHeaderLength + n;
    byte[] out = new byte[ETHERNET_HEADER + ipLength];
    System.arraycopy(dstMac, 0, out, 0, 6);
    System.arraycopy(srcMac, 0, out, 6, 6);
    put16(out, 12, ETHERTYPE_IPV4);
    int ip = ETHERNET_HEADER;
    int tcp = ip + ipHeaderLength;
    System.arraycopy(data, ip, out, ip, ipHeaderLength + tcpHeaderLength);
    System.arraycopy(data, tcp() + tcpHeaderLength + offset, out, tcp + tcpHeaderLength, n);
    put16(out, ip + 2, ipLength);
    put16(out, ip + 4, u16(out, ip + 4) + index);
    put32(out, ip + 12, srcIp);
    put32(out, ip + 16, dstIp);
    put16(out, tcp, srcPort);
    put16(out, tcp + 2, dstPort);
    put32(out, tcp + 4, seq() + offset);
    int flags = out[tcp + 13] & 0xff;
    if (!first) {
      flags &= ~CWR;
    }
    if (!last) {
      flags &= ~(FIN | PSH);
    }
    out[tcp + 13] = (byte) flags;
    fillChecksums(out, ipHeaderLength, tcpHeaderLength + n);
    return out;
  }

  /**
   * A reset the ingress makes itself (a client refused by the queue, an idle flow, the node
   * stopping): Ethernet, a 20-byte IPv4 header (DF, TTL 64) and a 20-byte TCP header, RST with
   * ACK when {@code ack} is given, window 0, no options, no payload.
   */
  static byte[] reset(byte[] srcMac, byte[] dstMac, int srcIp, int srcPort, int dstIp, int dstPort, int seq,
      Integer ack) {
    byte[] out = new byte[ETHERNET_HEADER + 40];
    System.arraycopy(dstMac, 0, out, 0, 6);
    System.arraycopy(srcMac, 0, out, 6, 6);
    put16(out, 12, ETHERTYPE_IPV4);
    int ip = ETHERNET_HEADER;
    out[ip] = 0x45;
    put16(out, ip + 2, 40);
    put16(out, ip + 6, 0x4000); // DF
    out[ip + 8] = 64;
    out[ip + 9] = PROTOCOL_TCP;
    put32(out, ip + 12, srcIp);
    put32(out, ip + 16, dstIp);
    int tcp = ip + 20;
    put16(out, tcp, srcPort);
    put16(out, tcp + 2, dstPort);
    put32(out, tcp + 4, seq);
    put32(out, tcp + 8, ack == null ? 0 : ack);
    out[tcp + 12] = 0x50;
    out[tcp + 13] = (byte) (RST | (ack == null ? 0 : ACK));
    fillChecksums(out, 20, 20);
    return out;
  }

  /** Computes the IPv4 header checksum and the TCP checksum (pseudo-header included) of {@code frame}. */
  static void fillChecksums(byte[] frame, int ipHeaderLength, int tcpLength) {
    int ip = ETHERNET_HEADER;
    put16(frame, ip + 10, 0);
    put16(frame, ip + 10, ~fold(sum(frame, ip, ipHeaderLength, 0)) & 0xffff);
    int tcp = ip + ipHeaderLength;
    put16(frame, tcp + 16, 0);
    long pseudo = sum(frame, ip + 12, 8, 0) + PROTOCOL_TCP + tcpLength;
    int checksum = ~fold(sum(frame, tcp, tcpLength, pseudo)) & 0xffff;
    put16(frame, tcp + 16, checksum);
  }

  /** True if the frame's IPv4 header checksum and TCP checksum are right (for tests and logs). */
  static boolean checksumsValid(byte[] frame) {
    TcpFrame f = parse(frame, frame.length);
    if (f == null) {
      return false;
    }
    int ip = ETHERNET_HEADER;
    if (fold(sum(frame, ip, f.ipHeaderLength, 0)) != 0xffff) {
      return false;
    }
    int tcpLength = f.ipTotalLength - f.ipHeaderLength;
    long pseudo = sum(frame, ip + 12, 8, 0) + PROTOCOL_TCP + tcpLength;
    return fold(sum(frame, ip + f.ipHeaderLength, tcpLength, pseudo)) == 0xffff;
  }

  /** The one's complement sum of 16-bit words (an odd last byte padded with zero), not yet folded. */
  private static long sum(byte[] b, int offset, int length, long initial) {
    long sum = initial;
    int i = offset;
    int end = offset + length;
    for (; i + 1 < end; i += 2) {
      sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }
    if (i < end) {
      sum += (b[i] & 0xff) << 8;
    }
    return sum;
  }

  private static int fold(long sum) {
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    return (int) sum;
  }

  static int u16(byte[] b, int i) {
    return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
  }

  static int i32(byte[] b, int i) {
    return ((b[i] & 0xff) << 24) | ((b[i + 1] & 0xff) << 16) | ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
  }

  static void put16(byte[] b, int i, int v) {
    b[i] = (byte) (v >> 8);
    b[i + 1] = (byte) v;
  }

  static void put32(byte[] b, int i, int v) {
    b[i] = (byte) (v >> 24);
    b[i + 1] = (byte) (v >> 16);
    b[i + 2] = (byte) (v >> 8);
    b[i + 3] = (byte) v;
  }

  /** "a.b.c.d" of an IPv4 address held in an int. */
  static String ipText(int ip) {
    return ((ip >>> 24) & 0xff) + "." + ((ip >>> 16) & 0xff) + "." + ((ip >>> 8) & 0xff) + "." + (ip & 0xff);
  }
}
