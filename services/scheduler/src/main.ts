import { createLogger, initTracing, shutdownTracing } from "@tda/common";
import { loadConfig } from "./config";
import { startSchedulerServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("scheduler", config.logLevel);
  initTracing("scheduler", config.otlpEndpoint);
  const scheduler = await startSchedulerServer(config, log);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    scheduler
      .close()
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

main().catch((err: unknown) => {
  // configuration errors and bind failures end the process with a clear message
  console.error(`scheduler: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
