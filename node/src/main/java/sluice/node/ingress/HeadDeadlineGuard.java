package sluice.node.ingress;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BidiShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;

/**
 * Closes a client connection whose request head does not arrive in time (slow-drip
 * clients), answering 408 first; and notes when the client closes its connection. Pekko HTTP's own idle timeout counts only inactivity, so
 * a client sending one byte a second would hold a connection forever without this.
 *
 * <p>Sits on the raw bytes between the network and the HTTP server layer. When bytes
 * arrive while no request is in progress on the connection, a head is starting: a timer
 * runs, and if the handler has not received a new request when it fires, the head took too
 * long. The handler counts requests in and responses out in {@link Progress}.
 */
final class HeadDeadlineGuard extends GraphStage<BidiShape<ByteString, ByteString, ByteString, ByteString>> {

  /**
   * Request progress on one connection, written by the request handler; and whether the
   * client has closed its side (this stage sees that first, as the end of its bytes).
   */
  static final class Progress {
    final AtomicLong requestsReceived = new AtomicLong();
    final AtomicLong responsesDone = new AtomicLong();
    final AtomicBoolean clientClosed = new AtomicBoolean();

    boolean idle() {
      return requestsReceived.get() == responsesDone.get();
    }
  }

  private static final String TIMEOUT_BODY = "request head not received within the deadline\n";
  private static final ByteString TIMEOUT_RESPONSE = ByteString.fromString(
      "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: "
          + TIMEOUT_BODY.length() + "\r\n\r\n" + TIMEOUT_BODY);

  private final Inlet<ByteString> fromNetwork = Inlet.create("guard.fromNetwork");
  private final Outlet<ByteString> toServer = Outlet.create("guard.toServer");
  private final Inlet<ByteString> fromServer = Inlet.create("guard.fromServer");
  private final Outlet<ByteString> toNetwork = Outlet.create("guard.toNetwork");
  private final BidiShape<ByteString, ByteString, ByteString, ByteString> shape =
      BidiShape.of(fromNetwork, toServer, fromServer, toNetwork);

  private final Duration deadline;
  private final Progress progress;

  HeadDeadlineGuard(Duration deadline, Progress progress) {
    this.deadline = deadline;
    this.progress = progress;
  }

  @Override
  public BidiShape<ByteString, ByteString, ByteString, ByteString> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes inheritedAttributes) {
    return new TimerGraphStageLogic(shape) {
      private boolean timing;
      private long requestsAtStart;

      {
        setHandler(fromNetwork, new AbstractInHandler() {
          @Override
          public void onPush() {
            ByteString bytes = grab(fromNetwork);
            if (!timing && progress.idle()) {
              timing = true;
              requestsAtStart = progress.requestsReceived.get();
              scheduleOnce("head", deadline);
            }
            push(toServer, bytes);
          }

          @Override
          public void onUpstreamFinish() {
            progress.clientClosed.set(true);
            complete(toServer);
          }

          @Override
          public void onUpstreamFailure(Throwable cause) {
            progress.clientClosed.set(true);
            fail(toServer, cause);
          }
        });
        setHandler(toServer, new AbstractOutHandler() {
          @Override
          public void onPull() {
            pull(fromNetwork);
          }

          @Override
          public void onDownstreamFinish(Throwable cause) {
            cancel(fromNetwork, cause);
          }
        });
        setHandler(fromServer, new AbstractInHandler() {
          @Override
          public void onPush() {
            push(toNetwork, grab(fromServer));
          }

          @Override
          public void onUpstreamFinish() {
            complete(toNetwork);
          }
        });
        setHandler(toNetwork, new AbstractOutHandler() {
          @Override
          public void onPull() {
            pull(fromServer);
          }
        });
      }

      @Override
      public void onTimer(Object key) {
        timing = false;
        if (progress.requestsReceived.get() == requestsAtStart && progress.idle()) {
          cancel(fromNetwork);
          complete(toServer);
          cancel(fromServer);
          emit(toNetwork, TIMEOUT_RESPONSE, this::completeStage);
        }
      }
    };
  }
}
