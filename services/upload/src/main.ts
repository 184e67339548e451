import { createLogger, initTracing, setupMetrics, shutdownTracing, startServiceHealth } from "@tda/common";
import { loadConfig } from "./config";
import { SERVICE_NAME, startUploadServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("upload", config.logLevel);
  initTracing("upload", config.otlpEndpoint);
  // Metrics first: the gRPC server created next picks up the counting interceptor.
  const metrics = await setupMetrics("upload", config.host, config.metricsPort, log);
  const srv = await startUploadServer(config, { log });
  // Health follows Redis (and Kafka unless HEALTH_REQUIRE_KAFKA=false).
  const deps = await startServiceHealth({
    health: srv.health, names: [SERVICE_NAME], redis: srv.redis, kafkaBrokers: config.kafkaBrokers,
    requireKafka: config.healthRequireKafka, pollMs: config.healthPollMs, log,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    deps.stop();
    srv
      .close()
      .then(() => deps.close())
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
  // eslint-disable-next-line no-console
  console.error("upload service failed to start:", err);
  process.exit(1);
});
