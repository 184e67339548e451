import { channelOptions, checkHealth, createHealthClient, insecure, pbEngine, type Logger } from "@tda/common";

// The engines a worker dispatches to. Health comes from the standard gRPC
// health check (probed periodically) and from call failures; a job goes to the
// healthy engine with the fewest calls outstanding from this process.

export interface Engine {
  readonly address: string;
  readonly client: pbEngine.EngineServiceClient;
  healthy: boolean;
  outstanding: number;
  /** Not picked before this time (ms) after it said ENGINE_BUSY. */
  busyUntil: number;
  /** Jobs dispatched to it by this process. */
  dispatched: number;
}

export interface EnginePool {
  /** Takes a slot on the best engine; call `release` when the call is over. */
  acquire(exclude?: Set<string>): Engine;
  release(engine: Engine): void;
  markUnavailable(engine: Engine): void;
  markBusy(engine: Engine, ms: number): void;
  /** Probes every engine once now. */
  probe(): Promise<void>;
  engines(): readonly Engine[];
  close(): void;
}

export function createEnginePool(addresses: string[], probeMs: number, log: Logger): EnginePool {
  const engines: Engine[] = addresses.map((address) => ({
    address,
    client: new pbEngine.EngineServiceClient(address, insecure(), channelOptions),
    // optimistic until the first probe: a failed call corrects it
    healthy: true,
    outstanding: 0,
    busyUntil: 0,
    dispatched: 0,
  }));
  const health = new Map(engines.map((e) => [e.address, createHealthClient(e.address)]));

  async function probe(): Promise<void> {
    await Promise.all(
      engines.map(async (e) => {
        const ok = await checkHealth(health.get(e.address)!, "", Math.min(2000, probeMs));
        if (ok !== e.healthy) log.info({ engine: e.address, healthy: ok }, "engine health changed");
        e.healthy = ok;
      }),
    );
  }

  let rotation = 0;
  let probing = false;
  const timer = setInterval(() => {
    if (probing) return;
    probing = true;
    probe().finally(() => (probing = false));
  }, probeMs);
  timer.unref();

  return {
    acquire(exclude) {
      const now = Date.now();
      const usable = engines.filter((e) => !exclude?.has(e.address));
      const pool = usable.length > 0 ? usable : engines;
      const healthy = pool.filter((e) => e.healthy && e.busyUntil <= now);
      // with no engine known healthy, try anyway: the call tells the truth and
      // its failure is retried with backoff
      const candidates = healthy.length > 0 ? healthy : pool;
      // fewest outstanding; ties rotate so equal engines share the load
      const start = rotation++ % candidates.length;
      let best = candidates[start]!;
      for (let i = 1; i < candidates.length; i++) {
        const e = candidates[(start + i) % candidates.length]!;
        if (e.outstanding < best.outstanding) best = e;
      }
      best.outstanding++;
      best.dispatched++;
      return best;
    },
    release(engine) {
      engine.outstanding = Math.max(0, engine.outstanding - 1);
    },
    markUnavailable(engine) {
      if (engine.healthy) log.warn({ engine: engine.address }, "engine marked unavailable after a failed call");
      engine.healthy = false;
    },
    markBusy(engine, ms) {
      engine.busyUntil = Date.now() + ms;
    },
    probe,
    engines: () => engines,
    close() {
      clearInterval(timer);
      for (const e of engines) e.client.close();
      for (const h of health.values()) h.close();
    },
  };
}
