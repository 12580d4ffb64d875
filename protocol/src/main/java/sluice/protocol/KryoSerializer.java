package sluice.protocol;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.JSerializer;

/**
 * Pekko serializer for every {@link KryoMessage}. Classes are registered with fixed ids
 * (below) so that nodes of the same version agree on the wire format without sending
 * class names; an unregistered class is refused. Actor references travel as their
 * serialized path and are resolved on arrival.
 *
 * <p>Kryo instances are not thread-safe: each use borrows one from a pool.
 */
public final class KryoSerializer extends JSerializer {

  /** Pekko's id for this serializer; must not clash with Pekko's own (below 100). */
  public static final int IDENTIFIER = 7_310_001;

  private final ActorRefResolver resolver;
  private final Pool<Kryo> kryos;
  private final Pool<Output> outputs;

  public KryoSerializer(ExtendedActorSystem system) {
    this.resolver = ActorRefResolver.get(Adapter.toTyped(system));
    this.kryos = new Pool<>(true, false, 16) {
      @Override
      protected Kryo create() {
        return newKryo();
      }
    };
    this.outputs = new Pool<>(true, false, 16) {
      @Override
      protected Output create() {
        return new Output(256, -1);
      }
    };
  }

  /** The classes that may cross nodes and their ids. Append only: never reuse an id. */
  static void register(Kryo kryo, Serializer<ActorRef<?>> actorRefs) {
    kryo.register(ActorRef.class, actorRefs, 30);
    kryo.register(LimitSpec.class, new LimitSpecSerializer(), 20);
    kryo.register(LeaseProtocol.Demand.class, 21);
    kryo.register(LeaseProtocol.Lease.class, 22);
    kryo.register(LeaseProtocol.SampleBatch.class, 23);
    kryo.register(LeaseProtocol.GetStatus.class, 24);
    kryo.register(LeaseProtocol.Status.class, 25);
    kryo.register(LimitDecision.class, 26);
    kryo.register(LeaseProtocol.Release.class, 27);
    kryo.register(LeaseProtocol.GetLeases.class, 28);
    kryo.register(LeaseProtocol.Leases.class, new LeasesSerializer(), 29);
    kryo.register(LeaseProtocol.SetPin.class, 31);
    kryo.register(LeaseProtocol.SetDrain.class, 32);
    kryo.register(LeaseProtocol.SetSpec.class, 33);
    kryo.register(PoolEdits.EditPool.class, 34);
    kryo.register(PoolEdits.PoolEdited.class, new PoolEditedSerializer(), 35);
  }

  private Kryo newKryo() {
    Kryo kryo = new Kryo(new ActorRefClassResolver(), null);
    kryo.setRegistrationRequired(true);
    kryo.setReferences(false);
    register(kryo, new ActorRefSerializer());
    return kryo;
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public boolean includeManifest() {
    return false;
  }

  @Override
  public byte[] toBinary(Object message) {
    Kryo kryo = kryos.obtain();
    Output output = outputs.obtain();
    try {
      output.reset();
      kryo.writeClassAndObject(output, message);
      return output.toBytes();
    } finally {
      outputs.free(output);
      kryos.free(kryo);
    }
  }

  @Override
  public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
    Kryo kryo = kryos.obtain();
    try {
      return kryo.readClassAndObject(new Input(bytes));
    } finally {
      kryos.free(kryo);
    }
  }

  /** Every concrete actor reference class is written as the one registration of {@link ActorRef}. */
  private static final class ActorRefClassResolver extends DefaultClassResolver {
    @Override
    @SuppressWarnings("rawtypes") // Kryo's signature
    public Registration getRegistration(Class type) {
      if (type != ActorRef.class && ActorRef.class.isAssignableFrom(type)) {
        return super.getRegistration(ActorRef.class);
      }
      return super.getRegistration(type);
    }
  }

  /** Written by hand: its parameter map is immutable, which Kryo cannot rebuild. */
  private static final class LimitSpecSerializer extends Serializer<LimitSpec> {
    @Override
    public void write(Kryo kryo, Output output, LimitSpec spec) {
      output.writeString(spec.algorithm());
      output.writeVarInt(spec.min(), true);
      output.writeVarInt(spec.max(), true);
      output.writeVarInt(spec.initial(), true);
      output.writeVarInt(spec.params().size(), true);
      for (Map.Entry<String, String> e : spec.params().entrySet()) {
        output.writeString(e.getKey());
        output.writeString(e.getValue());
      }
    }

