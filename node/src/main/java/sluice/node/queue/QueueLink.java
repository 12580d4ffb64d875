package sluice.node.queue;

import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A back-end actor's side of the credit protocol with its pool's {@link QueueActor}, the same
 * for the HTTP and the L4 back-end actor: its own incarnation, the queue's session it counts
 * in, how many items the queue sent it in that session, and what it last told, so that a
 * {@link QueueActor.Capacity} goes out only when the queue's belief (what was told, less what
 * it has sent since) would be wrong. Plain state, used on the actor's thread only.
 */
public final class QueueLink {
  private final ActorRef<QueueActor.Command> queue;
  private final ActorRef<QueueActor.ToBackend> inbox;
  private final String backendId;
  private final long incarnation = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
  private long queueIncarnation;
  private long received;
  private int toldFree = -1;
  private long toldReceived;
  private int toldSlots = -1;
  private boolean toldUp;

  /** @param inbox where the queue's {@link QueueActor.ToBackend} messages reach the actor */
  public QueueLink(ActorRef<QueueActor.Command> queue, ActorRef<QueueActor.ToBackend> inbox, String backendId) {
    this.queue = queue;
    this.inbox = inbox;
    this.backendId = backendId;
  }

  /** Counts an item the queue sent, if it was sent in the current session to this incarnation. */
  public void assigned(QueueActor.Assign assign) {
    if (assign.queueIncarnation() == queueIncarnation && assign.backendIncarnation() == incarnation) {
      received++;
    }
  }

  /** Notes a backlog report: a new session with the queue counts from 0. Returns how many wait. */
  public int backlog(QueueActor.Backlog message) {
    if (message.queueIncarnation() != queueIncarnation) {
      queueIncarnation = message.queueIncarnation();
      received = 0;
      toldFree = -1;
    }
    return message.waiting();
  }

  /**
   * Tells the queue what the actor can take now ({@code free}), when that differs from what the
   * queue believes, or always with {@code force}.
   */
  public void tellCapacity(boolean force, int free, int inFlight, int slots, boolean up) {
    long believed = toldFree - (received - toldReceived);
    if (!force && free == believed && up == toldUp && slots == toldSlots) {
      return;
    }
    toldFree = free;
    toldReceived = received;
    toldSlots = slots;
    toldUp = up;
    queue.tell(new QueueActor.Capacity(inbox, backendId, incarnation, queueIncarnation, received, free, inFlight,
        slots, up));
  }

  /** The actor leaves the pool (a reload removed its back-end): the queue sends it nothing more. */
  public void leave() {
    queue.tell(new QueueActor.Leave(inbox, backendId));
  }

  /** Gives an item back to the queue unserved (it goes to the head again, or is counted as dropped). */
  public void giveBack(Work work) {
    queue.tell(new QueueActor.Returned(work));
  }
}
