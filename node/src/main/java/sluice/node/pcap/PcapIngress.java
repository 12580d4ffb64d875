package sluice.node.pcap;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorRef;
import org.pcap4j.core.BpfProgram;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.PcapNetworkInterface;
import org.pcap4j.core.Pcaps;
import org.pcap4j.util.LinkLayerAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.queue.ConnectionGate;
import sluice.node.queue.QueueActor;
import sluice.node.settings.PcapSettings;
import sluice.node.settings.TcpSettings;

/**
 * The pcap ingress of one virtual address (L4/3): libpcap (pcap4j) captures, on their own
 * threads, the TCP packets for the virtual address on the client-facing interface and those
 * of the pool's back-ends on the back-end interface, and hands them to the {@link FlowTable},
 * which queues new flows in the pool's queue and forwards admitted ones; frames go out through
 * libpcap's send on the right interface. The capture threads are the ingress's path, not the
 * HTTP data plane's: no event loop waits for a packet.
 *
 * <p>Handles: one capture handle per direction (incoming frames only, a BPF filter for the
 * virtual address or the back-ends), one send handle per interface (it captures nothing: its
 * filter matches no frame). Each handle is used by one thread at a time: a capture handle by
 * its thread; a send handle under its own lock.
 */
public final class PcapIngress implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PcapIngress.class);

  /** Up to 256 KiB a frame: a GRO or TSO aggregate is captured whole, then cut to the MTU. */
  private static final int SNAPLEN = 256 * 1024;
  private static final int READ_TIMEOUT_MILLIS = 100;
  private static final int BUFFER_BYTES = 8 << 20;
  private static final Duration RESOLVE_AT_START = Duration.ofSeconds(2);
  private static final Duration HOUSEKEEPING_EVERY = Duration.ofMillis(100);

  private final PcapSettings settings;
  private final String pool;
  private final FlowTable table;
  private final KernelNeighbours neighbours;
  private final List<PcapHandle> handles;
  private final Map<PcapHandle, Thread> captures = new LinkedHashMap<>();
  private Thread housekeeper;
  private volatile boolean running = true;

  private PcapIngress(PcapSettings settings, String pool, FlowTable table, KernelNeighbours neighbours,
      List<PcapHandle> handles) {
    this.settings = settings;
    this.pool = pool;
    this.table = table;
    this.neighbours = neighbours;
    this.handles = handles;
  }

  /**
   * Opens the interfaces and starts capturing; fails with a message that says what is missing
   * (libpcap, the rights to capture, an interface).
   *
   * @param backends     the pool's back-ends, resolved (IPv4)
   * @param queuePerLoop the pool's queue on each event loop; a flow goes to one by its client's address
   * @param gate         says while the pool's queue is above its refuse threshold
   */
  public static PcapIngress start(TcpSettings tcp, List<InetSocketAddress> backends,
      List<ActorRef<QueueActor.Command>> queuePerLoop, ConnectionGate gate) throws InterruptedException {
    PcapSettings settings = tcp.pcap();
    String id = settings.id();
    List<Integer> backendIps = check(tcp, backends);
    int vip;
    try {
      vip = TcpFrame.i32(InetAddress.getByName(settings.virtualHost()).getAddress(), 0);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(id + ": bad virtual address " + settings.virtualHost(), e);
    }
    List<PcapHandle> handles = new ArrayList<>();
    try {
      PcapNetworkInterface clientIf = device(id, settings.clientInterface());
      PcapNetworkInterface backendIf = device(id, settings.backendInterface());
      FlowTable.Side clientSide = new FlowTable.Side(mac(id, clientIf), mtu(settings.clientInterface()));
      FlowTable.Side backendSide = new FlowTable.Side(mac(id, backendIf), mtu(settings.backendInterface()));

      PcapHandle clientCapture = capture(settings.clientInterface(),
          "tcp and dst host " + settings.virtualHost() + " and dst port " + settings.virtualPort(), handles);
      PcapHandle backendCapture = capture(settings.backendInterface(), "tcp and (" + backends.stream()
          .map(b -> "(src host " + b.getAddress().getHostAddress() + " and src port " + b.getPort() + ")")
          .collect(Collectors.joining(" or ")) + ")", handles);
      Map<String, PcapHandle> senders = new LinkedHashMap<>();
      senders.put(settings.clientInterface(), sender(settings.clientInterface(), handles));
      senders.computeIfAbsent(settings.backendInterface(), name -> sender(name, handles));
      PcapHandle toClient = senders.get(settings.clientInterface());
      PcapHandle toBackend = senders.get(settings.backendInterface());

      KernelNeighbours neighbours = new KernelNeighbours(Path.of("/proc/net/arp"), settings.backendInterface());
      FlowTable.Wire wire = new FlowTable.Wire() {
        @Override
        public void toClient(byte[] frame) {
          send(toClient, frame, id);
        }

        @Override
        public void toBackend(byte[] frame) {
          send(toBackend, frame, id);
        }
      };
      FlowTable.Admission admission = new FlowTable.Admission() {
        @Override
        public boolean refusing() {
          return gate.refusing();
        }

        @Override
        public void countRefused() {
          gate.countRefused();
        }

        @Override
        public void enqueue(PcapFlow flow) {
          int loop = (int) Math.floorMod(flow.key ^ (flow.key >>> 29), (long) queuePerLoop.size());
          queuePerLoop.get(loop).tell(new QueueActor.Enqueue(flow));
        }
      };
      FlowTable table = new FlowTable(id, vip, settings.virtualPort(), clientSide, backendSide, wire, admission,
          neighbours, System::nanoTime);
      List<Integer> unresolved = neighbours.resolve(backendIps, RESOLVE_AT_START);
      for (Integer ip : unresolved) {
        log.warn("{}: back-end {} has no Ethernet address on {} yet (the kernel's neighbour table has none); "
            + "its clients wait until it has", id, TcpFrame.ipText(ip), settings.backendInterface());
      }
      PcapIngress ingress = new PcapIngress(settings, tcp.pool(), table, neighbours, List.copyOf(handles));
      ingress.startCapture(clientCapture, true);
      ingress.startCapture(backendCapture, false);
      ingress.startHousekeeping();
      log.info("sluice {} for pool {}: client side {} (mtu {}), back-ends {} on {} (mtu {})", id, tcp.pool(),
          settings.clientInterface(), clientSide.mtu(), backends, settings.backendInterface(), backendSide.mtu());
      return ingress;
    } catch (RuntimeException | Error e) {
      handles.forEach(PcapHandle::close);
      throw e;
    }
  }

  /**
   * What can be known before the node starts: the back-ends are IPv4, libpcap loads and the
   * interfaces exist (the rights to capture show only when the handles open). Returns the
   * back-ends' addresses.
   */
  public static List<Integer> check(TcpSettings tcp, List<InetSocketAddress> backends) {
    String id = tcp.pcap().id();
    List<Integer> backendIps = new ArrayList<>();
    for (InetSocketAddress backend : backends) {
      try {
        backendIps.add(FlowTable.ipv4(backend));
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException(id + ": " + e.getMessage(), e);
      }
    }
    device(id, tcp.pcap().clientInterface());
    device(id, tcp.pcap().backendInterface());
    return backendIps;
  }

  private static PcapNetworkInterface device(String id, String name) {
    PcapNetworkInterface device;
    try {
      device = Pcaps.getDevByName(name);
    } catch (PcapNativeException e) {
      throw new IllegalStateException(id + ": cannot list network interfaces through libpcap: " + e.getMessage(), e);
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      throw new IllegalStateException(id + ": cannot load libpcap (install it: apt-get install libpcap0.8): "
          + e.getMessage(), e);
    }
    if (device == null) {
      throw new IllegalStateException(id + ": no network interface named '" + name + "'");
    }
    return device;
  }

  private static byte[] mac(String id, PcapNetworkInterface device) {
    for (LinkLayerAddress address : device.getLinkLayerAddresses()) {
      byte[] bytes = address.getAddress();
      if (bytes.length == 6) {
        return bytes;
      }
    }
    throw new IllegalStateException(id + ": interface " + device.getName() + " has no Ethernet address");
  }

  /** The interface's MTU as the kernel has it; 1500 if it cannot be read. */
  private static int mtu(String name) {
    try {
      return Integer.parseInt(Files.readString(Path.of("/sys/class/net", name, "mtu")).trim());
    } catch (IOException | NumberFormatException e) {
      log.warn("pcap: cannot read the MTU of {} ({}); taking 1500", name, e.toString());
      return 1500;
    }
  }

  private static PcapHandle open(String device, int snaplen, List<PcapHandle> opened) {
    try {
      PcapHandle handle = new PcapHandle.Builder(device)
          .snaplen(snaplen)
          .promiscuousMode(PcapNetworkInterface.PromiscuousMode.NONPROMISCUOUS)
          .timeoutMillis(READ_TIMEOUT_MILLIS)
          .bufferSize(snaplen == SNAPLEN ? BUFFER_BYTES : 1 << 20)
          .immediateMode(true)
          .build();
      opened.add(handle);
      handle.setDirection(PcapHandle.PcapDirection.IN);
      return handle;
    } catch (PcapNativeException | NotOpenException e) {
      throw new IllegalStateException("pcap: cannot capture on " + device + " (" + e.getMessage() + "); the pcap "
          + "ingress needs root, or CAP_NET_RAW and CAP_NET_ADMIN", e);
    }
  }

  private static PcapHandle capture(String device, String filter, List<PcapHandle> opened) {
    PcapHandle handle = open(device, SNAPLEN, opened);
    setFilter(handle, filter);
    return handle;
  }

  /** A handle to send on; it captures nothing ("less 1": no frame is that short). */
  private static PcapHandle sender(String device, List<PcapHandle> opened) {
    PcapHandle handle = open(device, 128, opened);
    setFilter(handle, "less 1");
    return handle;
  }

  private static void setFilter(PcapHandle handle, String filter) {
    try {
      handle.setFilter(filter, BpfProgram.BpfCompileMode.OPTIMIZE);
    } catch (PcapNativeException | NotOpenException e) {
      throw new IllegalStateException("pcap: cannot set the filter '" + filter + "': " + e.getMessage(), e);
    }
  }

  private static void send(PcapHandle handle, byte[] frame, String id) {
    synchronized (handle) {
      try {
        handle.sendPacket(frame, frame.length);
      } catch (PcapNativeException | NotOpenException e) {
        log.debug("{}: a frame of {} bytes was not sent: {}", id, frame.length, e.getMessage());
      }
    }
  }

  private void startCapture(PcapHandle handle, boolean clientSide) {
    String side = clientSide ? settings.clientInterface() : settings.backendInterface();
    Thread thread = new Thread(() -> captureLoop(handle, clientSide), "sluice-pcap-" + (clientSide ? "in-" : "out-")
        + side);
    thread.setDaemon(true);
    captures.put(handle, thread);
    thread.start();
  }

  /** Reads frames until closed (libpcap's breakloop wakes it). */
  private void captureLoop(PcapHandle handle, boolean clientSide) {
    while (running) {
      try {
        byte[] frame = handle.getNextRawPacketEx();
        if (clientSide) {
          table.fromClient(frame, frame.length);
        } else {
          table.fromBackend(frame, frame.length);
        }
      } catch (TimeoutException e) {
        // no frame within the read timeout (libpcap in immediate mode may wait longer)
      } catch (PcapNativeException | EOFException | NotOpenException e) {
        if (running) {
          log.error("{}: capture on {} failed; this ingress takes no more packets: {}", settings.id(),
              clientSide ? settings.clientInterface() : settings.backendInterface(), e.toString());
        }
        return;
      } catch (RuntimeException e) {
        log.error("{}: a frame could not be handled (a bug); going on", settings.id(), e);
      }
    }
  }

  /**
   * Every {@link #HOUSEKEEPING_EVERY}, on its own thread: the table's housekeeping (lingering
   * flows, held SYNs whose back-end's address was unknown) and the addresses it wants resolved.
   * Not on a capture thread: libpcap in immediate mode does not wake it while no frame comes.
   */
  private void startHousekeeping() {
    Thread thread = new Thread(() -> {
      while (running) {
        try {
          table.housekeeping();
          neighbours.resolveWanted(); // reads the kernel's table only while an address is wanted
          Thread.sleep(HOUSEKEEPING_EVERY.toMillis());
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          log.error("{}: housekeeping failed (a bug); going on", settings.id(), e);
        }
      }
    }, "sluice-pcap-housekeeping-" + settings.virtualHost());
    thread.setDaemon(true);
    housekeeper = thread;
    thread.start();
  }

  /** The node is stopping: new SYNs are reset; admitted flows go on until their back-end actors stop. */
  public void stopAccepting() {
    table.stopAccepting();
  }

  public PcapSettings settings() {
    return settings;
  }

  public String pool() {
    return pool;
  }

  /** Stops the capture threads and closes the handles (after the pools' actors have ended their flows). */
  @Override
  public synchronized void close() {
    if (!running) {
      return;
    }
    running = false;
    housekeeper.interrupt();
    for (Map.Entry<PcapHandle, Thread> capture : captures.entrySet()) {
      try {
        capture.getKey().breakLoop(); // wakes pcap_next_ex, which then returns "no more packets"
        capture.getValue().join(1000);
      } catch (NotOpenException e) {
        // closed already
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (PcapHandle handle : handles) {
      Thread reader = captures.get(handle);
      if (reader != null && reader.isAlive()) {
        // closing a handle that a thread still reads would wait for it forever: the process ends it
        log.warn("{}: the capture thread {} did not stop; leaving its handle open", settings.id(), reader.getName());
      } else {
        handle.close();
      }
    }
    FlowTable.Counts c = table.counts();
    log.info("{}: stopped; {} flows queued, {} retransmitted SYNs absorbed, {} SYNs replaced, {} clients reset at "
        + "once, {} frames forwarded ({} captured aggregates cut to the MTU), {} dropped", settings.id(),
        c.flowsQueued(), c.synRetransmitsAbsorbed(), c.synsReplaced(), c.refused(), c.framesForwarded(),
        c.aggregatesCut(), c.framesDropped());
  }
}
