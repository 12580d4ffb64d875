package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import sluice.node.testing.TestBackend;

/**
 * The dashboard in a real headless Chromium (Debian's, which test.sh installs), while real load
 * runs through a node: the page must have polled /status several times, drawn its charts with
 * those points, and show the numbers /status gives. Chromium runs with a virtual time budget:
 * the page's one-second timers run as fast as the real fetches to /status allow, and the DOM is
 * dumped when the budget is spent. Also leaves a screenshot in target/dashboard.png.
 */
class DashboardBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Pattern FIELD = Pattern.compile("data-field=\"(\\w+)\" data-value=\"([^\"]*)\"");

  @Test
  @SuppressWarnings("unchecked")
  void theDashboardShowsLiveChartsAndTheNumbersOfStatus() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(CHROMIUM),
        "skipped: no Chromium at " + CHROMIUM + " (./test.sh installs Debian's chromium as root)");
    ExecutorService clients = Executors.newFixedThreadPool(12);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong ok = new AtomicLong();
    try (TestBackend backend = TestBackend.started()) {
      backend.delay(Duration.ofMillis(20));
      var settings = TestSettings.onePool(backend.port(), 4,
          TestSettings.queue(1000, Duration.ofSeconds(30), 1000), TestSettings.connections());
      try (SluiceNode node = Nodes.start(settings)) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos(); // bounded, whatever happens
        for (int i = 0; i < 12; i++) {
          clients.submit(() -> {
            try (RawHttp http = RawHttp.connect(node.httpPort())) {
              while (!stop.get() && System.nanoTime() < deadline) {
                if (http.get("/load").status() == 200) {
                  ok.incrementAndGet();
                }
              }
            }
            return null;
          });
        }
        // load is running: the node has served some and its rate is above 0
        Nodes.awaitStatus(node, Duration.ofSeconds(20),
            s -> s.backends().get(0).ratePerSecond() > 0 && s.queueLength() > 0);
        int admin = node.adminAddress().getPort();
        String dom = chromium(admin, "--virtual-time-budget=6000", "--dump-dom");
        Map<String, Object> status = (Map<String, Object>) Json.parse(Nodes.adminGet(node, "/status"));
        Map<String, Object> pool = ((List<Map<String, Object>>) status.get("pools")).get(0);
        Map<String, Object> b = ((List<Map<String, Object>>) pool.get("backends")).get(0);

        int polls = intAttr(dom, "data-polls");
        assertTrue(polls >= 3, "the page polled /status " + polls + " times:\n" + dom);
        List<Integer> points = allInts(dom, "data-points");
        assertEquals(2, points.size(), "two charts for the one back-end: " + dom);
        for (int p : points) {
          assertTrue(p >= 3 && p <= polls, "a chart holds a point per poll: " + points + " of " + polls);
        }
        assertTrue(dom.contains("<canvas"), "uPlot drew its charts");
        assertTrue(dom.contains("data-backend=\"" + backend.address() + "\""), dom);

        Map<String, String> card = fields(dom.substring(dom.indexOf("data-backend=")));
        assertEquals(String.valueOf(((Double) b.get("limit")).intValue()), card.get("limit"), "limit as /status: " + card);
        int inFlight = Integer.parseInt(card.get("inFlight"));
        assertTrue(inFlight >= 0 && inFlight <= 4, "in flight within the limit: " + card);
        assertTrue(Double.parseDouble(card.get("rate")) > 0, "goodput under load: " + card);
        assertTrue(Double.parseDouble(card.get("p99")) > 0, "a p99 under load: " + card);
        long served = Long.parseLong(card.get("served"));
        long servedNow = ((Double) b.get("served")).longValue();
        assertTrue(served > 0 && served <= servedNow,
            "the page's served (" + served + ") was read from /status before this one (" + servedNow + ")");
        int queue = Integer.parseInt(card.get("queue"));
        assertTrue(queue >= 0 && queue <= 12, "the pool's queue, at most the 12 clients: " + card);

        chromium(admin, "--virtual-time-budget=8000", "--window-size=1280,760", "--hide-scrollbars",
            "--screenshot=" + Path.of("target", "dashboard.png").toAbsolutePath());
      } finally {
        stop.set(true);
        clients.shutdown();
        assertTrue(clients.awaitTermination(30, TimeUnit.SECONDS));
      }
    }
    assertTrue(ok.get() > 0);
  }

  /** Runs headless Chromium on the dashboard with these extra flags; its standard output. */
  private static String chromium(int adminPort, String... flags) throws IOException, InterruptedException {
    Path profile = Files.createTempDirectory("sluice-chromium");
    List<String> command = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox",
        "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile));
    command.addAll(List.of(flags));
    command.add("http://127.0.0.1:" + adminPort + "/");
    Path err = Files.createTempFile("sluice-chromium", ".err");
    Process p = new ProcessBuilder(command).redirectError(err.toFile()).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "chromium did not end");
      assertEquals(0, p.exitValue(), "chromium failed: " + Files.readString(err));
      return out;
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(err);
      try (var files = Files.walk(profile)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static int intAttr(String dom, String name) {
    Matcher m = Pattern.compile(name + "=\"(\\d+)\"").matcher(dom);
    assertTrue(m.find(), "no " + name + " in the page:\n" + dom);
    return Integer.parseInt(m.group(1));
  }

  private static List<Integer> allInts(String dom, String name) {
    Matcher m = Pattern.compile(name + "=\"(\\d+)\"").matcher(dom);
    List<Integer> all = new ArrayList<>();
    while (m.find()) {
      all.add(Integer.parseInt(m.group(1)));
    }
    return all;
  }

  /** The first value of each data-field in this part of the page (the card's figures come first in it). */
  private static Map<String, String> fields(String part) {
    Map<String, String> out = new HashMap<>();
    Matcher m = FIELD.matcher(part);
    while (m.find()) {
      out.putIfAbsent(m.group(1), m.group(2));
    }
    return out;
  }
}
