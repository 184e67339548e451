import type { HealthImplementation, ServingStatus } from "grpc-health-check";
import { createDependencyMonitor, upstreamCheck, type DependencyCheck, type Logger, type MeshTls } from "@tda/common";

// The gateway is SERVING only while every upstream answers its own standard
// health check with SERVING, and its own dependencies (Redis, Kafka, its event
// outbox) are up. The common dependency monitor does the polling; the
// upstreams are checks like any other (upstreamCheck).

export interface UpstreamTarget {
  name: string;
  address: string;
}

export interface HealthMonitorOptions {
  health: HealthImplementation;
  /** The gateway's own service names whose status is set ("" and the fully-qualified service). */
  names: string[];
  upstreams: UpstreamTarget[];
  /** Mutual TLS to the upstreams (the mesh's certificates). */
  tls?: MeshTls;
  pollMs: number;
  timeoutMs: number;
  log: Logger;
  /** The gateway's own dependencies (Redis, Kafka, outbox), checked along with the upstreams. */
  dependencies?: DependencyCheck[];
}

export interface HealthMonitor {
  /** Polls once now, then every pollMs. Resolves after the first poll. */
  start(): Promise<void>;
  /** Checks every upstream once and updates the status; true when all are SERVING. */
  poll(): Promise<boolean>;
  /** Stops polling and reports NOT_SERVING from then on (shutdown); closes the upstream health clients. */
  stop(): void;
  /** Last status per upstream and dependency. */
  snapshot(): Record<string, ServingStatus>;
}

export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const upstreams = opts.upstreams.map((u) => upstreamCheck(u.name, u.address, opts.timeoutMs, opts.tls));
  const names = [...upstreams, ...(opts.dependencies ?? [])].map((c) => c.name);
  const monitor = createDependencyMonitor({
    health: opts.health,
    names: opts.names,
    checks: [...upstreams, ...(opts.dependencies ?? [])],
    pollMs: opts.pollMs,
    timeoutMs: opts.timeoutMs,
    log: opts.log,
  });
  return {
    start: () => monitor.start(),
    poll: () => monitor.poll(),
    stop() {
      monitor.stop();
      for (const u of upstreams) void u.close?.();
    },
    snapshot() {
      const last = monitor.snapshot();
      return Object.fromEntries(names.map((n) => [n, n in last ? (last[n] ? "SERVING" : "NOT_SERVING") : "UNKNOWN"])) as Record<string, ServingStatus>;
    },
  };
}
