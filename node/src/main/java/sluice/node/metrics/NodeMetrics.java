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
 */
public final class NodeMetrics implements AutoCloseable {

  /** One back-end, summed over this node's event loops. */
  public record BackendSample(String id, boolean up, int limit, int slots, int inFlight, long served,
      long badGateway, long gatewayTimeout, long clientAborted, LatencyBuckets.Snapshot responseTimes) {}

  /** One pool, summed over this node's event loops. */
  public record PoolSample(String pool, int queueLength, long rejectedFull, long expired, long noBackendUp,
      long stopped, long refusedConnections, LatencyBuckets.Snapshot queueWait, List<BackendSample> backends) {}

  /** Everything a scrape shows, pools and back-ends in configuration order. */
  public record Sample(List<PoolSample> pools, long clientConnections) {}

  /** Pool names and, per pool, its back-end ids, in configuration order. */
  public record Layout(String pool, List<String> backends) {}

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
    Gauge.builder("sluice.client.connections", this, m -> m.current.clientConnections())
        .description("client connections open on this node").register(registry);
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
        .map(p -> new Layout(p.pool(), p.backends().stream().map(BackendSample::id).toList())).toList();
  }

  private void registerPool(int p, Layout layout) {
    String pool = layout.pool();
    poolMeters.add(Gauge.builder("sluice.pool.queue.length", this, m -> m.pool(p).queueLength())
        .tag("pool", pool).description("requests waiting in the pool's queue on this node").register(registry));
    rejected(p, pool, "queue_full", PoolSample::rejectedFull);
    rejected(p, pool, "queue_timeout", PoolSample::expired);
    rejected(p, pool, "no_backend_up", PoolSample::noBackendUp);
    rejected(p, pool, "stopping", PoolSample::stopped);
    poolMeters.add(FunctionCounter.builder("sluice.pool.refused.connections", this,
            m -> m.pool(p).refusedConnections())
        .tag("pool", pool).description("client connections refused while the pool's queue was above its threshold")
        .register(registry));
    for (int b = 0; b < layout.backends().size(); b++) {
      registerBackend(p, b, pool, layout.backends().get(b));
    }
  }

  private void rejected(int p, String pool, String reason, ToDoubleFunction<PoolSample> count) {
    poolMeters.add(FunctionCounter.builder("sluice.pool.rejected.requests", this, m -> count.applyAsDouble(m.pool(p)))
        .tag("pool", pool).tag("reason", reason).description("requests answered 503 by the pool's queue, by reason")
        .register(registry));
  }

  private void registerBackend(int p, int b, String pool, String id) {
    gauge("sluice.backend.limit", p, b, pool, id, BackendSample::limit,
        "the back-end's cluster-wide concurrency limit, as this node last heard it");
    gauge("sluice.backend.slots", p, b, pool, id, BackendSample::slots, "slots of the limit this node holds");
    gauge("sluice.backend.in.flight", p, b, pool, id, BackendSample::inFlight,
        "requests on the back-end from this node now");
    gauge("sluice.backend.up", p, b, pool, id, s -> s.up() ? 1 : 0,
        "1 unless this node's connection attempts to the back-end fail (on every event loop)");
    outcome(p, b, pool, id, "served", BackendSample::served);
    outcome(p, b, pool, id, "bad_gateway", BackendSample::badGateway);
    outcome(p, b, pool, id, "gateway_timeout", BackendSample::gatewayTimeout);
    outcome(p, b, pool, id, "client_aborted", BackendSample::clientAborted);
  }

  private void gauge(String name, int p, int b, String pool, String id, ToDoubleFunction<BackendSample> value,
      String description) {
    poolMeters.add(Gauge.builder(name, this, m -> value.applyAsDouble(m.backend(p, b)))
        .tag("pool", pool).tag("backend", id).description(description).register(registry));
  }

  private void outcome(int p, int b, String pool, String id, String outcome, ToDoubleFunction<BackendSample> count) {
    poolMeters.add(FunctionCounter.builder("sluice.backend.requests", this, m -> count.applyAsDouble(m.backend(p, b)))
        .tag("pool", pool).tag("backend", id).tag("outcome", outcome)
        .description("requests this node sent to the back-end that ended, by outcome").register(registry));
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
    return new Sample(layout.stream().map(l -> new PoolSample(l.pool(), 0, 0, 0, 0, 0, 0, LatencyBuckets.Snapshot.EMPTY,
        l.backends().stream().map(id -> new BackendSample(id, false, 0, 0, 0, 0, 0, 0, 0,
            LatencyBuckets.Snapshot.EMPTY)).toList())).toList(), 0);
  }

  /** The two histograms, from the same sample as the meters. */
  private final class Histograms implements MultiCollector {
    @Override
    public MetricSnapshots collect() {
      HistogramSnapshot.Builder responses = HistogramSnapshot.builder().name("sluice_backend_response_seconds")
          .unit(Unit.SECONDS)
          .help("time from sending a request to the back-end to the head of its response, per response served");
      HistogramSnapshot.Builder waits = HistogramSnapshot.builder().name("sluice_pool_queue_wait_seconds")
          .unit(Unit.SECONDS)
          .help("time from joining the pool's queue to being taken by a back-end's connection");
      for (PoolSample pool : current.pools()) {
        waits.dataPoint(point(pool.queueWait(), Labels.of("pool", pool.pool())));
        for (BackendSample b : pool.backends()) {
          responses.dataPoint(point(b.responseTimes(), Labels.of("backend", b.id(), "pool", pool.pool())));
        }
      }
      return MetricSnapshots.of(responses.build(), waits.build());
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
