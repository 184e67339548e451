import { createLogger, initTracing, shutdownTracing } from "@tda/common";
import { loadConfig } from "./config";
import { startUploadServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("upload", config.logLevel);
  initTracing("upload", config.otlpEndpoint);
  const srv = await startUploadServer(config, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    srv
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
  // eslint-disable-next-line no-console
  console.error("upload service failed to start:", err);
  process.exit(1);
});
