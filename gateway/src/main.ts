import { createLogger, setupMetrics, shutdownTracing } from "@tda/common";
import { loadConfig, SERVICE_NAME } from "./config";
import { startGatewayServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(SERVICE_NAME, config.common.logLevel);
  // Metrics first: the gRPC server created next picks up the counting interceptor.
  const metrics = await setupMetrics(SERVICE_NAME, config.common.host, config.common.metricsPort, log);
  const gateway = await startGatewayServer(config, log);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    gateway
      .close()
      .then(() => metrics?.server.close())
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
  // Configuration errors and bind failures end the process with a clear message.
  console.error(`gateway: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
