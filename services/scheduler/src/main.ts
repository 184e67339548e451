import { runService, startServiceHealth } from "@tda/common";
import { loadConfig } from "./config";
import { SERVICE_NAME, startSchedulerServer } from "./server";

runService({
  name: "scheduler",
  loadConfig: () => loadConfig(),
  common: (config) => config,
  async build({ config, log, metrics }) {
    const scheduler = await startSchedulerServer(config, log, { metrics });
    // Queue depth, read from BullMQ at scrape time.
    const queue = scheduler.queue;
    metrics?.addGauge("tda_scheduler_queue_jobs", "Jobs in the scheduler queue by state (waiting, prioritized, delayed, active)", "state", () =>
      queue.getJobCounts("waiting", "prioritized", "delayed", "active"),
    );
    // Health follows Redis, Kafka and a draining outbox (unless HEALTH_REQUIRE_KAFKA=false) and, with a worker, at least one healthy engine.
    const engines = scheduler.engines;
    const health = await startServiceHealth({
      health: scheduler.health,
      names: [SERVICE_NAME],
      redis: scheduler.redis,
      kafkaBrokers: config.kafkaBrokers,
      requireKafka: config.healthRequireKafka,
      pollMs: config.healthPollMs,
      log,
      outbox: scheduler.events,
      extra: engines
        ? [
            {
              name: "engines",
              check: async () => {
                await engines.probe();
                return engines.engines().some((e) => e.healthy);
              },
            },
          ]
        : [],
    });
    return { close: () => scheduler.close(), health };
  },
});
