package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The large transfer reads exactly what the source sent and notices when it is not. */
class TransferTest {

  @Test
  void readsTheWholeStreamAndChecksIt() {
    long bytes = 3L * StreamSource.PATTERN_BYTES + 12_345; // whole patterns and a partial one
    try (StreamSource source = StreamSource.start(0)) {
      var at = new InetSocketAddress("127.0.0.1", source.port());
      Transfer.Result r = Transfer.run(at, bytes, StreamSource.expectedCrc(bytes), Duration.ofSeconds(30));
      assertNull(r.failure());
      assertEquals(bytes, r.bytes());
      assertTrue(r.crcOk());
      assertTrue(r.megabytesPerSecond() > 0);

      Transfer.Result wrong = Transfer.run(at, bytes, StreamSource.expectedCrc(bytes) ^ 1, Duration.ofSeconds(30));
      assertFalse(wrong.crcOk(), "another checksum is not taken for the stream's");
      assertTrue(Double.isNaN(wrong.megabytesPerSecond()), "a failed transfer has no rate");
    }
  }
}
