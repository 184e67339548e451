package io.tdamesh.flink.engine;

import java.io.Serializable;
import java.util.List;

/** How the job calls the engines (from the job's configuration). */
public final class EngineSettings implements Serializable {
  private static final long serialVersionUID = 1L;

  public final List<String> addresses;
  /** Deadline of one engine call. */
  public final long callDeadlineMs;
  /** First and largest wait between retries of a failed call (exponential in between). */
  public final long backoffMinMs;
  public final long backoffMaxMs;
  /** Health probe period. */
  public final long probeMs;
  /** Windows (and distance calls) in flight per task: the Async I/O capacity. */
  public final int capacity;
  /** Engine threads per window (0: the engine's default). */
  public final int threads;

  public EngineSettings(List<String> addresses, long callDeadlineMs, long backoffMinMs, long backoffMaxMs, long probeMs, int capacity, int threads) {
    this.addresses = List.copyOf(addresses);
    this.callDeadlineMs = callDeadlineMs;
    this.backoffMinMs = backoffMinMs;
    this.backoffMaxMs = backoffMaxMs;
    this.probeMs = probeMs;
    this.capacity = capacity;
    this.threads = threads;
  }
}