    @Override
    public LimitSpec read(Kryo kryo, Input input, Class<? extends LimitSpec> type) {
      String algorithm = input.readString();
      int min = input.readVarInt(true);
      int max = input.readVarInt(true);
      int initial = input.readVarInt(true);
      int size = input.readVarInt(true);
      Map<String, String> params = new TreeMap<>();
      for (int i = 0; i < size; i++) {
        params.put(input.readString(), input.readString());
      }
      return new LimitSpec(algorithm, min, max, initial, params);
    }
  }

  /** Written by hand: its list is immutable, which Kryo cannot rebuild; and small this way. */
  private static final class LeasesSerializer extends Serializer<LeaseProtocol.Leases> {
    @Override
    public void write(Kryo kryo, Output output, LeaseProtocol.Leases leases) {
      output.writeString(leases.backendId());
      output.writeLong(leases.epoch());
      output.writeVarInt(leases.limit(), true);
      output.writeBoolean(leases.learning());
      output.writeString(leases.algorithm());
      output.writeString(leases.lastReason());
      output.writeVarLong(leases.lastDecisionAgoMillis(), false);
      output.writeVarInt(leases.nodes().size(), true);
      for (LeaseProtocol.NodeLease n : leases.nodes()) {
        output.writeString(n.member());
        output.writeVarInt(n.pools(), true);
        output.writeVarInt(n.granted(), true);
        output.writeVarInt(n.counted(), true);
      }
      output.writeVarInt(leases.pinned(), true);
      output.writeBoolean(leases.drained());
    }

    @Override
    public LeaseProtocol.Leases read(Kryo kryo, Input input, Class<? extends LeaseProtocol.Leases> type) {
      String backendId = input.readString();
      long epoch = input.readLong();
      int limit = input.readVarInt(true);
      boolean learning = input.readBoolean();
      String algorithm = input.readString();
      String lastReason = input.readString();
      long ago = input.readVarLong(false);
      int size = input.readVarInt(true);
      List<LeaseProtocol.NodeLease> nodes = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        nodes.add(new LeaseProtocol.NodeLease(input.readString(), input.readVarInt(true), input.readVarInt(true),
            input.readVarInt(true)));
      }
      int pinned = input.readVarInt(true);
      boolean drained = input.readBoolean();
      return new LeaseProtocol.Leases(backendId, epoch, limit, learning, algorithm, lastReason, ago, nodes, pinned,
          drained);
    }
  }

  /** Written by hand: its lists are immutable, which Kryo cannot rebuild. */
  private static final class PoolEditedSerializer extends Serializer<PoolEdits.PoolEdited> {
    @Override
    public void write(Kryo kryo, Output output, PoolEdits.PoolEdited edited) {
      output.writeString(edited.node());
      output.writeBoolean(edited.applied());
      writeStrings(output, edited.changes());
      writeStrings(output, edited.problems());
    }

    @Override
    public PoolEdits.PoolEdited read(Kryo kryo, Input input, Class<? extends PoolEdits.PoolEdited> type) {
      return new PoolEdits.PoolEdited(input.readString(), input.readBoolean(), readStrings(input), readStrings(input));
    }

    private static void writeStrings(Output output, List<String> strings) {
      output.writeVarInt(strings.size(), true);
      strings.forEach(output::writeString);
    }

    private static List<String> readStrings(Input input) {
      int size = input.readVarInt(true);
      List<String> out = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        out.add(input.readString());
      }
      return out;
    }
  }

  /** An actor reference as its path with address, resolved through {@link ActorRefResolver}. */
  private final class ActorRefSerializer extends Serializer<ActorRef<?>> {
    @Override
    public void write(Kryo kryo, Output output, ActorRef<?> ref) {
      output.writeString(resolver.toSerializationFormat(ref));
    }

    @Override
    public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
      return resolver.resolveActorRef(input.readString());
    }
  }
}
