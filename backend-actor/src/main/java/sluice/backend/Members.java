package sluice.backend;

import java.util.HashSet;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.ClusterActorRefProvider;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Who must report before a new entity incarnation stops learning: the members that are Up,
 * and the member a node's pool lives on. Injected into {@link BackendEntity} so that tests
 * without a cluster can stand for one.
 */
interface Members {

  /** The members that are Up now. */
  Set<Address> up();

  /** The member that {@code pool} lives on. */
  Address memberOf(ActorRef<?> pool);

  /**
   * The cluster's members when the system runs the cluster provider. Otherwise the system is
   * the only member, so learning ends with the first demand from a pool inside it.
   */
  static Members of(ActorSystem<?> system) {
    if (((ExtendedActorSystem) system.classicSystem()).provider() instanceof ClusterActorRefProvider) {
      return ofCluster(Cluster.get(system));
    }
    Address self = system.address();
    return new Members() {
      @Override
      public Set<Address> up() {
        return Set.of(self);
      }

      @Override
      public Address memberOf(ActorRef<?> pool) {
        Address address = pool.path().address();
        return address.hasGlobalScope() ? address : self;
      }
    };
  }

  private static Members ofCluster(Cluster cluster) {
    return new Members() {
      @Override
      public Set<Address> up() {
        Set<Address> up = new HashSet<>();
        for (Member member : cluster.state().getMembers()) {
          if (member.status().equals(MemberStatus.up())) {
            up.add(member.address());
          }
        }
        return up;
      }

      @Override
      public Address memberOf(ActorRef<?> pool) {
        // a pool on this member has a local path, without host and port
        Address address = pool.path().address();
        return address.hasGlobalScope() ? address : cluster.selfMember().address();
      }
    };
  }
}
