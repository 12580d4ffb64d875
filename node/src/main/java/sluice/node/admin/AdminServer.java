package sluice.node.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import sluice.node.PoolStatus;
import sluice.node.settings.AdminSettings;

/**
 * The operator's listener (Pekko HTTP, off the request path): {@code GET /status} (JSON: every
 * pool and back-end as this node sees it), {@code GET /ready} (200 once the node is up in the
 * cluster and holds a lease for every back-end; 503 before that and while it stops) and
 * {@code GET /live}. With a token configured every request but /ready and /live must carry
 * {@code Authorization: Bearer <token>}.
 */
public final class AdminServer extends AllDirectives {

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
  }

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
            node.status().thenCombine(node.entitiesHere(), (pools, entities) -> json(pools, entities)),
            text -> complete(HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, text)))))));
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

  private String json(List<PoolStatus> pools, List<String> entitiesHere) {
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
            .append('}');
      }
      out.append("]}");
    }
    return out.append("]}\n").toString();
  }

  static String quote(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
