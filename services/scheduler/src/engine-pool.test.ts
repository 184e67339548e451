import { createLogger } from "@tda/common";
import { createEnginePool, type EnginePool } from "./engine-pool";
import { JobFailureError } from "./engine-call";

// Selection logic only: no call is made, the probe interval is never reached.
describe("engine pool", () => {
  let pool: EnginePool;
  beforeEach(() => {
    pool = createEnginePool(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], 3_600_000, createLogger("test", "silent"));
  });
  afterEach(() => pool.close());

  it("spreads calls over the engines with the fewest outstanding", () => {
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire();
    expect(new Set([a.address, b.address, c.address]).size).toBe(3);
    pool.release(b);
    expect(pool.acquire().address).toBe(b.address);
    expect(pool.engines().map((e) => e.outstanding)).toEqual([1, 1, 1]);
  });

  it("avoids engines marked unavailable or busy, but still tries one when none is known healthy", () => {
    const [e1, e2, e3] = pool.engines();
    pool.markUnavailable(e1!);
    pool.markBusy(e2!, 60_000);
    for (let i = 0; i < 3; i++) expect(pool.acquire().address).toBe(e3!.address);
    pool.markUnavailable(e3!);
    pool.markUnavailable(e2!);
    const picked = pool.acquire();
    expect([e1!.address, e2!.address, e3!.address]).toContain(picked.address);
    expect(picked.address).not.toBe(e3!.address); // e3 has the most outstanding
  });

  it("never hands a job to an engine that died running it, even when that engine is the only healthy one", () => {
    const [e1, e2, e3] = pool.engines();
    const died = new Set([e1!.address]);
    for (let i = 0; i < 6; i++) expect(pool.acquire(died).address).not.toBe(e1!.address);
    // the others unhealthy: one of them is still tried (the call tells the truth), not the excluded one
    pool.markUnavailable(e2!);
    pool.markUnavailable(e3!);
    for (let i = 0; i < 3; i++) expect([e2!.address, e3!.address]).toContain(pool.acquire(died).address);
    expect(pool.acquire(new Set([e1!.address, e2!.address])).address).toBe(e3!.address);
  });

  it("with every known engine excluded, throws NO_ENGINE_AVAILABLE (the job waits) instead of reusing one", () => {
    const all = new Set(pool.engines().map((e) => e.address));
    const before = pool.engines().map((e) => e.outstanding);
    let thrown: unknown;
    try {
      pool.acquire(all);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(JobFailureError);
    expect((thrown as JobFailureError).failure).toMatchObject({ errorCode: "NO_ENGINE_AVAILABLE", retryable: true });
    expect((thrown as JobFailureError).failure.message).toMatch(/other than the 3 that died running this job/);
    expect(pool.engines().map((e) => e.outstanding)).toEqual(before);
    // an empty exclusion is no exclusion
    expect(all).toContain(pool.acquire(new Set()).address);
  });
});
