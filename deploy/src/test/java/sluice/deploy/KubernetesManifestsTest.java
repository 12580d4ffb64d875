package sluice.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import sluice.node.settings.SettingsException;
import sluice.node.settings.SettingsReader;
import sluice.node.settings.SluiceSettings;

/**
 * The Kubernetes manifests, read as YAML (no cluster is involved): the node's configuration
 * in the ConfigMap goes through the settings reader with what the StatefulSet gives each pod,
 * and the names and ports that tie the manifests together agree.
 */
class KubernetesManifestsTest {
  static final Path DIR = Path.of("kubernetes");
  static final Pattern K8S_VAR = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  static final Map<String, Map<String, Object>> byKindAndName = new LinkedHashMap<>();

  @BeforeAll
  static void readManifests() throws IOException {
    List<Path> files;
    try (Stream<Path> listed = Files.list(DIR)) {
      files = listed.filter(p -> p.toString().endsWith(".yaml") && !p.endsWith("kustomization.yaml")).sorted().toList();
    }
    for (Path file : files) {
      try (Reader in = Files.newBufferedReader(file)) {
        for (Object doc : new Yaml().loadAll(in)) {
          Map<String, Object> m = map(doc);
          String key = m.get("kind") + "/" + map(m.get("metadata")).get("name");
          assertEquals(null, byKindAndName.put(key, m), key + " defined twice");
        }
      }
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    assertTrue(o instanceof Map, "a YAML mapping: " + o);
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    assertTrue(o instanceof List, "a YAML list: " + o);
    return (List<Object>) o;
  }

  static Map<String, Object> get(String kindAndName) {
    Map<String, Object> m = byKindAndName.get(kindAndName);
    assertTrue(m != null, kindAndName + " is in " + DIR + ": " + byKindAndName.keySet());
    return m;
  }

  /** A path of mapping keys, list elements as numbers: {@code at(set, "spec", "replicas")}. */
  static Object at(Object node, Object... path) {
    for (Object step : path) {
      node = step instanceof Integer i ? list(node).get(i) : map(node).get(step);
    }
    return node;
  }

  static Map<String, Object> container() {
    return map(at(get("StatefulSet/sluice"), "spec", "template", "spec", "containers", 0));
  }

  /** The container's environment as the kubelet would give it to pod {@code podName}. */
  static Map<String, String> environment(String podName) {
    Map<String, String> env = new LinkedHashMap<>();
    String token = (String) at(get("Secret/sluice-admin"), "stringData", "token");
    for (Object e : list(container().get("env"))) {
      Map<String, Object> var = map(e);
      String name = (String) var.get("name");
      Map<String, Object> from = map(var.get("valueFrom"));
      if (from.containsKey("fieldRef")) {
        assertEquals("metadata.name", at(from, "fieldRef", "fieldPath"), name);
        env.put(name, podName);
      } else {
        assertEquals("sluice-admin", at(from, "secretKeyRef", "name"), name);
        assertEquals("token", at(from, "secretKeyRef", "key"), name);
        env.put(name, token);
      }
    }
    return env;
  }

  /** The container's command line with $(VAR) expanded, as the kubelet does. */
  static List<String> commandLine(Map<String, String> env) {
    List<String> out = new ArrayList<>();
    for (Object part : Stream.concat(list(container().get("command")).stream(), list(container().get("args")).stream())
        .toList()) {
      Matcher m = K8S_VAR.matcher((String) part);
      StringBuilder expanded = new StringBuilder();
      while (m.find()) {
        assertTrue(env.containsKey(m.group(1)), "$(" + m.group(1) + ") is in the container's env");
        m.appendReplacement(expanded, Matcher.quoteReplacement(env.get(m.group(1))));
      }
      out.add(m.appendTail(expanded).toString());
    }
    return out;
  }

  /**
   * What a pod's node reads: its -D system properties over the ConfigMap's file, with the
   * container's environment for the file's ${?VAR} substitutions (HOCON looks a substitution up
   * in the configuration first, then in the environment, so the variables given at the root
   * stand in for the pod's environment).
   */
  static Config podConfig(String podName, boolean withEnvironment) {
    Map<String, String> env = environment(podName);
    Properties systemProperties = new Properties();
    for (String arg : commandLine(env)) {
      if (arg.startsWith("-D")) {
        int eq = arg.indexOf('=');
        systemProperties.setProperty(arg.substring(2, eq), arg.substring(eq + 1));
      }
    }
    String file = (String) at(get("ConfigMap/sluice-config"), "data", "sluice.conf");
    Config config = ConfigFactory.parseProperties(systemProperties)
        .withFallback(ConfigFactory.parseString(file, ConfigParseOptions.defaults().setOriginDescription("sluice.conf")));
    return withEnvironment ? config.withFallback(ConfigFactory.parseMap(env)) : config;
  }

  @Test
  void theConfigMapIsAValidConfigurationForEveryPod() {
    List<String> seeds = List.of("sluice-0.sluice-headless:2552", "sluice-1.sluice-headless:2552",
        "sluice-2.sluice-headless:2552");
    int replicas = (Integer) at(get("StatefulSet/sluice"), "spec", "replicas");
    assertEquals(seeds.size(), replicas, "every pod is a seed");
    for (int i = 0; i < replicas; i++) {
      SluiceSettings s = SettingsReader.read(podConfig("sluice-" + i, true));
      assertEquals("sluice-" + i + ".sluice-headless", s.cluster().host());
      assertEquals(seeds, s.cluster().seedNodes());
      assertEquals(seeds.get(i), s.cluster().host() + ":" + s.cluster().port(), "the pod is the seed of its name");
      assertEquals("0.0.0.0", s.admin().host());
      assertEquals(at(get("Secret/sluice-admin"), "stringData", "token"), s.admin().token().orElseThrow());
    }
  }

  @Test
  void withoutTheTokenANodeRefusesToStart() {
    SettingsException e = assertThrows(SettingsException.class, () -> SettingsReader.read(podConfig("sluice-0", false)));
    assertTrue(e.getMessage().contains("sluice.admin.listen: is not a loopback address"), e.getMessage());
  }

  @Test
  void theManifestsAgreeOnNamesAndPorts() {
    SluiceSettings s = SettingsReader.read(podConfig("sluice-0", true));
    Map<String, Object> set = get("StatefulSet/sluice");
    Map<String, Object> c = container();
    Map<String, Integer> ports = new LinkedHashMap<>();
    for (Object p : list(c.get("ports"))) {
      ports.put((String) map(p).get("name"), (Integer) map(p).get("containerPort"));
    }
    assertEquals(Map.of("http", s.http().port(), "admin", s.admin().port(), "cluster", s.cluster().port()), ports);

    assertEquals("/ready", at(c, "readinessProbe", "httpGet", "path"));
    assertEquals("admin", at(c, "readinessProbe", "httpGet", "port"));
    assertEquals("/live", at(c, "livenessProbe", "httpGet", "path"));
    assertEquals("admin", at(c, "livenessProbe", "httpGet", "port"));
    assertEquals("/live", at(c, "startupProbe", "httpGet", "path"));
    assertFalse(c.containsKey("lifecycle"), "no preStop hook: SIGTERM goes to the JVM");

    int grace = (Integer) at(set, "spec", "template", "spec", "terminationGracePeriodSeconds");
    assertTrue(Duration.ofSeconds(grace).compareTo(s.drainTimeout().plusSeconds(20)) >= 0,
        "terminationGracePeriodSeconds " + grace + " leaves 20 s above drain-timeout " + s.drainTimeout());

    Map<String, Object> headless = get("Service/sluice-headless");
    assertEquals("sluice-headless", at(set, "spec", "serviceName"));
    assertEquals("None", at(headless, "spec", "clusterIP"));
    assertEquals(true, at(headless, "spec", "publishNotReadyAddresses"));
    assertEquals(s.cluster().port(), at(headless, "spec", "ports", 0, "port"));
    assertEquals("cluster", at(headless, "spec", "ports", 0, "targetPort"));
    assertEquals("http", at(get("Service/sluice"), "spec", "ports", 0, "targetPort"));
    assertEquals("Parallel", at(set, "spec", "podManagementPolicy"));

    Object podLabels = at(set, "spec", "template", "metadata", "labels");
    assertEquals(podLabels, at(set, "spec", "selector", "matchLabels"));
    assertEquals(podLabels, at(headless, "spec", "selector"));
    assertEquals(podLabels, at(get("Service/sluice"), "spec", "selector"));
    Map<String, Object> pdb = get("PodDisruptionBudget/sluice");
    assertEquals(podLabels, at(pdb, "spec", "selector", "matchLabels"));
    assertEquals(1, at(pdb, "spec", "maxUnavailable"));

    // the ConfigMap is mounted where the command line reads it, the jar is where the image puts it
    List<String> command = commandLine(environment("sluice-0"));
    assertEquals(List.of("-jar", "/opt/sluice/sluice.jar", "--config", "/etc/sluice/sluice.conf"),
        command.subList(command.size() - 4, command.size()));
    String configVolume = null;
    for (Object v : list(at(set, "spec", "template", "spec", "volumes"))) {
      if (map(v).containsKey("configMap")) {
        assertEquals("sluice-config", at(v, "configMap", "name"));
        configVolume = (String) map(v).get("name");
      }
    }
    boolean mounted = false;
    for (Object m : list(c.get("volumeMounts"))) {
      mounted |= map(m).get("name").equals(configVolume) && map(m).get("mountPath").equals("/etc/sluice");
    }
    assertTrue(mounted, "the ConfigMap is mounted at /etc/sluice");
  }

  @Test
  void kustomizeListsEveryManifest() throws IOException {
    Map<String, Object> k = map(new Yaml().load(Files.readString(DIR.resolve("kustomization.yaml"))));
    List<String> files;
    try (Stream<Path> listed = Files.list(DIR)) {
      files = listed.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml")).sorted().toList();
    }
    assertEquals(files, list(k.get("resources")).stream().map(String.class::cast).sorted().toList());
  }
}
