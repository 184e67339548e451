import { createLogger, initTracing, setupMetrics, onShutdown, runMain, startServiceHealth } from "@tda/common";
import { loadConfig } from "./config";
import { SERVICE_NAME, startSchedulerServer } from "./server";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("scheduler", config.logLevel);
  initTracing("scheduler", config.otlpEndpoint);
  const metrics = await setupMetrics("scheduler", config.host, config.metricsPort, log);
  const scheduler = await startSchedulerServer(config, log, { metrics: metrics?.metrics });
  if (metrics) {
    // Queue depth, read from BullMQ at scrape time.
    const queue = scheduler.queue;
    metrics.metrics.addGauge("tda_scheduler_queue_jobs", "Jobs in the scheduler queue by state (waiting, prioritized, delayed, active)", "state", () =>
      queue.getJobCounts("waiting", "prioritized", "delayed", "active"),
    );
  }
  // Health follows Redis, Kafka (unless HEALTH_REQUIRE_KAFKA=false) and, with a worker, at least one healthy engine.
  const engines = scheduler.engines;
  const deps = await startServiceHealth({
    health: scheduler.health, names: [SERVICE_NAME], redis: scheduler.redis, kafkaBrokers: config.kafkaBrokers,
    requireKafka: config.healthRequireKafka, pollMs: config.healthPollMs, log, outbox: scheduler.events,
    extra: engines ? [{ name: "engines", check: async () => { await engines.probe(); return engines.engines().some((e) => e.healthy); } }] : [],
  });

  onShutdown(log, [() => deps.stop(), () => scheduler.close(), () => deps.close(), () => metrics?.server.close()]);
}

runMain("scheduler", main);
