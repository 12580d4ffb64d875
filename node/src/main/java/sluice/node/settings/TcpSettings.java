package sluice.node.settings;

/**
 * One element of {@code sluice.tcp} (L4): a TCP listener, whose client connections accepted on
 * {@code host:port} are queued in {@code pool}'s FIFO and each relayed, byte for byte, to one
 * back-end of that pool while the back-end is under its connection limit; or, with {@code pcap}
 * set, the pcap ingress for a virtual address (see {@link PcapSettings}), which queues the same
 * way. A pool named by either serves TCP only: no HTTP route or default-pool may name it.
 *
 * @param host  address to bind, lower-cased, without brackets (the virtual address for pcap)
 * @param port  0-65535; 0 picks any free port (the virtual port for pcap)
 * @param id    "host:port" as written (brackets kept for IPv6), for logs; {@link PcapSettings#id()} for pcap
 * @param pool  the pool's name
 * @param pcap  the pcap ingress, or null for a TCP listener
 */
public record TcpSettings(String host, int port, String id, String pool, PcapSettings pcap) {

  /** A TCP listener. */
  public TcpSettings(String host, int port, String id, String pool) {
    this(host, port, id, pool, null);
  }

  /** The pcap ingress of a virtual address. */
  public static TcpSettings pcap(PcapSettings pcap, String pool) {
    return new TcpSettings(pcap.virtualHost(), pcap.virtualPort(), pcap.id(), pool, pcap);
  }

  public boolean isPcap() {
    return pcap != null;
  }
}
