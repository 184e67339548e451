import { createLogger, initTracing, setupMetrics, onShutdown, runMain, startServiceHealth } from "@tda/common";
import { loadConfig } from "./config";
import { SERVICE_NAME, startUploadServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("upload", config.logLevel);
  initTracing("upload", config.otlpEndpoint);
  const metrics = await setupMetrics("upload", config.host, config.metricsPort, log);
  const srv = await startUploadServer(config, { log, metrics: metrics?.metrics });
  // Health follows Redis (and Kafka unless HEALTH_REQUIRE_KAFKA=false).
  const deps = await startServiceHealth({
    health: srv.health, names: [SERVICE_NAME], redis: srv.redis, kafkaBrokers: config.kafkaBrokers,
    requireKafka: config.healthRequireKafka, pollMs: config.healthPollMs, log, outbox: srv.bus,
  });
  onShutdown(log, [() => deps.stop(), () => srv.close(), () => deps.close(), () => metrics?.server.close()]);
}

runMain("upload", main);
