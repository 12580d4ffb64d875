package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.ConfigFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void forwardsOneRequest() throws Exception {
    HttpServer backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    backend.createContext("/", ex -> {
      byte[] body = ("hello " + ex.getRequestURI()).getBytes();
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    backend.start();
    var settings = TestSettings.node(TestSettings.pool("web",
        List.of(TestSettings.backend(backend.getAddress().getPort(), 4)),
        TestSettings.queue(100, Duration.ofSeconds(5), 50), TestSettings.connections()));
    try (SluiceNode node = SluiceNode.start(settings, ConfigFactory.parseResources("application-test.conf"))) {
      HttpClient client = HttpClient.newHttpClient();
      for (int i = 0; i < 5; i++) {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + node.httpPort() + "/x?i=" + i)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("hello /x?i=" + i, r.body());
      }
      System.out.println(node.status().toCompletableFuture().get());
    } finally {
      backend.stop(0);
    }
  }
}
