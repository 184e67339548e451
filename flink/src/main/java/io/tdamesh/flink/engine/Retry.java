package io.tdamesh.flink.engine;

import io.grpc.Status;

/** Which engine failures are retried: an outage or a busy engine delays a window, never loses it. */
public final class Retry {
  private Retry() {}

  /** True when the same call may succeed later (UNAVAILABLE, DEADLINE_EXCEEDED, busy, aborted...). */
  public static boolean retryable(Status.Code code) {
    switch (code) {
      case UNAVAILABLE:
      case DEADLINE_EXCEEDED:
      case RESOURCE_EXHAUSTED:
      case ABORTED:
      case CANCELLED:
      case UNKNOWN:
      case INTERNAL:
        return true;
      default:
        return false;
    }
  }

  /** Wait before attempt `attempt` (1-based): min * 2^(attempt-1), capped, with +-20 % jitter. */
  public static long backoffMs(int attempt, long minMs, long maxMs) {
    double base = Math.min((double) maxMs, minMs * Math.pow(2, Math.min(30, attempt - 1)));
    double jitter = 0.8 + 0.4 * java.util.concurrent.ThreadLocalRandom.current().nextDouble();
    return Math.max(1, (long) (base * jitter));
  }
}
