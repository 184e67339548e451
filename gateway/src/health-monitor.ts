import type { HealthImplementation, ServingStatus } from "grpc-health-check";
import { checkHealth, createHealthClient, type DependencyCheck, type Logger } from "@tda/common";

// The gateway is SERVING only while every upstream answers its own standard
// health check with SERVING. The upstreams are polled; the gateway's status
// follows them both ways (down → NOT_SERVING, recovered → SERVING).

export interface UpstreamTarget {
  name: string;
  address: string;
}

export interface HealthMonitorOptions {
  health: HealthImplementation;
  /** The gateway's own service names whose status is set ("" and the fully-qualified service). */
  names: string[];
  upstreams: UpstreamTarget[];
  pollMs: number;
  timeoutMs: number;
  log: Logger;
  /** The gateway's own dependencies (Redis, Kafka), checked along with the upstreams. */
  dependencies?: DependencyCheck[];
}

export interface HealthMonitor {
  /** Polls once now, then every pollMs. Resolves after the first poll. */
  start(): Promise<void>;
  /** Checks every upstream once and updates the status; true when all are SERVING. */
  poll(): Promise<boolean>;
  /** Stops polling and reports NOT_SERVING from then on (shutdown). */
  stop(): void;
  /** Last status per upstream. */
  snapshot(): Record<string, ServingStatus>;
}

export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const clients = opts.upstreams.map((u) => ({ ...u, client: createHealthClient(u.address) }));
  const last: Record<string, ServingStatus> = {};
  for (const u of opts.upstreams) last[u.name] = "UNKNOWN";
  const deps = opts.dependencies ?? [];
  for (const d of deps) last[d.name] = "UNKNOWN";

  async function checkDependency(d: DependencyCheck): Promise<[string, ServingStatus]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), opts.timeoutMs);
    });
    const ok = await Promise.race([d.check().catch(() => false), timeout]).finally(() => clearTimeout(timer));
    return [d.name, ok ? "SERVING" : "NOT_SERVING"];
  }
  let overall: ServingStatus | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let polling: Promise<boolean> | undefined;

  function setOverall(status: ServingStatus): void {
    for (const n of opts.names) opts.health.setStatus(n, status);
    overall = status;
  }

  async function pollNow(): Promise<boolean> {
    const results = await Promise.all([
      ...clients.map(async (c): Promise<[string, ServingStatus]> => [c.name, (await checkHealth(c.client, "", opts.timeoutMs)) ? "SERVING" : "NOT_SERVING"]),
      ...deps.map(checkDependency),
    ]);
    for (const [name, st] of results) {
      if (last[name] !== st) {
        if (st === "SERVING") opts.log.info({ upstream: name }, "upstream healthy");
        else opts.log.warn({ upstream: name }, "upstream not serving");
      }
      last[name] = st;
    }
    const allUp = results.every(([, st]) => st === "SERVING");
    const next: ServingStatus = allUp ? "SERVING" : "NOT_SERVING";
    if (!stopped && next !== overall) {
      opts.log.info({ status: next }, "gateway health changed");
      setOverall(next);
    }
    return allUp;
  }

  function poll(): Promise<boolean> {
    if (!polling) polling = pollNow().finally(() => (polling = undefined));
    return polling;
  }

  function loop(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void poll().finally(loop);
    }, opts.pollMs);
    timer.unref();
  }

  // Until the first poll answers, the gateway does not claim to serve.
  setOverall("NOT_SERVING");

  return {
    async start() {
      await poll();
      loop();
    },
    poll,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      setOverall("NOT_SERVING");
      for (const c of clients) c.client.close();
    },
    snapshot: () => ({ ...last }),
  };
}
