package sluice.node;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Clients that send GETs, each on its own keep-alive connection, until stopped, counting the
 * 200s and what is not a 200 (the first of those kept for the failure message).
 */
final class Load implements AutoCloseable {
  /** The path of request {@code i} of client {@code client}. */
  interface Path {
    String of(int client, int i);
  }

  private final AtomicBoolean running = new AtomicBoolean(true);
  private final AtomicLong ok = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>("");
  private final List<Thread> threads = new ArrayList<>();

  private Load() {}

  static Load start(SluiceNode node, int clients, Path path) {
    Load load = new Load();
    for (int c = 0; c < clients; c++) {
      int client = c;
      Thread t = new Thread(() -> load.run(node, client, path), "load-" + c);
      load.threads.add(t);
      t.start();
    }
    return load;
  }

  private void run(SluiceNode node, int client, Path path) {
    try (RawHttp http = RawHttp.connect(node.httpPort())) {
      for (int i = 0; running.get(); i++) {
        RawHttp.Response r = http.get(path.of(client, i));
        if (r.status() == 200) {
          ok.incrementAndGet();
        } else {
          error("client " + client + " request " + i + ": " + r.status() + " " + new String(r.body()));
        }
      }
    } catch (Exception e) {
      error("client " + client + ": " + e);
    }
  }

  private void error(String what) {
    if (errors.getAndIncrement() == 0) {
      firstError.set(what);
    }
  }

  /** Stops every client; each must end within 30 s (none may still wait for an answer). */
  void stop() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) {
      t.join(30_000);
      assertFalse(t.isAlive(), "a client still waits for an answer: " + t.getName());
    }
  }

  long ok() {
    return ok.get();
  }

  long errors() {
    return errors.get();
  }

  String firstError() {
    return firstError.get();
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }
}
