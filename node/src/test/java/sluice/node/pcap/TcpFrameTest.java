package sluice.node.pcap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TcpFrameTest {

  @Test
  void theIpv4HeaderChecksumIsTheKnownOne() {
    // the header of RFC 1071's usual worked example (Wikipedia, "Internet checksum"): checksum b861
    byte[] frame = new byte[14 + 20 + 20];
    byte[] header = HexFormat.of().parseHex("450000730000400040110000c0a80001c0a800c7");
    System.arraycopy(header, 0, frame, 14, 20);
    TcpFrame.fillChecksums(frame, 20, 20);
    assertEquals(0xb861, TcpFrame.u16(frame, 14 + 10));
  }

  @Test
  void aSegmentIsReadInPlace() {
    byte[] f = Frames.fromClient(40000, 1000, 0, TcpFrame.SYN, new byte[0]);
    TcpFrame t = TcpFrame.parse(f, f.length);
    assertEquals(Frames.CLIENT, t.srcIp());
    assertEquals(Frames.VIP, t.dstIp());
    assertEquals(40000, t.srcPort());
    assertEquals(80, t.dstPort());
    assertEquals(1000, t.seq());
    assertTrue(t.has(TcpFrame.SYN));
    assertFalse(t.has(TcpFrame.ACK));
    assertEquals(0, t.payloadLength());
    assertEquals(1001, t.nextSeq(), "a SYN takes one sequence number");
    assertArrayEquals(Frames.CLIENT_MAC, t.srcMac());
    assertTrue(TcpFrame.checksumsValid(f));
  }

  @Test
  void whatIsNotAWholeUnfragmentedIpv4TcpSegmentIsRefused() {
    byte[] ok = Frames.fromClient(40000, 1, 0, TcpFrame.ACK, new byte[100]);
    byte[] vlan = ok.clone();
    TcpFrame.put16(vlan, 12, 0x8100);
    assertNull(TcpFrame.parse(vlan, vlan.length), "VLAN tag");
    byte[] moreFragments = ok.clone();
    TcpFrame.put16(moreFragments, 14 + 6, 0x2000);
    assertNull(TcpFrame.parse(moreFragments, moreFragments.length), "first fragment (MF)");
    byte[] laterFragment = ok.clone();
    TcpFrame.put16(laterFragment, 14 + 6, 0x0010);
    assertNull(TcpFrame.parse(laterFragment, laterFragment.length), "a later fragment");
    assertNull(TcpFrame.parse(ok, ok.length - 1), "cut short by the capture");
    byte[] udp = ok.clone();
    udp[14 + 9] = 17;
    assertNull(TcpFrame.parse(udp, udp.length), "UDP");
  }

  @Test
  void ethernetPaddingIsDroppedOnRewrite() {
    byte[] ack = Frames.fromClient(40000, 1, 1, TcpFrame.ACK, new byte[0]); // 54 bytes
    byte[] padded = new byte[60];
    System.arraycopy(ack, 0, padded, 0, ack.length);
    List<byte[]> out = TcpFrame.parse(padded, 60).rewritten(Frames.BACKEND_SIDE_MAC, Frames.BACKEND_MAC,
        Frames.CLIENT, 40000, Frames.BACKEND, 8080, 1500);
    assertEquals(1, out.size());
    assertEquals(54, out.get(0).length);
  }

  @Test
  void rewritingChangesAddressesAndPortsOnlyAndChecksumsHold() {
    byte[] payload = "GET / HTTP/1.1\r\n\r\n".getBytes();
    byte[] in = Frames.fromClient(40000, 5000, 7000, TcpFrame.ACK | TcpFrame.PSH, payload);
    TcpFrame.put16(in, 14 + 20 + 16, 0xdead); // a partial checksum, as an offloading sender leaves it
    byte[] out = TcpFrame.parse(in, in.length).rewritten(Frames.BACKEND_SIDE_MAC, Frames.BACKEND_MAC, Frames.CLIENT,
        40000, Frames.BACKEND, 8080, 1500).get(0);
    TcpFrame t = TcpFrame.parse(out, out.length);
    assertEquals(Frames.CLIENT, t.srcIp());
    assertEquals(Frames.BACKEND, t.dstIp());
    assertEquals(8080, t.dstPort());
    assertEquals(5000, t.seq());
    assertEquals(7000, t.ack());
    assertEquals(TcpFrame.ACK | TcpFrame.PSH, t.flags());
    assertArrayEquals(payload, Frames.payload(out));
    assertTrue(TcpFrame.checksumsValid(out));
    byte[] mac = new byte[6];
    System.arraycopy(out, 0, mac, 0, 6);
    assertArrayEquals(Frames.BACKEND_MAC, mac);
    System.arraycopy(out, 6, mac, 0, 6);
    assertArrayEquals(Frames.BACKEND_SIDE_MAC, mac);
  }

  @Test
  void anAggregateLargerThanTheMtuIsCutLikeTso() {
    byte[] payload = new byte[4000];
    new Random(3).nextBytes(payload);
    byte[] big = Frames.fromClient(40000, 100, 9, TcpFrame.ACK | TcpFrame.PSH | TcpFrame.FIN | TcpFrame.CWR, payload);
    List<byte[]> out = TcpFrame.parse(big, big.length).rewritten(Frames.BACKEND_SIDE_MAC, Frames.BACKEND_MAC,
        Frames.CLIENT, 40000, Frames.BACKEND, 8080, 1500);
    assertEquals(3, out.size(), "1460 + 1460 + 1080");
    ByteArrayOutputStream joined = new ByteArrayOutputStream();
    int seq = 100;
    for (int i = 0; i < out.size(); i++) {
      byte[] s = out.get(i);
      TcpFrame t = TcpFrame.parse(s, s.length);
      assertTrue(s.length - 14 <= 1500, "within the MTU");
      assertTrue(TcpFrame.checksumsValid(s));
      assertEquals(seq, t.seq());
      assertEquals(0x1234 + i, TcpFrame.u16(s, 14 + 4), "IP id");
      boolean last = i == out.size() - 1;
      assertEquals(last, t.has(TcpFrame.FIN), "FIN on the last only");
      assertEquals(last, t.has(TcpFrame.PSH), "PSH on the last only");
      assertEquals(i == 0, t.has(TcpFrame.CWR), "CWR on the first only");
      assertTrue(t.has(TcpFrame.ACK));
      seq += t.payloadLength();
      joined.writeBytes(Frames.payload(s));
    }
    assertArrayEquals(payload, joined.toByteArray());
  }

  @Test
  void aResetIsWellFormed() {
    byte[] r = TcpFrame.reset(Frames.CLIENT_SIDE_MAC, Frames.CLIENT_MAC, Frames.VIP, 80, Frames.CLIENT, 40000, 0, 1001);
    TcpFrame t = TcpFrame.parse(r, r.length);
    assertEquals(TcpFrame.RST | TcpFrame.ACK, t.flags());
    assertEquals(0, t.seq());
    assertEquals(1001, t.ack());
    assertEquals(Frames.VIP, t.srcIp());
    assertTrue(TcpFrame.checksumsValid(r));
    byte[] plain = TcpFrame.reset(Frames.CLIENT_SIDE_MAC, Frames.CLIENT_MAC, Frames.VIP, 80, Frames.CLIENT, 40000, 5,
        null);
    assertEquals(TcpFrame.RST, TcpFrame.parse(plain, plain.length).flags());
  }
}
