import type { CommonConfig } from "./config";
import { createLogger, type Logger } from "./logger";
import { setupMetrics, type ServiceMetrics } from "./metrics";
import { initTracing, shutdownTracing } from "./tracing";

// The start/stop frame every service's main.ts shares: runService.

/** On SIGTERM/SIGINT runs `steps` in order, flushes traces and exits (1 if a step failed). */
export function onShutdown(log: Logger, steps: Array<() => unknown>): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    steps
      .reduce<Promise<unknown>>((done, step) => done.then(() => step()), Promise.resolve())
      .then(() => shutdownTracing())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** Runs a service's async main; configuration errors and bind failures end the process with a clear message. */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(`${service}: ${(err as Error)?.message ?? String(err)}`);
    process.exit(1);
  });
}

/** A built service: closed on shutdown, with its dependency health stopped first and closed last. */
export interface RunningService {
  close(): Promise<void>;
  health?: { stop(): void; close(): Promise<void> };
}

export interface ServiceDefinition<C> {
  /** Service name: logger, tracing resource, metrics label. */
  name: string;
  loadConfig(): C;
  /** The settings the frame needs (log level, OTLP endpoint, metrics address). */
  common(config: C): Pick<CommonConfig, "logLevel" | "otlpEndpoint" | "host" | "metricsPort">;
  /** Builds and starts the service from its config, logger and metrics (undefined with no metrics port). */
  build(ctx: { config: C; log: Logger; metrics: ServiceMetrics | undefined }): Promise<RunningService>;
}

/**
 * The one start-up every TS service shares: config (a bad value ends the
 * process with a clear message), logger, tracing, metrics (registry and
 * /metrics server), the service itself, and an orderly shutdown on
 * SIGTERM/SIGINT (health NOT_SERVING, service closed, dependency checks
 * closed, metrics server closed, traces flushed).
 */
export function runService<C>(def: ServiceDefinition<C>): void {
  runMain(def.name, async () => {
    const config = def.loadConfig();
    const common = def.common(config);
    const log = createLogger(def.name, common.logLevel);
    initTracing(def.name, common.otlpEndpoint);
    const metrics = await setupMetrics(def.name, common.host, common.metricsPort, log);
    const svc = await def.build({ config, log, metrics: metrics?.metrics });
    onShutdown(log, [() => svc.health?.stop(), () => svc.close(), () => svc.health?.close(), () => metrics?.server.close()]);
  });
}
