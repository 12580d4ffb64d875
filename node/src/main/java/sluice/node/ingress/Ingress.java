package sluice.node.ingress;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.io.TcpSO;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.TLSProtocol.SslTlsInbound;
import org.apache.pekko.stream.TLSProtocol.SslTlsOutbound;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.TLSPlacebo;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.node.http.Forwarding;
import sluice.node.pool.ConnectionGate;
import sluice.node.pool.PoolQueue;
import sluice.node.settings.HttpSettings;
import sluice.node.settings.RouteSettings;

/**
 * The client-facing HTTP listener. Accepts TCP connections (or closes them at once while
 * the {@link ConnectionGate} says a queue is too long), runs Pekko HTTP's server layer on
 * each behind a {@link HeadDeadlineGuard}, and hands every request to its pool's queue.
 * One request at a time per connection: pipelined requests are answered in order.
 */
public final class Ingress {
  private static final Logger log = LoggerFactory.getLogger(Ingress.class);

  private Ingress() {}

  /** Binds the listener; the stage completes with the binding (its local address says the port). */
  public static CompletionStage<Tcp.ServerBinding> bind(
      ActorSystem<?> system,
      HttpSettings http,
      List<RouteSettings> routes,
      Map<String, ActorRef<PoolQueue.Command>> pools,
      Optional<String> defaultPool,
      ConnectionGate gate) {
    Materializer materializer = Materializer.matFromSystem(system);
    ServerSettings serverSettings = ServerSettings.create(system.classicSystem());
    Router router = new Router(routes, pools, defaultPool);
    Source<Tcp.IncomingConnection, CompletionStage<Tcp.ServerBinding>> connections = Tcp.get(system)
        .bind(http.host(), http.port(), 1024, List.of(TcpSO.tcpNoDelay(true)), false,
            Optional.of(http.idleTimeout()));
    return connections
        .to(Sink.foreach(connection -> {
          if (gate.refusing()) {
            log.debug("refusing connection from {}: a queue is above its threshold", connection.remoteAddress());
            connection.handleWith(Flow.fromSinkAndSourceCoupled(Sink.cancelled(), Source.empty()), materializer);
          } else {
            connection.handleWith(httpLayers(system, serverSettings, http, router, connection.remoteAddress(), materializer),
                materializer);
          }
        }))
        .run(materializer);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Flow<ByteString, ByteString, NotUsed> httpLayers(
      ActorSystem<?> system, ServerSettings serverSettings, HttpSettings http, Router router,
      InetSocketAddress remote, Materializer materializer) {
    HeadDeadlineGuard.Progress progress = new HeadDeadlineGuard.Progress();
    BidiFlow<SslTlsOutbound, ByteString, ByteString, SslTlsInbound, NotUsed> plain =
        (BidiFlow) TLSPlacebo.getInstance();
    BidiFlow<HttpResponse, ByteString, ByteString, HttpRequest, NotUsed> server =
        Http.get(system.classicSystem()).serverLayer(serverSettings, Optional.of(remote)).atop(plain)
            .atop(BidiFlow.fromGraph(new HeadDeadlineGuard(http.headDeadline(), progress)).reversed());
    String clientIp = remote.getAddress() == null ? remote.getHostString() : remote.getAddress().getHostAddress();
    Flow<HttpRequest, HttpResponse, NotUsed> handler = Flow.of(HttpRequest.class)
        .mapAsync(1, request -> handle(request, clientIp, router, progress, materializer));
    return server.reversed().join(handler);
  }

  private static CompletionStage<HttpResponse> handle(
      HttpRequest request, String clientIp, Router router, HeadDeadlineGuard.Progress progress,
      Materializer materializer) {
    progress.requestsReceived.incrementAndGet();
    String host = request.getHeader(Host.class).map(h -> h.host().address()).orElse("");
    ActorRef<PoolQueue.Command> pool = router.route(host, request.getUri().path());
    CompletableFuture<HttpResponse> reply = new CompletableFuture<>();
    if (pool == null) {
      request.discardEntityBytes(materializer);
      reply.complete(HttpResponse.create().withStatus(StatusCodes.NOT_FOUND)
          .withEntity(ContentTypes.TEXT_PLAIN_UTF8, "no route for host '" + host + "' and path "
              + request.getUri().path() + "\n"));
    } else {
      pool.tell(new PoolQueue.Enqueue(Forwarding.forwardRequest(request, clientIp), reply, progress.clientClosed::get));
    }
    return reply.whenComplete((response, failure) -> progress.responsesDone.incrementAndGet());
  }
}
