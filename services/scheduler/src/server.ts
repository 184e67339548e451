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
  logTransportSecurity,
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
import { createSubscriber, type Subscriber } from "./subscriber";
import { keys } from "./keys";
import { createUploadClient, type UploadClient } from "./upload-client";
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

/** The connections and parts every scheduler process holds. */
interface Parts {
  redis: Redis;
  queueConnection: Redis;
  events: EventBus;
  store: JobStore;
  subscriber: Subscriber;
  upload: UploadClient;
  queue: Queue<JobData>;
}

function connect(config: SchedulerConfig, log: Logger, metrics: ServiceMetrics | undefined): Parts {
  const redis = createRedis(config.redisUrl, log, { autoPipelining: true });
  const queueConnection = createRedis(config.redisUrl, log, { forQueue: true });
  const events = createEventBus({ source: "scheduler", brokers: config.kafkaBrokers, topicPrefix: config.topicPrefix, redis, log, metrics });
  metrics?.trackOutbox("scheduler", () => events.status());
  const store = createJobStore({ redis, events, log, retentionSeconds: config.retentionSeconds });
  const subscriber = createSubscriber(redis, log, [keys.updatesChannel("")]);
  const upload = createUploadClient(config.uploadAddress, config.tls);
  const queue = new Queue<JobData>(config.queueName, { connection: queueConnection });
  queue.on("error", (err) => log.warn({ err: err.message }, "queue error"));
  return { redis, queueConnection, events, store, subscriber, upload, queue };
}

/** The engine pool (also in an API-only scheduler that has engine addresses: estimates and limits) and, when configured, the worker. */
async function startEngines(config: SchedulerConfig, log: Logger, p: Parts): Promise<{ engines: EnginePool | undefined; worker: SchedulerWorker | undefined }> {
  if (config.engineAddresses.length === 0 && !config.worker) return { engines: undefined, worker: undefined };
  const engines = createEnginePool(config.engineAddresses, config.engineProbeMs, log, {
    refreshMs: config.engineDiscoveryMs,
    resolver: createEngineResolver(config.engineDnsServers),
    tls: config.tls,
  });
  void engines.probe();
  if (!config.worker) return { engines, worker: undefined };
  const worker = await startWorker({
    redis: p.redis,
    queueConnection: p.queueConnection,
    queueName: config.queueName,
    concurrency: config.concurrency,
    store: p.store,
    events: p.events,
    engines,
    upload: p.upload,
    points: new PointsCache(config.pointsCacheBytes),
    subscriber: p.subscriber,
    log,
    retentionSeconds: config.retentionSeconds,
    progressIntervalMs: config.progressIntervalMs,
    rpcTimeoutMs: config.rpcTimeoutMs,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
  });
  return { engines, worker };
}

/** The JobService handlers. */
function jobServiceHandlers(config: SchedulerConfig, log: Logger, p: Parts, engines: EnginePool | undefined, watches: { streams: number }) {
  const limits = { maxDim: config.maxDim, maxModulus: config.maxModulus, maxThreads: config.maxThreads };
  const engineLimits = createEngineLimits({ engines, rpcTimeoutMs: config.rpcTimeoutMs, log });
  const { redis, upload } = p;
  return {
    ...createJobService({
      redis,
      queue: p.queue,
      store: p.store,
      subscriber: p.subscriber,
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
      watches,
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
      // a Rips estimate reads the dataset and measures it: ten unary deadlines, at least a minute
      estimateTimeoutMs: Math.max(10 * config.rpcTimeoutMs, 60_000),
      log,
    }),
  };
}

/** Starts the whole scheduler (gRPC API, and the worker when configured) from a config. */
export async function startSchedulerServer(
  config: SchedulerConfig,
  log: Logger = createLogger("scheduler", config.logLevel),
  deps: { metrics?: ServiceMetrics } = {},
): Promise<SchedulerServer> {
  applyMeshKey(config.meshKey, log); // before any call can arrive
  logTransportSecurity(config.tls, log);
  const p = connect(config, log, deps.metrics);
  const { redis, queue, store, events } = p;
  const { engines, worker } = await startEngines(config, log, p);
  const server = createServer({}, deps.metrics);
  // WatchJob streams in progress: back to its baseline once the watchers are gone
  const watches = { streams: 0 };
  deps.metrics?.addGauge("tda_scheduler_job_watches", "WatchJob streams in progress", "kind", async () => ({ streams: watches.streams }));
  server.addService(pbJobs.JobServiceService, jobServiceHandlers(config, log, p, engines, watches));
  const health = addHealth(server, [SERVICE_NAME]);
  const port = await bind(server, config.host, config.port, config.tls);
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
        p.upload.close();
        await p.subscriber.close();
        await events.flush(2000);
        await events.close();
        await p.queueConnection.quit().catch(() => undefined);
        await redis.quit().catch(() => undefined);
        log.info("scheduler stopped");
      })();
      return closing;
    },
  };
}
