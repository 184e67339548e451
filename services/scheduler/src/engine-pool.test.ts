import { createLogger } from "@tda/common";
import { createEnginePool, type EnginePool } from "./engine-pool";

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
});
