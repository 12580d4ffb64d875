package sluice.node.pool;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.OutgoingConnection;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * One persistent HTTP/1.1 connection to a back-end, carrying at most one request at a time.
 *
 * <p>States, changed only by the pool actor that owns it:
 * CONNECTING (TCP connect under way) -> IDLE -> WAITING (request sent, no response head
 * yet) -> STREAMING (head forwarded, body still flowing) -> IDLE ... -> CLOSED; a
 * connection opened for one retried request goes from CONNECTING straight to WAITING. A
 * connection counts against its back-end's slots in every state but CLOSED.
 *
 * <p>The stream callbacks run on stream threads; they only tell the pool actor (through
 * the {@link Events} given at open) and never touch this object's state.
 */
final class BackendConnection {

  enum State { CONNECTING, IDLE, WAITING, STREAMING, CLOSED }

  /** What the connection's stream reports; each call becomes a message to the pool. */
  interface Events {
    void connected(BackendConnection connection);

    void connectFailed(BackendConnection connection, Throwable cause);

    void response(BackendConnection connection, HttpResponse response);

    void closed(BackendConnection connection, Throwable causeOrNull);
  }

  final BackendLink link;
  final long id;
  State state = State.CONNECTING;
  /**
   * The request on this connection while WAITING or STREAMING; while CONNECTING, the
   * request this new connection was opened for (if any), sent as soon as it connects.
   */
  Pending current;
  /** The back-end said Connection: close: do not reuse after the current response. */
  boolean closeWhenDone;
  /** Requests this connection has finished; a reused connection may have been closed by the back-end. */
  int served;
  long idleSinceNanos;
  /** The request was sent and no response head has come yet (the response timeout runs). */
  boolean awaitingHead;

  private final BoundedSourceQueue<HttpRequest> requests;

  private BackendConnection(BackendLink link, long id, BoundedSourceQueue<HttpRequest> requests) {
    this.link = link;
    this.id = id;
    this.requests = requests;
  }

  static BackendConnection open(
      BackendLink link,
      long id,
      Http http,
      ClientConnectionSettings settings,
      Materializer materializer,
      Events events) {
    var holder = new BackendConnection[1];
    Pair<Pair<BoundedSourceQueue<HttpRequest>, CompletionStage<OutgoingConnection>>, CompletionStage<Done>> mat =
        Source.<HttpRequest>queue(1)
            .viaMat(http.connectionTo(link.host).toPort(link.port).withClientConnectionSettings(settings).http(),
                Keep.both())
            .toMat(Sink.<HttpResponse>foreach(response -> events.response(holder[0], response)), Keep.both())
            .run(materializer);
    BackendConnection connection = new BackendConnection(link, id, mat.first().first());
    holder[0] = connection;
    mat.first().second().whenComplete((outgoing, error) -> {
      if (error == null) {
        events.connected(connection);
      } else {
        events.connectFailed(connection, error);
      }
    });
    mat.second().whenComplete((done, error) -> events.closed(connection, error));
    return connection;
  }

  /** Hands one request to the connection. False if the stream is already gone. */
  boolean send(HttpRequest request) {
    return requests.offer(request) == QueueOfferResult.enqueued();
  }

  /** Closes gracefully: the connection ends once no request is on it. */
  void close() {
    requests.complete();
  }

  /** Tears the connection down now, whatever is on it. */
  void abort(Throwable cause) {
    requests.fail(cause);
  }

  boolean isBusy() {
    return state == State.WAITING || state == State.STREAMING;
  }

  @Override
  public String toString() {
    return link.id + "#" + id + "(" + state + ")";
  }
}
