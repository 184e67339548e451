import type { Admin } from "kafkajs";
import type { Redis } from "ioredis";
import type { HealthImplementation } from "grpc-health-check";
import { createKafka } from "./kafka";
import { checkHealth, createHealthClient } from "./health-client";
import type { MeshTls } from "./tls";
import type { Logger } from "./logger";

// A service's own health follows its dependencies: a monitor polls a few
// checks (Redis answers PING, Kafka answers a metadata request, the outbox
// drains, at least one engine is healthy, an upstream service is SERVING, ...)
// and sets the standard gRPC health status of the service to NOT_SERVING while
// any fails, back to SERVING when all pass. This is the one implementation
// every TS service uses (the gateway's upstream monitor included). Each
// dependency's own state is published too, as the health status of the
// service name "dependency/<name>" (readable with the standard Health/List):
// a caller such as the REST edge asks one service and learns what it waits
// for, without knowing the topology behind it.

/** Health service name under which a dependency's own state is published. */
export const DEPENDENCY_PREFIX = "dependency/";

export interface DependencyCheck {
  name: string;
  /** Resolves true when the dependency is usable; false or a rejection means down. */
  check(): Promise<boolean>;
  /** Releases connections the check holds. */
  close?(): Promise<void>;
}

export interface DependencyMonitor {
  /** Checks once now, then every pollMs. */
  start(): Promise<void>;
  /** Checks every dependency once and updates the status; true when all are up. */
  poll(): Promise<boolean>;
  /** Stops polling and reports NOT_SERVING from then on (shutdown). */
  stop(): void;
  /** Last result per dependency. */
  snapshot(): Record<string, boolean>;
  close(): Promise<void>;
}

export interface DependencyMonitorOptions {
  health: HealthImplementation;
  /** Service names whose status is set ("" and the fully-qualified names). */
  names: string[];
  checks: DependencyCheck[];
  pollMs: number;
  /** Longest one check may take before it counts as failed. */
  timeoutMs: number;
  log: Logger;
  /** Called on close, after every check's own close (e.g. to close a Kafka admin connection). */
  onClose?: () => Promise<void>;
  /** Report NOT_SERVING until the first poll has answered (default true). */
  notServingUntilPolled?: boolean;
}

function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function createDependencyMonitor(opts: DependencyMonitorOptions): DependencyMonitor {
  const last: Record<string, boolean> = {};
  let overall: boolean | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<boolean> | undefined;
  if (opts.notServingUntilPolled !== false) for (const n of opts.names) opts.health.setStatus(n, "NOT_SERVING");

  async function pollNow(): Promise<boolean> {
    const results = await Promise.all(opts.checks.map(async (c) => [c.name, await withTimeout(c.check(), opts.timeoutMs)] as const));
    for (const [name, ok] of results) {
      if (last[name] !== ok) {
        if (ok) opts.log.info({ dependency: name }, "dependency up");
        else opts.log.warn({ dependency: name }, "dependency down");
        if (!stopped) opts.health.setStatus(DEPENDENCY_PREFIX + name, ok ? "SERVING" : "NOT_SERVING");
      }
      last[name] = ok;
    }
    const allUp = results.every(([, ok]) => ok);
    if (!stopped && allUp !== overall) {
      overall = allUp;
      for (const n of opts.names) opts.health.setStatus(n, allUp ? "SERVING" : "NOT_SERVING");
      opts.log.info({ status: allUp ? "SERVING" : "NOT_SERVING", dependencies: { ...last } }, "health changed");
    }
    return allUp;
  }

  function poll(): Promise<boolean> {
    polling ??= pollNow().finally(() => (polling = undefined));
    return polling;
  }

  function loop(): void {
    if (stopped) return;
    timer = setTimeout(() => void poll().finally(loop), opts.pollMs);
    timer.unref();
  }

  const monitor: DependencyMonitor = {
    async start() {
      await poll();
      loop();
    },
    poll,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const n of opts.names) opts.health.setStatus(n, "NOT_SERVING");
    },
    snapshot: () => ({ ...last }),
    async close() {
      monitor.stop();
      await polling?.catch(() => undefined);
      await Promise.allSettled(opts.checks.map((c) => c.close?.()));
      await opts.onClose?.();
    },
  };
  return monitor;
}

