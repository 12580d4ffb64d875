package sluice.node.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.JsonText;
import sluice.node.PoolStatus;
import sluice.node.ReloadResult;
import sluice.node.settings.AdminSettings;
import sluice.protocol.LeaseProtocol;

/**
 * The operator's listener (Pekko HTTP, off the request path): {@code GET /status} (JSON: every
 * pool and back-end as this node sees it), {@code GET /metrics} (Prometheus' text format), {@code GET /ready} (200 once the node is up in the
 * cluster and holds a lease for every back-end; 503 before that and while it stops) and
 * {@code GET /live}; and the calls that change a back-end cluster-wide, each answered by the
 * back-end's entity wherever it runs: {@code POST /backends/{id}/pin?limit=N},
 * {@code POST /backends/{id}/unpin}, {@code POST /backends/{id}/drain} and
 * {@code POST /backends/{id}/undrain} ({@code {id}} as in /status, e.g. {@code 127.0.0.1:9001},
 * URL-encoded or not). With a token configured every request but /ready and /live must carry
 * {@code Authorization: Bearer <token>}.
 *
 * <p>And the calls that change what the node runs ({@link #reloadRoutes}): {@code POST /reload}
 * reads the configuration file again and applies what changed, {@code POST
 * /pools/{pool}/add?backend=host:port} and {@code POST /pools/{pool}/remove?backend=host:port}
 * add or remove one back-end of the running configuration; each answers what changed (200) or
 * the problems that refused it (400), as JSON.
 */
public final class AdminServer extends AllDirectives {
  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

  /** The highest limit a pin accepts. */
  public static final int MAX_PIN = 1_000_000;

  /** What the node tells the listener. */
  public interface Node {
    CompletionStage<List<PoolStatus>> status();

    /** Why the node is not ready, or empty when it is. */
    CompletionStage<Optional<String>> notReady();

    String nodeId();

    /** The back-ends whose entity runs on this node. */
    CompletionStage<List<String>> entitiesHere();

    String memberStatus();

    boolean draining();

    /** The metrics in Prometheus' text format (0.0.4). */
    CompletionStage<String> metrics();

    /** The name of the algorithm that sets the back-end's limit. */
    String algorithm(String backendId);

    /** The cluster's members and every back-end entity's book; never fails (an entity that is silent says why). */
    CompletionStage<ClusterView> cluster();

    /** Whether this node's configuration names the back-end. */
    boolean knowsBackend(String backendId);

    /** Pins the back-end's limit at {@code limit}, or unpins it with 0; completes with the entity's book. */
    CompletionStage<LeaseProtocol.Leases> pin(String backendId, int limit, String by);

    /** Drains the back-end or returns it; completes with the entity's book. */
    CompletionStage<LeaseProtocol.Leases> drain(String backendId, boolean drained, String by);

    // reload, and back-ends added or removed while the node runs

    /** Reads the configuration file again and applies what changed; never fails (a refusal is a result). */
    CompletionStage<ReloadResult> reload(String by);

    /** Adds ({@code add}) or removes a back-end ("host:port") of a pool on every node; never fails. */
    CompletionStage<ClusterEdit> editPool(String pool, String backend, boolean add, String by);
  }

  /** What one node did with an operator's change to a pool's back-ends. */
  public record NodeEdit(String node, boolean applied, List<String> changes, List<String> problems) {}

  /**
   * What the nodes did with it, and the Up members that could not be asked (their editor is not
   * known to the receptionist yet).
   */
  public record ClusterEdit(List<NodeEdit> nodes, List<String> unreached) {}

  /** A cluster member as this node sees it. */
  public record Member(String address, String status, boolean self) {}

  /** One back-end's entity as it answered, or why it did not. */
  public record EntityView(String backendId, Optional<LeaseProtocol.Leases> leases, String error) {}

  public record ClusterView(List<Member> members, List<EntityView> backends) {}

  /** Prometheus' text exposition format. */
  private static final ContentType.WithFixedCharset PROMETHEUS_TEXT = MediaTypes.customWithFixedCharset("text", "plain",
      HttpCharsets.UTF_8, Map.of("version", "0.0.4"), false).toContentType();

  private final Node node;
  private final Optional<byte[]> expected;

  private AdminServer(Node node, AdminSettings settings) {
    this.node = node;
    this.expected = settings.token().map(t -> ("Bearer " + t).getBytes(StandardCharsets.US_ASCII));
  }

