package sluice.node.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The node's {@code /metrics}: a Micrometer Prometheus registry whose meters read a
 * {@link Sample} of the pools' and back-ends' actors taken at scrape time. Nothing is recorded
 * into Micrometer on the request path: the actors keep their own counters and
 * {@link LatencyBuckets} (plain fields, one owner each) and answer a GetMetrics message; the
 * histograms reach the registry through a Prometheus collector over the same sample.
 *
 * <p>State: the sample being scraped. A scrape takes a sample (asks, off the event loops'
 * critical work: one message per actor), then on the one metrics thread sets it and renders
 * the registry; scrapes are serial there, so each text shows one sample. A sample whose pools
 * or back-ends are not those registered (a reload added or removed some) first replaces the
 * pools' and back-ends' meters with its own.
 *
 * <p>Every pool and back-end series carries {@code protocol} ({@code http} or {@code tcp}, the
 * pool's kind). The gauges and the queue's series have one name for both kinds; what ends
 * differs, and so has its own names: an HTTP back-end's requests and response times, a TCP
 * back-end's connections, connect failures and connection durations.
 */
public final class NodeMetrics implements AutoCloseable {

  /** What a pool relays: requests (L7) or connections (L4); its {@code protocol} label. */
  public enum Protocol {
    HTTP, TCP;

    String label() {
      return this == HTTP ? "http" : "tcp";
    }
  }

  /**
   * One back-end, summed over this node's event loops. For a TCP back-end, as its status reads:
   * in flight are the connections holding a slot, served those completed, badGateway those the
   * back-end reset, gatewayTimeout those closed idle, and responseTimes the durations of those
   * completed; connectFailures and firstBytes (connect to the back-end's first byte) count only
   * there (0 and empty for HTTP).
   */
  public record BackendSample(String id, boolean up, int limit, int slots, int inFlight, long served,
      long badGateway, long gatewayTimeout, long clientAborted, long connectFailures,
      LatencyBuckets.Snapshot responseTimes, LatencyBuckets.Snapshot firstBytes) {}

  /** One pool, summed over this node's event loops. */
  public record PoolSample(String pool, Protocol protocol, int queueLength, long rejectedFull, long expired,
      long noBackendUp, long stopped, long refusedConnections, LatencyBuckets.Snapshot queueWait,
      List<BackendSample> backends) {}

  /**
   * Everything a scrape shows, pools and back-ends in configuration order; client connections
   * open on the HTTP listener and on the TCP listeners (queued or relayed).
   */
  public record Sample(List<PoolSample> pools, long httpClientConnections, long tcpClientConnections) {}

  /** Pool names, their kind and, per pool, its back-end ids, in configuration order. */
  public record Layout(String pool, Protocol protocol, List<String> backends) {}

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "sluice-metrics");
    t.setDaemon(true);
    return t;
  });
  private final JvmGcMetrics gc = new JvmGcMetrics();
  private final Supplier<CompletionStage<Sample>> source;
  /** Written and read on the metrics thread only (a scrape renders on it). */
  private Sample current;
  /** The pools and back-ends with meters, and those meters: on the metrics thread only, after construction. */
  private List<Layout> registered;
  private final List<Meter> poolMeters = new ArrayList<>();

  /**
   * @param layout the pools and back-ends (the sample always has them in this order)
   * @param source takes a sample; called once per scrape
   */
  public NodeMetrics(List<Layout> layout, Supplier<CompletionStage<Sample>> source) {
    this.source = source;
    this.current = empty(layout);
    register(layout);
    Gauge.builder("sluice.client.connections", this, m -> m.current.httpClientConnections())
        .description("client connections open on this node").tag("protocol", Protocol.HTTP.label())
        .register(registry);
    Gauge.builder("sluice.client.connections", this, m -> m.current.tcpClientConnections())
        .description("client connections open on this node").tag("protocol", Protocol.TCP.label())
        .register(registry);
    registry.getPrometheusRegistry().register(new Histograms());
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    gc.bindTo(registry);
  }

  private void register(List<Layout> layout) {
    registered = List.copyOf(layout);
    for (int p = 0; p < layout.size(); p++) {
      registerPool(p, layout.get(p));
    }
  }

  /** A reload changed the pools or back-ends: their meters are those of {@code layout} from now on. */
  private void relayout(List<Layout> layout) {
    poolMeters.forEach(registry::remove);
    poolMeters.clear();
    register(layout);
  }

  private static List<Layout> layoutOf(Sample sample) {
    return sample.pools().stream()
        .map(p -> new Layout(p.pool(), p.protocol(), p.backends().stream().map(BackendSample::id).toList())).toList();
  }

  private void registerPool(int p, Layout layout) {
    String pool = layout.pool();
    String protocol = layout.protocol().label();
    poolMeters.add(Gauge.builder("sluice.pool.queue.length", this, m -> m.pool(p).queueLength())
        .tag("pool", pool).tag("protocol", protocol)
        .description("requests (http) or client connections (tcp) waiting in the pool's queue on this node")
        .register(registry));
    rejected(p, pool, protocol, "queue_full", PoolSample::rejectedFull);
    rejected(p, pool, protocol, "queue_timeout", PoolSample::expired);
    rejected(p, pool, protocol, "no_backend_up", PoolSample::noBackendUp);
    rejected(p, pool, protocol, "stopping", PoolSample::stopped);
    poolMeters.add(FunctionCounter.builder("sluice.pool.refused.connections", this,
            m -> m.pool(p).refusedConnections())
        .tag("pool", pool).tag("protocol", protocol)
        .description("client connections refused while the pool's queue was above its threshold")
        .register(registry));
    for (int b = 0; b < layout.backends().size(); b++) {
      registerBackend(p, b, pool, layout.protocol(), layout.backends().get(b));
    }
  }

  private void rejected(int p, String pool, String protocol, String reason, ToDoubleFunction<PoolSample> count) {
    poolMeters.add(FunctionCounter.builder("sluice.pool.rejected.requests", this, m -> count.applyAsDouble(m.pool(p)))
        .tag("pool", pool).tag("protocol", protocol).tag("reason", reason)
        .description("work the pool's queue gave up, by reason: requests answered 503 (http), client connections"
            + " reset (tcp)")
        .register(registry));
  }

  private void registerBackend(int p, int b, String pool, Protocol protocol, String id) {
    gauge("sluice.backend.limit", p, b, pool, protocol, id, BackendSample::limit,
        "the back-end's cluster-wide concurrency limit, as this node last heard it");
    gauge("sluice.backend.slots", p, b, pool, protocol, id, BackendSample::slots,
        "slots of the limit this node holds");
    gauge("sluice.backend.in.flight", p, b, pool, protocol, id, BackendSample::inFlight,
        "requests (http) or relayed connections (tcp) on the back-end from this node now, each holding a slot");
    gauge("sluice.backend.up", p, b, pool, protocol, id, s -> s.up() ? 1 : 0,
        "1 unless this node's connection attempts to the back-end fail (on every event loop)");
    if (protocol == Protocol.HTTP) {
      ended("sluice.backend.requests", p, b, pool, protocol, id, "served", BackendSample::served);
      ended("sluice.backend.requests", p, b, pool, protocol, id, "bad_gateway", BackendSample::badGateway);
      ended("sluice.backend.requests", p, b, pool, protocol, id, "gateway_timeout", BackendSample::gatewayTimeout);
      ended("sluice.backend.requests", p, b, pool, protocol, id, "client_aborted", BackendSample::clientAborted);
    } else {
      ended("sluice.backend.connections", p, b, pool, protocol, id, "completed", BackendSample::served);
      ended("sluice.backend.connections", p, b, pool, protocol, id, "backend_failed", BackendSample::badGateway);
      ended("sluice.backend.connections", p, b, pool, protocol, id, "idle_timeout", BackendSample::gatewayTimeout);
      ended("sluice.backend.connections", p, b, pool, protocol, id, "client_aborted", BackendSample::clientAborted);
      poolMeters.add(FunctionCounter.builder("sluice.backend.connect.failures", this,
              m -> m.backend(p, b).connectFailures())
          .tag("pool", pool).tag("protocol", protocol.label()).tag("backend", id)
          .description("connects to the back-end that failed (refused, timed out); the client went back to the queue")
          .register(registry));
    }
  }

  private void gauge(String name, int p, int b, String pool, Protocol protocol, String id,
      ToDoubleFunction<BackendSample> value, String description) {
    poolMeters.add(Gauge.builder(name, this, m -> value.applyAsDouble(m.backend(p, b)))
        .tag("pool", pool).tag("protocol", protocol.label()).tag("backend", id).description(description)
        .register(registry));
  }

  /** Requests (http) or relayed connections (tcp) that ended with {@code outcome}. */
  private void ended(String name, int p, int b, String pool, Protocol protocol, String id, String outcome,
      ToDoubleFunction<BackendSample> count) {
    String what = protocol == Protocol.HTTP ? "requests this node sent to the back-end that ended, by outcome"
        : "client connections this node relayed to the back-end that ended, by outcome";
    poolMeters.add(FunctionCounter.builder(name, this, m -> count.applyAsDouble(m.backend(p, b)))
        .tag("pool", pool).tag("protocol", protocol.label()).tag("backend", id).tag("outcome", outcome)
        .description(what).register(registry));
  }

  private PoolSample pool(int p) {
    return current.pools().get(p);
  }

  private BackendSample backend(int p, int b) {
    return current.pools().get(p).backends().get(b);
  }

  /** Takes a sample and renders it in Prometheus' text format. */
  public CompletionStage<String> scrape() {
    return source.get().thenApplyAsync(sample -> {
      List<Layout> layout = layoutOf(sample);
      if (!layout.equals(registered)) {
        relayout(layout);
      }
      current = sample;
      return registry.scrape();
    }, thread);
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
    thread.shutdown();
  }

  private static Sample empty(List<Layout> layout) {
    return new Sample(layout.stream().map(l -> new PoolSample(l.pool(), l.protocol(), 0, 0, 0, 0, 0, 0,
        LatencyBuckets.Snapshot.EMPTY, l.backends().stream().map(id -> new BackendSample(id, false, 0, 0, 0, 0, 0, 0,
            0, 0, LatencyBuckets.Snapshot.EMPTY, LatencyBuckets.Snapshot.EMPTY)).toList())).toList(), 0, 0);
  }

  /** The histograms, from the same sample as the meters; one without a series (no pool of its kind) is left out. */
  private final class Histograms implements MultiCollector {
    @Override
    public MetricSnapshots collect() {
      HistogramSnapshot.Builder responses = HistogramSnapshot.builder().name("sluice_backend_response_seconds")
          .unit(Unit.SECONDS)
          .help("time from sending a request to the back-end to the head of its response, per response served");
      HistogramSnapshot.Builder connections = HistogramSnapshot.builder()
          .name("sluice_backend_connection_duration_seconds").unit(Unit.SECONDS)
          .help("time from connecting to the back-end to both sides of the relayed connection closed (the slot"
              + " held), per connection completed");
      HistogramSnapshot.Builder firstBytes = HistogramSnapshot.builder()
          .name("sluice_backend_first_byte_seconds").unit(Unit.SECONDS)
          .help("time from connecting to the back-end to its first byte, per relayed connection that got one");
      HistogramSnapshot.Builder waits = HistogramSnapshot.builder().name("sluice_pool_queue_wait_seconds")
          .unit(Unit.SECONDS)
          .help("time from joining the pool's queue to being taken by a back-end (actor)");
      boolean http = false;
      boolean tcp = false;
      for (PoolSample pool : current.pools()) {
        String protocol = pool.protocol().label();
        waits.dataPoint(point(pool.queueWait(), Labels.of("pool", pool.pool(), "protocol", protocol)));
        HistogramSnapshot.Builder ends = pool.protocol() == Protocol.HTTP ? responses : connections;
        for (BackendSample b : pool.backends()) {
          Labels labels = Labels.of("backend", b.id(), "pool", pool.pool(), "protocol", protocol);
          ends.dataPoint(point(b.responseTimes(), labels));
          if (pool.protocol() == Protocol.TCP) {
            firstBytes.dataPoint(point(b.firstBytes(), labels));
          }
          http |= pool.protocol() == Protocol.HTTP;
          tcp |= pool.protocol() == Protocol.TCP;
        }
      }
      List<MetricSnapshot> out = new ArrayList<>();
      if (http) {
        out.add(responses.build());
      }
      if (tcp) {
        out.add(connections.build());
        out.add(firstBytes.build());
      }
      if (!current.pools().isEmpty()) {
        out.add(waits.build());
      }
      return new MetricSnapshots(out);
    }

    private HistogramSnapshot.HistogramDataPointSnapshot point(LatencyBuckets.Snapshot s, Labels labels) {
      double[] bounds = new double[LatencyBuckets.BOUNDS_SECONDS.length + 1];
      System.arraycopy(LatencyBuckets.BOUNDS_SECONDS, 0, bounds, 0, LatencyBuckets.BOUNDS_SECONDS.length);
      bounds[bounds.length - 1] = Double.POSITIVE_INFINITY;
      return HistogramSnapshot.HistogramDataPointSnapshot.builder()
          .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, s.counts()))
          .sum(s.sumNanos() / 1e9)
          .labels(labels)
          .build();
    }
  }
}
