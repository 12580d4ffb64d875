package sluice.node.settings;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The operator's changes to a node's running configuration: a back-end added to or removed
 * from a pool's {@code backends}, as if the file said so. The result is read and validated by
 * {@link SettingsReader} like any configuration, so a bad change is refused with the messages of
 * start-up (a back-end already in a pool, a pool left without back-ends). Throws
 * {@link SettingsException} when the change itself cannot be made (no such pool, no such back-end
 * in it, not an address).
 */
public final class ConfigEdits {
  private ConfigEdits() {}

  /** {@code config} with {@code address} ("host:port") appended to the backends of {@code pool}. */
  public static Config addBackend(Config config, String pool, String address) {
    String path = backendsPath(config, pool);
    HostPort parsed = parse(path, address);
    List<ConfigValue> values = new ArrayList<>(list(config, path));
    values.add(ConfigValueFactory.fromAnyRef(parsed.id(), "added by the operator"));
    return config.withValue(path, listLike(config, path, values));
  }

  /** {@code config} without the back-end {@code backendId} ("host:port") in the backends of {@code pool}. */
  public static Config removeBackend(Config config, String pool, String backendId) {
    String path = backendsPath(config, pool);
    String id = parse(path, backendId).id();
    List<ConfigValue> values = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    boolean found = false;
    for (ConfigValue v : list(config, path)) {
      String here = idOf(v);
      if (id.equals(here)) {
        found = true;
      } else {
        values.add(v);
      }
      if (here != null) {
        ids.add(here);
      }
    }
    if (!found) {
      throw new SettingsException(List.of(path + ": has no back-end " + id + " (it has " + String.join(", ", ids)
          + ")"));
    }
    return config.withValue(path, listLike(config, path, values));
  }

  private static String backendsPath(Config config, String pool) {
    String pools = "sluice.pools";
    Set<String> names = new TreeSet<>();
    if (config.hasPath(pools) && config.getValue(pools).valueType() == ConfigValueType.OBJECT) {
      ConfigObject all = config.getObject(pools);
      all.forEach((name, value) -> {
        if (value.valueType() == ConfigValueType.OBJECT) {
          names.add(name);
        }
      });
    }
    if (!names.contains(pool)) {
      throw new SettingsException(List.of(pools + ": has no pool '" + pool + "' (it has " + String.join(", ", names)
          + ")"));
    }
    String path = pools + "." + pool; // a pool's name is letters, digits, '-' and '_': a path as it is
    if (!config.hasPath(path + ".backends") || config.getValue(path + ".backends").valueType() != ConfigValueType.LIST) {
      throw new SettingsException(List.of(path + ".backends: must be a list of back-ends"));
    }
    return path + ".backends";
  }

  private static List<? extends ConfigValue> list(Config config, String path) {
    return config.getList(path);
  }

  /** A list with the origin of the one it replaces, so that the pool keeps its place in the file's order. */
  private static ConfigValue listLike(Config config, String path, List<ConfigValue> values) {
    ConfigList was = config.getList(path);
    List<Object> unwrapped = new ArrayList<>();
    for (ConfigValue v : values) {
      unwrapped.add(v.unwrapped());
    }
    return ConfigValueFactory.fromIterable(unwrapped).withOrigin(was.origin());
  }

  private static HostPort parse(String path, String address) {
    try {
      return HostPort.parse(address.trim(), 1);
    } catch (IllegalArgumentException e) {
      throw new SettingsException(List.of(path + ": a back-end address " + e.getMessage() + ", was '" + address
          + "'"));
    }
  }

  /** The id of a list element ("host:port" or { address = ... }), or null if it is not one. */
  private static String idOf(ConfigValue v) {
    Object text = null;
    if (v.valueType() == ConfigValueType.STRING) {
      text = v.unwrapped();
    } else if (v.valueType() == ConfigValueType.OBJECT) {
      ConfigValue address = ((ConfigObject) v).get("address");
      text = address != null && address.valueType() == ConfigValueType.STRING ? address.unwrapped() : null;
    }
    if (text == null) {
      return null;
    }
    try {
      return HostPort.parse((String) text, 1).id();
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
