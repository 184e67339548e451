import { Queue } from "bullmq";
import {
  addHealth,
  applyMeshKey,
  bind,
  createEventBus,
  createLogger,
  createRedis,
  createServer,
  pbJobs,
  shutdown,
  type EventBus,
  type Logger,
  type Redis,
  type ServiceMetrics,
} from "@tda/common";
import type { Server } from "@grpc/grpc-js";
import type { HealthImplementation } from "grpc-health-check";
import type { SchedulerConfig } from "./config";
import { createEngineResolver } from "./engine-discovery";
import { createEngineLimits } from "./engine-limits";
import { createEnginePool, type EnginePool } from "./engine-pool";
import { createEngineDistance, createEngineVectorize } from "./distance-service";
import { createEstimateHandlers } from "./estimate-service";
import { createJobService } from "./job-service";
import { createJobStore, type JobStore } from "./job-store";
import { createSubscriber } from "./subscriber";
import { keys } from "./keys";
import { createUploadClient } from "./upload-client";
import { PointsCache } from "./points-cache";
import { startWorker, type JobData, type SchedulerWorker } from "./worker";

export const SERVICE_NAME = "tda.jobs.v1.JobService";

export interface SchedulerServer {
  /** The bound port (useful with port 0). */
  port: number;
  address: string;
  server: Server;
  health: HealthImplementation;
  redis: Redis;
  queue: Queue<JobData>;
  store: JobStore;
  events: EventBus;
  engines: EnginePool | undefined;
  worker: SchedulerWorker | undefined;
  log: Logger;
  /** Graceful stop: NOT_SERVING, stop accepting, let running jobs finish (up to the grace period), close. */
  close(): Promise<void>;
}

/** Starts the whole scheduler (gRPC API, and the worker when configured) from a config. */
export async function startSchedulerServer(
  config: SchedulerConfig,
  log: Logger = createLogger("scheduler", config.logLevel),
  deps: { metrics?: ServiceMetrics } = {},
): Promise<SchedulerServer> {
  applyMeshKey(config.meshKey, log); // before any call can arrive
  const redis = createRedis(config.redisUrl, log, { autoPipelining: true });
  const queueConnection = createRedis(config.redisUrl, log, { forQueue: true });
  const events = createEventBus({ source: "scheduler", brokers: config.kafkaBrokers, topicPrefix: config.topicPrefix, redis, log, metrics: deps.metrics });
  deps.metrics?.trackOutbox("scheduler", () => events.status());
  const store = createJobStore({ redis, events, log, retentionSeconds: config.retentionSeconds });
  const subscriber = createSubscriber(redis, log, [keys.updatesChannel("")]);
  const upload = createUploadClient(config.uploadAddress);
  const queue = new Queue<JobData>(config.queueName, { connection: queueConnection });
  queue.on("error", (err) => log.warn({ err: err.message }, "queue error"));

  let engines: EnginePool | undefined;
  let worker: SchedulerWorker | undefined;
  const newPool = () =>
    createEnginePool(config.engineAddresses, config.engineProbeMs, log, {
      refreshMs: config.engineDiscoveryMs,
      resolver: createEngineResolver(config.engineDnsServers),
    });
  if (config.worker) {
    engines = newPool();
    void engines.probe();
    worker = await startWorker({
      redis,
      queueConnection,
      queueName: config.queueName,
      concurrency: config.concurrency,
      store,
      events,
      engines,
      upload,
      points: new PointsCache(config.pointsCacheBytes),
      subscriber,
      log,
      retentionSeconds: config.retentionSeconds,
      progressIntervalMs: config.progressIntervalMs,
      rpcTimeoutMs: config.rpcTimeoutMs,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
    });
  }

  // An API-only scheduler still asks engines for estimates and limits.
  if (!engines && config.engineAddresses.length > 0) {
    engines = newPool();
    void engines.probe();
  }
  const limits = { maxDim: config.maxDim, maxModulus: config.maxModulus, maxThreads: config.maxThreads };
  const engineLimits = createEngineLimits({ engines, rpcTimeoutMs: config.rpcTimeoutMs, log });
  const server = createServer({}, deps.metrics);
  server.addService(pbJobs.JobServiceService, {
    ...createJobService({
      redis,
      queue,
      store,
      subscriber,
      log,
      limits,
      engineLimits,
      defaultDeadlineSeconds: config.defaultDeadlineSeconds,
      maxDeadlineSeconds: config.maxDeadlineSeconds,
      retentionSeconds: config.retentionSeconds,
      attempts: config.attempts,
      backoffMs: config.backoffMs,
      defaultPageSize: config.defaultPageSize,
      maxPageSize: config.maxPageSize,
      distance: createEngineDistance({ engines, rpcTimeoutMs: config.rpcTimeoutMs, log }),
      vectorize: createEngineVectorize({ engines, rpcTimeoutMs: config.rpcTimeoutMs, log }),
      watchResyncMs: config.watchResyncMs,
      upload,
      uploadTimeoutMs: config.rpcTimeoutMs,
      maxActiveJobs: config.maxActiveJobs,
      activeJobsRetryMs: config.activeJobsRetryMs,
    }),
    ...createEstimateHandlers({
      redis,
      engines,
      limits,
      engineLimits,
      upload,
      maxDeadlineSeconds: config.maxDeadlineSeconds,
      rpcTimeoutMs: config.rpcTimeoutMs,
      log,
    }),
  });
  const health = addHealth(server, [SERVICE_NAME]);
  const port = await bind(server, config.host, config.port);
  log.info({ port, worker: config.worker, engines: config.engineAddresses, queue: config.queueName }, "scheduler listening");

  let closing: Promise<void> | undefined;
  return {
    port,
    address: `${config.host}:${port}`,
    server,
    health,
    redis,
    queue,
    store,
    events,
    engines,
    worker,
    log,
    close() {
      closing ??= (async () => {
        health.setStatus("", "NOT_SERVING");
        health.setStatus(SERVICE_NAME, "NOT_SERVING");
        await shutdown(server, config.shutdownGraceMs);
        await worker?.close(config.shutdownGraceMs);
        await queue.close().catch(() => undefined);
        engines?.close();
        upload.close();
        await subscriber.close();
        await events.flush(2000);
        await events.close();
        await queueConnection.quit().catch(() => undefined);
        await redis.quit().catch(() => undefined);
        log.info("scheduler stopped");
      })();
      return closing;
    },
  };
}
