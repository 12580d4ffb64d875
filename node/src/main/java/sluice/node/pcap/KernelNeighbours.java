package sluice.node.pcap;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The back-ends' Ethernet addresses, from the kernel's neighbour table ({@code /proc/net/arp},
 * entries of the back-end interface that are complete) and from the frames the back-ends send.
 * When an address is missing, the kernel is made to resolve it by sending the back-end an empty
 * UDP datagram (to the discard port, 9): the kernel ARPs for it, answers it or not.
 *
 * <p>{@link #macOf} and {@link #learn} never do I/O (they run under the flow table's lock, on
 * the event loop too); {@link #resolveWanted} does, on a capture thread.
 */
final class KernelNeighbours implements FlowTable.Neighbours {
  private static final Logger log = LoggerFactory.getLogger(KernelNeighbours.class);
  private static final Duration NUDGE_EVERY = Duration.ofMillis(500);
  private static final int DISCARD_PORT = 9;

  private final Path arpTable;
  private final String device;
  private final Map<Integer, byte[]> known = new ConcurrentHashMap<>();
  private final Set<Integer> wanted = ConcurrentHashMap.newKeySet();
  private final Map<Integer, Long> lastNudgeNanos = new ConcurrentHashMap<>();

  KernelNeighbours(Path arpTable, String device) {
    this.arpTable = arpTable;
    this.device = device;
  }

  @Override
  public byte[] macOf(int ip) {
    byte[] mac = known.get(ip);
    if (mac == null) {
      wanted.add(ip);
    }
    return mac;
  }

  @Override
  public void learn(int ip, byte[] mac) {
    byte[] before = known.get(ip);
    if (before == null || !Arrays.equals(before, mac)) {
      known.put(ip, mac);
      if (before != null) {
        log.info("pcap: {} is now at {} (was {})", TcpFrame.ipText(ip), hex(mac), hex(before));
      }
    }
  }

  /** Reads the kernel's table for the addresses asked for and not known; nudges the kernel for those it lacks. */
  void resolveWanted() {
    if (wanted.isEmpty()) {
      return;
    }
    Map<Integer, byte[]> table = read();
    for (Integer ip : List.copyOf(wanted)) {
      byte[] mac = table.get(ip);
      if (mac != null) {
        known.putIfAbsent(ip, mac);
        wanted.remove(ip);
      } else if (known.containsKey(ip)) {
        wanted.remove(ip);
      } else {
        nudge(ip);
      }
    }
  }

  /** At start, off the event loops: resolves {@code ips}, waiting up to {@code timeout}; returns those still unknown. */
  List<Integer> resolve(Collection<Integer> ips, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    ips.forEach(this::macOf);
    while (true) {
      resolveWanted();
      List<Integer> missing = ips.stream().filter(ip -> !known.containsKey(ip)).toList();
      if (missing.isEmpty() || System.nanoTime() > deadline) {
        return missing;
      }
      Thread.sleep(20);
    }
  }

  private void nudge(int ip) {
    long now = System.nanoTime();
    Long last = lastNudgeNanos.get(ip);
    if (last != null && now - last < NUDGE_EVERY.toNanos()) {
      return;
    }
    lastNudgeNanos.put(ip, now);
    try (DatagramSocket socket = new DatagramSocket()) {
      socket.send(new DatagramPacket(new byte[0], 0, address(ip), DISCARD_PORT));
    } catch (IOException e) {
      log.debug("pcap: cannot nudge the kernel to resolve {}: {}", TcpFrame.ipText(ip), e.toString());
    }
  }

  /** The complete entries of our device in the kernel's table. */
  Map<Integer, byte[]> read() {
    Map<Integer, byte[]> out = new java.util.HashMap<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(arpTable);
    } catch (IOException e) {
      log.debug("pcap: cannot read {}: {}", arpTable, e.toString());
      return out;
    }
    for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 6 || !f[5].equals(device)) {
        continue;
      }
      try {
        int flags = Integer.decode(f[2]);
        byte[] mac = HexFormat.ofDelimiter(":").parseHex(f[3]);
        if ((flags & 0x2) != 0 && mac.length == 6) { // ATF_COM: resolved
          out.put(TcpFrame.i32(InetAddress.getByName(f[0]).getAddress(), 0), mac);
        }
      } catch (IllegalArgumentException | UnknownHostException e) {
        // a line we do not understand: not ours
      }
    }
    return out;
  }

  private static InetAddress address(int ip) throws UnknownHostException {
    return InetAddress.getByAddress(new byte[] {(byte) (ip >> 24), (byte) (ip >> 16), (byte) (ip >> 8), (byte) ip});
  }

  static String hex(byte[] mac) {
    return HexFormat.ofDelimiter(":").formatHex(mac);
  }
}