  public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, AdminSettings settings, Node node) {
    return Http.get(system).newServerAt(settings.host(), settings.port()).bind(new AdminServer(node, settings).route());
  }

  private Route route() {
    return concat(
        path("live", () -> get(() -> complete("live\n"))),
        path("ready", () -> get(() -> onSuccess(node.notReady(), why -> why.isPresent()
            ? complete(StatusCodes.SERVICE_UNAVAILABLE, "not ready: " + why.get() + "\n")
            : complete("ready\n")))),
        path("status", () -> authorized(() -> get(() -> onSuccess(
            node.status().thenCombine(node.entitiesHere(), StatusParts::new)
                .thenCombine(node.cluster(), (parts, cluster) -> json(parts.pools(), parts.entitiesHere(), cluster)),
            text -> complete(HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, text)))))),
        path("metrics", () -> authorized(() -> get(() -> onSuccess(node.metrics(),
            text -> complete(HttpResponse.create().withEntity(PROMETHEUS_TEXT, text)))))),
        pathPrefix("backends", () -> authorized(() -> pathPrefix(PathMatchers.segment(), id -> concat(
            path("pin", () -> post(() -> parameterOptional("limit", limit -> pin(id, limit)))),
            path("unpin", () -> post(() -> change(id, "unpin", by -> node.pin(id, 0, by)))),
            path("drain", () -> post(() -> change(id, "drain", by -> node.drain(id, true, by)))),
            path("undrain", () -> post(() -> change(id, "undrain", by -> node.drain(id, false, by)))))))),
        reloadRoutes(),
        new DashboardRoutes().route());
  }

  // ---- reload, and back-ends added or removed -------------------------------------------------

  /**
   * {@code POST /reload}, {@code POST /pools/{pool}/add?backend=host:port} and {@code POST
   * /pools/{pool}/remove?backend=host:port}: 200 with what changed and what was kept, or 400 with
   * the problems that refused it.
   */
  private Route reloadRoutes() {
    return concat(
        path("reload", () -> authorized(() -> post(() -> reloadCall(node::reload)))),
        pathPrefix("pools", () -> pathPrefix(PathMatchers.segment(), pool -> concat(
            path("add", () -> authorized(() -> post(() -> parameterOptional("backend",
                address -> editPool(pool, address, true))))),
            path("remove", () -> authorized(() -> post(() -> parameterOptional("backend",
                id -> editPool(pool, id, false)))))))));
  }

  private Route reloadCall(Function<String, CompletionStage<ReloadResult>> call) {
    return calledBy(by -> onSuccess(call.apply(by), result -> complete(HttpResponse.create()
        .withStatus(result.applied() ? StatusCodes.OK : StatusCodes.BAD_REQUEST)
        .withEntity(ContentTypes.APPLICATION_JSON, reloadJson(result)))));
  }

  /**
   * 200 when every node applied it, 400 when none did (the problems are each node's, usually
   * the same), 503 when some did and some did not or could not be asked.
   */
  private Route editPool(String pool, Optional<String> backend, boolean add) {
    if (backend.isEmpty() || backend.get().isBlank()) {
      return error(StatusCodes.BAD_REQUEST, "backend is required: POST /pools/{pool}/" + (add ? "add" : "remove")
          + "?backend=host:port");
    }
    return calledBy(by -> onSuccess(node.editPool(pool, backend.get(), add, by), edit -> {
      long applied = edit.nodes().stream().filter(NodeEdit::applied).count();
      StatusCode status = applied == edit.nodes().size() && edit.unreached().isEmpty() && applied > 0 ? StatusCodes.OK
          : applied == 0 ? StatusCodes.BAD_REQUEST : StatusCodes.SERVICE_UNAVAILABLE;
      return complete(HttpResponse.create().withStatus(status)
          .withEntity(ContentTypes.APPLICATION_JSON, editJson(edit)));
    }));
  }

  /** The inner route, given who called: the call, its client and (added by the node) the node it came to. */
  private Route calledBy(Function<String, Route> inner) {
    return extractClientIP(client -> extractUri(uri -> {
      String from = client.getAddress().map(a -> a.getHostAddress()).orElse("an unknown client");
      return inner.apply("admin call POST " + uri.path() + uri.rawQueryString().map(q -> "?" + q).orElse("")
          + " from " + from);
    }));
  }

  static String editJson(ClusterEdit edit) {
    StringBuilder out = new StringBuilder(256)
        .append("{\"applied\":").append(!edit.nodes().isEmpty() && edit.unreached().isEmpty()
            && edit.nodes().stream().allMatch(NodeEdit::applied))
        .append(",\"nodes\":[");
    for (int i = 0; i < edit.nodes().size(); i++) {
      NodeEdit n = edit.nodes().get(i);
      out.append(i > 0 ? "," : "").append("{\"node\":").append(quote(n.node()))
          .append(",\"applied\":").append(n.applied());
      list(out, "changes", n.changes());
      list(out, "problems", n.problems());
      out.append('}');
    }
    out.append(']');
    list(out, "unreached", edit.unreached());
    return out.append("}\n").toString();
  }

  static String reloadJson(ReloadResult r) {
    StringBuilder out = new StringBuilder(256).append("{\"applied\":").append(r.applied());
    list(out, "changes", r.changes());
    list(out, "kept", r.kept());
    list(out, "warnings", r.warnings());
    list(out, "problems", r.problems());
    return out.append("}\n").toString();
  }

  private static void list(StringBuilder out, String name, List<String> items) {
    out.append(",\"").append(name).append("\":[");
    for (int i = 0; i < items.size(); i++) {
      out.append(i > 0 ? "," : "").append(quote(items.get(i)));
    }
    out.append(']');
  }

  private Route pin(String id, Optional<String> limitText) {
    if (limitText.isEmpty()) {
      return error(StatusCodes.BAD_REQUEST, "limit is required: POST /backends/{id}/pin?limit=N with N a whole"
          + " number from 1 to " + MAX_PIN);
    }
    int limit;
    try {
      limit = Integer.parseInt(limitText.get().trim());
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 1 || limit > MAX_PIN) {
      return error(StatusCodes.BAD_REQUEST, "limit must be a whole number from 1 to " + MAX_PIN + ", was '"
          + limitText.get() + "'");
    }
    int pinned = limit;
    return change(id, "pin", by -> node.pin(id, pinned, by));
  }

  /** Sends the change to the back-end's entity and answers with the state it reports. */
  private Route change(String id, String what, Function<String, CompletionStage<LeaseProtocol.Leases>> send) {
    if (!node.knowsBackend(id)) {
      return error(StatusCodes.NOT_FOUND, "no back-end '" + id + "' in this node's configuration (ids as in /status)");
    }
    return extractClientIP(client -> extractUri(uri -> {
      String from = client.getAddress().map(a -> a.getHostAddress()).orElse("an unknown client");
      String by = "admin call POST " + uri.path() + uri.rawQueryString().map(q -> "?" + q).orElse("") + " from " + from
          + " on node " + node.nodeId();
      CompletionStage<Optional<LeaseProtocol.Leases>> answer = send.apply(by)
          .thenApply(Optional::of)
          .exceptionally(e -> {
            log.warn("backend {}: {} ({}): the back-end's entity did not answer: {}", id, what, by, e.toString());
            return Optional.empty();
          });
      return onSuccess(answer, leases -> {
        if (leases.isEmpty()) {
          return error(StatusCodes.SERVICE_UNAVAILABLE, "the entity of back-end '" + id + "' did not answer in time;"
              + " the change may or may not have been applied: see /status");
        }
        LeaseProtocol.Leases l = leases.get();
        log.info("backend {}: {} by {}: now limit {}, pinned {}, drained {}", id, what, by, l.limit(),
            l.pinned() > 0 ? "at " + l.pinned() : "no", l.drained());
        return complete(HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, state(l)));
      });
    }));
  }

  /** What a change answers: the back-end's state as its entity holds it after the change. */
  static String state(LeaseProtocol.Leases l) {
    return "{\"backend\":" + quote(l.backendId())
        + ",\"limit\":" + l.limit()
        + ",\"pinned\":" + (l.pinned() > 0)
        + ",\"pinnedLimit\":" + l.pinned()
        + ",\"drained\":" + l.drained()
        + ",\"learning\":" + l.learning()
        + ",\"algorithm\":" + quote(l.algorithm())
        + ",\"reason\":" + quote(l.lastReason()) + "}\n";
  }

  private Route error(StatusCode status, String message) {
    return complete(HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, "{\"error\":" + quote(message) + "}\n"));
  }

  private Route authorized(Supplier<Route> inner) {
    if (expected.isEmpty()) {
      return inner.get();
    }
    return optionalHeaderValueByName("Authorization", given -> given.isPresent()
        && MessageDigest.isEqual(given.get().getBytes(StandardCharsets.US_ASCII), expected.get())
        ? inner.get()
        : complete(StatusCodes.UNAUTHORIZED, "a bearer token is required\n"));
  }

  private record StatusParts(List<PoolStatus> pools, List<String> entitiesHere) {}

  private String json(List<PoolStatus> pools, List<String> entitiesHere, ClusterView cluster) {
    Map<String, LeaseProtocol.Leases> books = new HashMap<>();
    for (EntityView e : cluster.backends()) {
      e.leases().ifPresent(l -> books.put(e.backendId(), l));
    }
    StringBuilder out = new StringBuilder(512);
    out.append("{\"node\":").append(quote(node.nodeId()))
        .append(",\"member\":").append(quote(node.memberStatus()))
        .append(",\"draining\":").append(node.draining())
        .append(",\"entitiesHere\":[");
    for (int i = 0; i < entitiesHere.size(); i++) {
      out.append(i > 0 ? "," : "").append(quote(entitiesHere.get(i)));
    }
    out.append("],\"pools\":[");
    for (int i = 0; i < pools.size(); i++) {
      PoolStatus p = pools.get(i);
      if (i > 0) {
        out.append(',');
      }
      out.append("{\"pool\":").append(quote(p.pool()))
          .append(",\"queue\":").append(p.queueLength())
          .append(",\"inProgress\":").append(p.inProgress())
          .append(",\"accepted\":").append(p.accepted())
          .append(",\"served\":").append(p.served())
          .append(",\"rejectedFull\":").append(p.rejectedFull())
          .append(",\"expired\":").append(p.expired())
          .append(",\"noBackendUp\":").append(p.noBackendUp())
          .append(",\"badGateway\":").append(p.badGateway())
          .append(",\"gatewayTimeout\":").append(p.gatewayTimeout())
          .append(",\"abandoned\":").append(p.abandoned())
          .append(",\"clientAborted\":").append(p.clientAborted())
          .append(",\"stopped\":").append(p.stopped())
          .append(",\"backends\":[");
      for (int j = 0; j < p.backends().size(); j++) {
        PoolStatus.BackendStatus b = p.backends().get(j);
        if (j > 0) {
          out.append(',');
        }
        out.append("{\"id\":").append(quote(b.id()))
            .append(",\"up\":").append(b.up())
            .append(",\"limit\":").append(b.limit())
            .append(",\"granted\":").append(b.granted())
            .append(",\"leaseValid\":").append(b.leaseValid())
            .append(",\"inFlight\":").append(b.inFlight())
            .append(",\"connections\":").append(b.connections())
            .append(",\"served\":").append(b.served())
            .append(",\"failed\":").append(b.failed())
            .append(",\"ratePerSecond\":").append(Math.round(b.ratePerSecond()))
            .append(",\"p99Millis\":").append(String.format(java.util.Locale.ROOT, "%.2f", b.p99Millis()))
            .append(",\"limitReason\":").append(quote(b.limitReason()))
            .append(",\"algorithm\":").append(quote(node.algorithm(b.id())));
        LeaseProtocol.Leases book = books.get(b.id());
        if (book != null) { // as its entity says; absent if the entity did not answer (see cluster)
          out.append(",\"pinned\":").append(book.pinned() > 0)
              .append(",\"drained\":").append(book.drained());
        }
        out.append('}');
      }
      out.append("]}");
    }
    out.append("],");
    cluster(out, cluster);
    return out.append("}\n").toString();
  }

  /** The cluster's members and, per back-end, its entity's book: last, so that the fields above come first. */
  private static void cluster(StringBuilder out, ClusterView cluster) {
    out.append("\"cluster\":{\"members\":[");
    for (int i = 0; i < cluster.members().size(); i++) {
      Member m = cluster.members().get(i);
      out.append(i > 0 ? "," : "").append("{\"address\":").append(quote(m.address()))
          .append(",\"status\":").append(quote(m.status()))
          .append(",\"self\":").append(m.self()).append('}');
    }
    out.append("],\"backends\":[");
    for (int i = 0; i < cluster.backends().size(); i++) {
      EntityView e = cluster.backends().get(i);
      out.append(i > 0 ? "," : "").append("{\"backend\":").append(quote(e.backendId()));
      if (e.leases().isEmpty()) {
        out.append(",\"error\":").append(quote(e.error())).append('}');
        continue;
      }
      LeaseProtocol.Leases l = e.leases().get();
      out.append(",\"epoch\":").append(quote(Long.toHexString(l.epoch())))
          .append(",\"limit\":").append(l.limit())
          .append(",\"learning\":").append(l.learning())
          .append(",\"pinned\":").append(l.pinned() > 0)
          .append(",\"pinnedLimit\":").append(l.pinned())
          .append(",\"drained\":").append(l.drained())
          .append(",\"algorithm\":").append(quote(l.algorithm()))
          .append(",\"lastDecision\":{\"reason\":").append(quote(l.lastReason()))
          .append(",\"agoMillis\":").append(l.lastDecisionAgoMillis())
          .append("},\"leases\":[");
      for (int j = 0; j < l.nodes().size(); j++) {
        LeaseProtocol.NodeLease n = l.nodes().get(j);
        out.append(j > 0 ? "," : "").append("{\"member\":").append(quote(n.member()))
            .append(",\"pools\":").append(n.pools())
            .append(",\"granted\":").append(n.granted())
            .append(",\"counted\":").append(n.counted()).append('}');
      }
      out.append("]}");
    }
    out.append("]}");
  }

  static String quote(String s) {
    return JsonText.quoted(s, new StringBuilder(s == null ? 4 : s.length() + 2)).toString();
  }
}
