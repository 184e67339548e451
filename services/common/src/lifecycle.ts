import type { Logger } from "./logger";
import { shutdownTracing } from "./tracing";

// The start/stop frame every service's main.ts shares.

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
