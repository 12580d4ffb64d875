package sluice.node;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import sluice.protocol.PoolEdits;

/**
 * This node's side of the operator's cluster-wide change to a pool's back-ends: one per node,
 * registered with the receptionist under {@link #KEY}, so that the node that takes an admin
 * call finds every node's editor and sends each the same {@link PoolEdits.EditPool}. Each edit
 * is applied to this node's running configuration as a reload is (on the node's reload thread,
 * one at a time) and answered with what it did. Holds no state.
 */
final class PoolEditor extends AbstractBehavior<PoolEdits.Command> {

  static final ServiceKey<PoolEdits.Command> KEY = ServiceKey.create(PoolEdits.Command.class, "sluice-pool-editor");

  /** What the editor asks of its node. */
  interface Node {
    String nodeId();

    CompletionStage<ReloadResult> addBackend(String pool, String address, String by);

    CompletionStage<ReloadResult> removeBackend(String pool, String backendId, String by);
  }

  private final Node node;

  private PoolEditor(ActorContext<PoolEdits.Command> context, Node node) {
    super(context);
    this.node = node;
    context.getSystem().receptionist().tell(Receptionist.register(KEY, context.getSelf()));
  }

  static Behavior<PoolEdits.Command> create(Node node) {
    return Behaviors.setup(context -> new PoolEditor(context, node));
  }

  @Override
  public Receive<PoolEdits.Command> createReceive() {
    return newReceiveBuilder().onMessage(PoolEdits.EditPool.class, this::onEditPool).build();
  }

  private Behavior<PoolEdits.Command> onEditPool(PoolEdits.EditPool edit) {
    CompletionStage<ReloadResult> applied = edit.add()
        ? node.addBackend(edit.pool(), edit.backend(), edit.by())
        : node.removeBackend(edit.pool(), edit.backend(), edit.by());
    // the answer needs nothing of this actor's: it goes straight from the reload thread
    applied.whenComplete((result, failure) -> edit.replyTo().tell(failure == null
        ? new PoolEdits.PoolEdited(node.nodeId(), result.applied(), result.changes(), result.problems())
        : new PoolEdits.PoolEdited(node.nodeId(), false, java.util.List.of(), java.util.List.of(failure.toString()))));
    return this;
  }
}