/** Redis is up when it answers PING. */
export function redisCheck(redis: Redis): DependencyCheck {
  return {
    name: "redis",
    async check() {
      if (redis.status !== "ready") return false;
      return (await redis.ping()) === "PONG";
    },
  };
}

/** Kafka is up when a broker answers a metadata request (one reused admin connection). */
export function kafkaCheck(brokers: string[], log: Logger): DependencyCheck & { close(): Promise<void> } {
  const kafka = createKafka("tda-health", brokers, log);
  let admin: Admin | undefined;
  return {
    name: "kafka",
    async check() {
      try {
        if (!admin) {
          admin = kafka.admin({ retry: { retries: 0 } });
          await admin.connect();
        }
        await admin.listTopics();
        return true;
      } catch {
        const a = admin;
        admin = undefined;
        await a?.disconnect().catch(() => undefined);
        return false;
      }
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}

/**
 * The event outbox is healthy while it drains: down when its oldest event is
 * older than the stall bound (events are not reaching Kafka).
 */
export function outboxCheck(outbox: { status(): Promise<{ stalled: boolean }> }): DependencyCheck {
  return {
    name: "outbox",
    async check() {
      return !(await outbox.status()).stalled;
    },
  };
}

/** An upstream gRPC service is up while its standard health check (service "") answers SERVING. */
export function upstreamCheck(name: string, address: string, timeoutMs: number, tls?: MeshTls): DependencyCheck {
  const client = createHealthClient(address, undefined, tls);
  return {
    name,
    check: () => checkHealth(client, "", timeoutMs),
    async close() {
      client.close();
    },
  };
}

/**
 * A check's last answer reused for `ttlMs`, and at most `timeoutMs` of waiting
 * for a fresh one (concurrent callers share one probe): for request paths that
 * report a dependency's state (e.g. GetStreamStatus's broker_available).
 */
export function cachedCheck(check: DependencyCheck, ttlMs: number, timeoutMs: number): { available(): Promise<boolean>; close(): Promise<void> } {
  let cached: { value: boolean; at: number } | undefined;
  let inflight: Promise<boolean> | undefined;
  let closed = false;
  const refresh = (): Promise<boolean> =>
    (inflight ??= check
      .check()
      .catch(() => false)
      .then((value) => {
        cached = { value, at: Date.now() };
        return value;
      })
      .finally(() => (inflight = undefined)));
  return {
    async available() {
      if (closed) return false;
      if (cached && Date.now() - cached.at < ttlMs) return cached.value;
      return withTimeout(refresh(), timeoutMs);
    },
    async close() {
      closed = true;
      await inflight?.catch(() => undefined);
      await check.close?.();
    },
  };
}

export interface ServiceHealthOptions {
  health: HealthImplementation;
  /** Fully-qualified service names ("" is always included). */
  names: string[];
  redis: Redis;
  kafkaBrokers: string[];
  requireKafka: boolean;
  pollMs: number;
  log: Logger;
  /** The service's event bus: with requireKafka, a stalled outbox makes the service NOT_SERVING. */
  outbox?: { status(): Promise<{ stalled: boolean }> };
  /** Further checks (e.g. engines). */
  extra?: DependencyCheck[];
}

/** The usual wiring of a service's main.ts: Redis (+ Kafka, + extra) → the service's health; started. */
export async function startServiceHealth(o: ServiceHealthOptions): Promise<DependencyMonitor> {
  const kafka = o.requireKafka ? kafkaCheck(o.kafkaBrokers, o.log) : undefined;
  const monitor = createDependencyMonitor({
    health: o.health,
    names: ["", ...o.names],
    checks: [redisCheck(o.redis), ...(kafka ? [kafka] : []), ...(kafka && o.outbox ? [outboxCheck(o.outbox)] : []), ...(o.extra ?? [])],
    pollMs: o.pollMs,
    timeoutMs: Math.max(500, Math.min(3000, o.pollMs)),
    log: o.log,
  });
  await monitor.start();
  return monitor;
}
