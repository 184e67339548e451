import { runService } from "@tda/common";
import { loadConfig, SERVICE_NAME } from "./config";
import { startGatewayServer } from "./server";

// The gateway's health (upstreams, Redis, Kafka, outbox) is monitored inside startGatewayServer.
runService({
  name: SERVICE_NAME,
  loadConfig: () => loadConfig(),
  common: (config) => config.common,
  async build({ config, log, metrics }) {
    const gateway = await startGatewayServer(config, log, { metrics });
    return { close: () => gateway.close() };
  },
});
