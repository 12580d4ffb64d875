package sluice.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Thrashing back-ends ({@code sluice.demo.ThrashingBackend}), one JVM each, started fresh for
 * every target's run: a back-end that was thrashing keeps serving its abandoned requests after the
 * clients leave, which would slow the next target down.
 */
final class Backends implements AutoCloseable {

  /** Parameters of one back-end, as ThrashingBackend's command line takes them. */
  record Spec(String s0, double alpha, double beta) {
    double bestN() {
      return Math.sqrt((1 - alpha) / beta);
    }

    @Override
    public String toString() {
      return "s0=" + s0 + " alpha=" + alpha + " beta=" + beta;
    }
  }

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pattern MAX_IN_FLIGHT = Pattern.compile("\"maxInFlight\":(\\d+)");
  private static final Pattern SERVED = Pattern.compile("\"served\":(\\d+)");

  private final Children children;
  private final List<Process> processes = new ArrayList<>();
  private final List<InetSocketAddress> addresses = new ArrayList<>();

  Backends(Children children, String javaBin, String sluiceJar, List<Spec> specs) {
    this.children = children;
    int i = 0;
    for (Spec spec : specs) {
      int port = Children.freePort();
      Process p = children.start("backend-" + i++, List.of(javaBin, "-Xmx512m", "-cp", sluiceJar,
          "sluice.demo.ThrashingBackend", "--host", "127.0.0.1", "--port", String.valueOf(port),
          "--s0", spec.s0(), "--alpha", String.valueOf(spec.alpha()), "--beta",
          String.valueOf(spec.beta()), "--body", "100"));
      processes.add(p);
      addresses.add(new InetSocketAddress("127.0.0.1", port));
    }
    for (int k = 0; k < processes.size(); k++) {
      Children.awaitPort(processes.get(k), "backend-" + k, addresses.get(k).getPort(), Duration.ofSeconds(20));
    }
  }

  List<InetSocketAddress> addresses() {
    return addresses;
  }

  List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  /** Changes a back-end's parameters mid-run ({@code s0=2ms&beta=0.001}). */
  void setParams(int index, String query) {
    InetSocketAddress a = addresses.get(index);
    call(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + "/admin/params?" + query))
        .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(5)).build());
  }

  /** The most requests any one back-end had in service at once since it started. */
  int maxInFlight() {
    int max = 0;
    for (InetSocketAddress a : addresses) {
      max = Math.max(max, statsField(a, MAX_IN_FLIGHT));
    }
    return max;
  }

  long served() {
    long sum = 0;
    for (InetSocketAddress a : addresses) {
      sum += statsField(a, SERVED);
    }
    return sum;
  }

  private static int statsField(InetSocketAddress a, Pattern field) {
    String json = call(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + "/stats"))
        .timeout(Duration.ofSeconds(5)).build());
    Matcher m = field.matcher(json);
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  private static String call(HttpRequest request) {
    try {
      HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(request.uri() + " answered " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    } catch (IOException e) {
      throw new IllegalStateException(request.uri() + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    processes.forEach(children::stop);
  }
}
