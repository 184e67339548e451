import { createLogger, setupMetrics, onShutdown, runMain } from "@tda/common";
import { loadConfig, SERVICE_NAME } from "./config";
import { startGatewayServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(SERVICE_NAME, config.common.logLevel);
  const metrics = await setupMetrics(SERVICE_NAME, config.common.host, config.common.metricsPort, log);
  const gateway = await startGatewayServer(config, log, { metrics: metrics?.metrics });

  onShutdown(log, [() => gateway.close(), () => metrics?.server.close()]);
}

runMain("gateway", main);
