package sluice.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.node.testing.TestBackend;

/**
 * Bodies stream: a node whose heap is far smaller than the bodies moves a 200 MB response
 * and a 50 MB upload. If it held either in memory it would die of OutOfMemoryError.
 */
class LargeBodyTest {
  private static final long MB = 1024 * 1024;

  @Test
  void twoHundredMegabyteResponseAndFiftyMegabyteUploadThroughA96MegabyteHeap() throws Exception {
    try (TestBackend backend = TestBackend.started()) {
      String config = """
          sluice.pools.web.backends = ["127.0.0.1:%d"]
          sluice.defaults.limit { algorithm = fixed, value = 4 }
          """.formatted(backend.port());
      try (ChildNode node = ChildNode.start(config, List.of("-Xmx96m", "-XX:+ExitOnOutOfMemoryError"))) {
        long size = 200 * MB;
        try (RawHttp http = RawHttp.connect(node.httpPort())) {
          RawHttp.Response r;
          http.send("GET", "/big?bytes=" + size, null);
          r = http.readCounting();
          assertEquals(200, r.status());
          assertTrue(r.header("Via").orElse("").contains("sluice"), "came through the node");
          assertEquals(size, r.bodyLength());
          assertEquals(patternSha(size), r.sha256(), "the bytes are the back-end's, in order");

          long upload = 50 * MB;
          MessageDigest sha = MessageDigest.getInstance("SHA-256");
          http.write("POST /up HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + upload + "\r\n\r\n");
          int block = 256 * 1024;
          for (long sent = 0; sent < upload; sent += block) {
            byte[] part = TestBackend.pattern(sent, block);
            sha.update(part);
            http.write(part);
          }
          RawHttp.Response up = http.read();
          assertEquals(200, up.status(), up.bodyText());
          assertEquals("POST /up " + upload + " " + HexFormat.of().formatHex(sha.digest()) + "\n", up.bodyText());
        }
        assertTrue(!node.output().contains("OutOfMemoryError"), node.output());
      }
    }
  }

  private static String patternSha(long size) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    int block = 36 * 7282; // a multiple of the pattern's period keeps every block the same
    byte[] bytes = TestBackend.pattern(0, block);
    long left = size;
    while (left > 0) {
      int n = (int) Math.min(block, left);
      sha.update(bytes, 0, n);
      left -= n;
    }
    return HexFormat.of().formatHex(sha.digest());
  }
}
