import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import IORedis from "ioredis";
import { createLogger, TdaError } from "@tda/common";
import { createRateLimiter, rateKey } from "./rate-limit";

// Against the test run's real Redis (REDIS_URL).

const redis = new IORedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6390", { maxRetriesPerRequest: 1 });
const log = createLogger("gateway-test", "silent");

afterAll(async () => {
  await redis.quit();
});

async function refusal(p: Promise<void>): Promise<TdaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TdaError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("rate limiter", () => {
  it("lets `limit` calls through per window, refuses the next with RATE_LIMITED and the time left, and opens again in the next window", async () => {
    const tenant = `t-${randomUUID()}`;
    const limiter = createRateLimiter({ redis, log, limit: 3, windowMs: 10_000 });
    const t0 = 1_700_000_000_000; // a window boundary (multiple of 10 s)
    for (let i = 0; i < 3; i++) await limiter.take(tenant, t0 + 1_000);
    const e = await refusal(limiter.take(tenant, t0 + 4_000));
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(e.reason).toBe("RATE_LIMITED");
    expect(e.retryAfterMs).toBe(6_000);
    expect(e.metadata).toEqual({ limit: "3", window_seconds: "10" });
    await limiter.take(tenant, t0 + 10_000); // next window
    expect(await redis.pttl(rateKey(tenant, t0))).toBeGreaterThan(0); // counters expire
    await redis.del(rateKey(tenant, t0), rateKey(tenant, t0 + 10_000));
  });

  it("counts tenants separately", async () => {
    const [a, b] = [`t-${randomUUID()}`, `t-${randomUUID()}`];
    const limiter = createRateLimiter({ redis, log, limit: 1, windowMs: 10_000 });
    const t0 = 1_700_000_000_000;
    await limiter.take(a, t0);
    await limiter.take(b, t0);
    await refusal(limiter.take(a, t0));
    await redis.del(rateKey(a, t0), rateKey(b, t0));
  });

  it("does nothing when the limit is 0", async () => {
    const tenant = `t-${randomUUID()}`;
    const limiter = createRateLimiter({ redis, log, limit: 0, windowMs: 10_000 });
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 5; i++) await limiter.take(tenant, 1_700_000_000_000);
    expect(await redis.exists(rateKey(tenant, 1_700_000_000_000))).toBe(0);
  });
});
