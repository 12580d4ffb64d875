package sluice.node.queue;

/** Work for tests: records how the queue ended it. */
public class TestWork implements Work {
  final String name;
  long enqueued;
  boolean gone;
  Refusal refusal;

  public TestWork(String name) {
    this.name = name;
  }

  @Override
  public long enqueuedNanos() {
    return enqueued;
  }

  @Override
  public void setEnqueuedNanos(long nanos) {
    enqueued = nanos;
  }

  @Override
  public boolean abandoned() {
    return gone;
  }

  @Override
  public void refuse(Refusal why, String detail) {
    refusal = why;
  }

  @Override
  public String toString() {
    return name;
  }
}
