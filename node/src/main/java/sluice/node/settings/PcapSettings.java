package sluice.node.settings;

/**
 * The pcap ingress of one {@code sluice.tcp} element (L4/3, off unless configured): client SYNs
 * for {@code virtualHost:virtualPort} are captured on {@code clientInterface}, queued in the
 * element's pool, and each admitted connection's packets are forwarded to its back-end on
 * {@code backendInterface} with their addresses rewritten both ways.
 *
 * @param clientInterface  where clients' packets for the virtual address arrive
 * @param backendInterface where the back-ends are (on-link); the same as clientInterface unless set
 * @param virtualHost      the virtual IPv4 address, dotted quad
 * @param virtualPort      1-65535
 */
public record PcapSettings(String clientInterface, String backendInterface, String virtualHost, int virtualPort) {

  /** "pcap eth0 192.0.2.80:80", for logs. */
  public String id() {
    return "pcap " + clientInterface + (backendInterface.equals(clientInterface) ? "" : "/" + backendInterface) + " "
        + virtualHost + ":" + virtualPort;
  }
}
