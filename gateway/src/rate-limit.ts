import type { Redis } from "ioredis";
import { resourceExhausted, TdaError, type Logger } from "@tda/common";
import { status } from "@grpc/grpc-js";

// Per-tenant quota on the calls that cost something downstream (job
// submissions, uploads, stream publishing): at most `limit` per fixed window,
// counted in Redis so every gateway replica shares the budget.
//
//   tda:gateway:rate:{tenant}:{window start ms}   string counter, expires with its window
//
// A refused call gets RESOURCE_EXHAUSTED with ErrorInfo{reason: RATE_LIMITED}
// and a RetryInfo telling when the window ends. If Redis cannot be reached the
// call is let through (logged): the quota protects capacity, it is not a
// security boundary.

export interface RateLimiter {
  readonly enabled: boolean;
  /** Counts one call of `tenant`; throws RESOURCE_EXHAUSTED when over the limit. */
  take(tenant: string, now?: number): Promise<void>;
}

export interface RateLimiterOptions {
  redis: Redis;
  log: Logger;
  /** Calls per window per tenant; 0 turns the limiter off. */
  limit: number;
  windowMs: number;
}

export function rateKey(tenant: string, windowStart: number): string {
  return `tda:gateway:rate:${tenant}:${windowStart}`;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const { redis, log, limit, windowMs } = opts;
  return {
    enabled: limit > 0,
    async take(tenant, now = Date.now()) {
      if (limit <= 0) return;
      const windowStart = now - (now % windowMs);
      const key = rateKey(tenant, windowStart);
      let count: number;
      try {
        const res = await redis
          .multi()
          .incr(key)
          .pexpire(key, windowMs * 2)
          .exec();
        const [err, value] = res?.[0] ?? [new Error("rate limit: transaction aborted"), null];
        if (err) throw err;
        count = Number(value);
      } catch (err) {
        log.warn({ err: (err as Error).message, tenant }, "rate limit not checked (redis unavailable); call let through");
        return;
      }
      if (count > limit) {
        const retryAfterMs = windowStart + windowMs - now;
        const e = resourceExhausted(`rate limit of ${limit} calls per ${windowMs / 1000} s reached for this tenant`, "RATE_LIMITED", {
          limit: String(limit),
          window_seconds: String(windowMs / 1000),
        });
        throw new TdaError(status.RESOURCE_EXHAUSTED, e.message, { reason: e.reason, metadata: e.metadata, retryAfterMs, retryable: true });
      }
    },
  };
}
