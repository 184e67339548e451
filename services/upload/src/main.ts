import { runService, startServiceHealth } from "@tda/common";
import { loadConfig } from "./config";
import { SERVICE_NAME, startUploadServer } from "./server";

runService({
  name: "upload",
  loadConfig: () => loadConfig(),
  common: (config) => config,
  async build({ config, log, metrics }) {
    const srv = await startUploadServer(config, { log, metrics });
    // Health follows Redis (and Kafka and a draining outbox unless HEALTH_REQUIRE_KAFKA=false).
    const health = await startServiceHealth({
      health: srv.health,
      names: [SERVICE_NAME],
      redis: srv.redis,
      kafkaBrokers: config.kafkaBrokers,
      requireKafka: config.healthRequireKafka,
      pollMs: config.healthPollMs,
      log,
      outbox: srv.bus,
    });
    return { close: () => srv.close(), health };
  },
});
