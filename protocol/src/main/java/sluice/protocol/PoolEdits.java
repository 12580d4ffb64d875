package sluice.protocol;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The operator's change to the back-ends of a pool, sent to every node of the cluster: each
 * node applies it to its own running configuration (as a reload would, with the same checks)
 * and answers what it did.
 */
public final class PoolEdits {
  private PoolEdits() {}

  /** Sent to a node's pool editor. */
  public sealed interface Command extends KryoMessage permits EditPool {}

  /**
   * Add ({@code add} true) or remove the back-end {@code backend} ("host:port") to or from
   * {@code pool} of the node's running configuration.
   *
   * @param by who asked, for the node's log (the admin call, its client, the node it came to)
   */
  public record EditPool(String pool, String backend, boolean add, String by, ActorRef<PoolEdited> replyTo)
      implements Command {}

  /**
   * What one node did: {@code applied} with the changes, or refused with the problems (the
   * messages a reload would give).
   *
   * @param node the node's cluster address, e.g. {@code 10.0.0.5:2552}
   */
  public record PoolEdited(String node, boolean applied, List<String> changes, List<String> problems)
      implements KryoMessage {

    public PoolEdited {
      changes = List.copyOf(changes);
      problems = List.copyOf(problems);
    }
  }
}
