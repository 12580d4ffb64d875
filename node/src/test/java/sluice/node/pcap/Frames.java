package sluice.node.pcap;

/** Builds the Ethernet/IPv4/TCP frames the pcap unit tests feed in, with correct checksums. */
final class Frames {
  static final byte[] CLIENT_MAC = mac(0x02, 0xc1);
  static final byte[] CLIENT_SIDE_MAC = mac(0x02, 0xd1);
  static final byte[] BACKEND_SIDE_MAC = mac(0x02, 0xd2);
  static final byte[] BACKEND_MAC = mac(0x02, 0xb1);
  static final int CLIENT = ip(198, 51, 100, 2);
  static final int VIP = ip(192, 0, 2, 80);
  static final int BACKEND = ip(203, 0, 113, 2);
  /** MSS 1460, SACK permitted, window scale 7, two NOPs: what a SYN carries. */
  static final byte[] SYN_OPTIONS = {2, 4, 0x05, (byte) 0xb4, 4, 2, 1, 1, 3, 3, 7, 1};

  private Frames() {}

  static byte[] mac(int a, int b) {
    return new byte[] {(byte) a, 0, 0, 0, 0, (byte) b};
  }

  static int ip(int a, int b, int c, int d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
  }

  static byte[] tcp(byte[] srcMac, byte[] dstMac, int srcIp, int srcPort, int dstIp, int dstPort, int seq, int ack,
      int flags, byte[] options, byte[] payload) {
    int tcpHeader = 20 + options.length;
    int ipLength = 20 + tcpHeader + payload.length;
    byte[] f = new byte[TcpFrame.ETHERNET_HEADER + ipLength];
    System.arraycopy(dstMac, 0, f, 0, 6);
    System.arraycopy(srcMac, 0, f, 6, 6);
    TcpFrame.put16(f, 12, 0x0800);
    int ip = 14;
    f[ip] = 0x45;
    TcpFrame.put16(f, ip + 2, ipLength);
    TcpFrame.put16(f, ip + 4, 0x1234);
    TcpFrame.put16(f, ip + 6, 0x4000);
    f[ip + 8] = 64;
    f[ip + 9] = 6;
    TcpFrame.put32(f, ip + 12, srcIp);
    TcpFrame.put32(f, ip + 16, dstIp);
    int t = ip + 20;
    TcpFrame.put16(f, t, srcPort);
    TcpFrame.put16(f, t + 2, dstPort);
    TcpFrame.put32(f, t + 4, seq);
    TcpFrame.put32(f, t + 8, ack);
    f[t + 12] = (byte) ((tcpHeader / 4) << 4);
    f[t + 13] = (byte) flags;
    TcpFrame.put16(f, t + 14, 64240);
    System.arraycopy(options, 0, f, t + 20, options.length);
    System.arraycopy(payload, 0, f, t + tcpHeader, payload.length);
    TcpFrame.fillChecksums(f, 20, tcpHeader + payload.length);
    return f;
  }

  /** A frame from the client to the virtual address, port 80. */
  static byte[] fromClient(int clientPort, int seq, int ack, int flags, byte[] payload) {
    byte[] options = (flags & TcpFrame.SYN) != 0 ? SYN_OPTIONS : new byte[0];
    return tcp(CLIENT_MAC, CLIENT_SIDE_MAC, CLIENT, clientPort, VIP, 80, seq, ack, flags, options, payload);
  }

  /** A frame from the back-end (port 8080) to the client. */
  static byte[] fromBackend(int clientPort, int seq, int ack, int flags, byte[] payload) {
    byte[] options = (flags & TcpFrame.SYN) != 0 ? SYN_OPTIONS : new byte[0];
    return tcp(BACKEND_MAC, BACKEND_SIDE_MAC, BACKEND, 8080, CLIENT, clientPort, seq, ack, flags, options, payload);
  }

  /** The TCP payload of a frame. */
  static byte[] payload(byte[] frame) {
    TcpFrame f = TcpFrame.parse(frame, frame.length);
    int n = f.payloadLength();
    byte[] out = new byte[n];
    System.arraycopy(frame, frame.length - n, out, 0, n);
    return out;
  }

  /** The TCP options of a frame. */
  static byte[] options(byte[] frame) {
    int t = 14 + (frame[14] & 0x0f) * 4;
    int header = ((frame[t + 12] & 0xff) >> 4) * 4;
    byte[] out = new byte[header - 20];
    System.arraycopy(frame, t + 20, out, 0, out.length);
    return out;
  }
}
