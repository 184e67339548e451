import type { Server } from "@grpc/grpc-js";
import type { HealthImplementation } from "grpc-health-check";
import {
  addHealth,
  bind,
  channelOptions,
  createEventBus,
  createLogger,
  createRedis,
  createServer,
  initTracing,
  clientCredentials,
  meshChannelOptions,
  logTransportSecurity,
  cachedCheck,
  kafkaCheck,
  outboxCheck,
  pbGateway,
  redisCheck,
  pbJobs,
  pbStream,
  pbUpload,
  shutdown,
  widenReceiveWindows,
  FastTdaServiceService,
  FastUploadServiceClient,
  type EventBus,
  type ServiceMetrics,
  type Logger,
  type Redis,
  applyMeshKey,
} from "@tda/common";
import { createAuthenticator } from "./auth";
import { createJwtVerifier } from "./jwt";
import { SERVICE_NAME, type GatewayConfig } from "./config";
import { createHealthMonitor, type HealthMonitor } from "./health-monitor";
import { createGateway, GATEWAY_SERVICE, type GatewayDeps } from "./service";
import { createStreamStats } from "./stream-stats";
import { createRateLimiter } from "./rate-limit";
import { createFlinkStatus } from "./flink-status";
import { createStreamConfigStore } from "./stream-config";
import { readStreamOutput, startStreamFollower } from "./stream-follower";
import { FEATURES_TOPIC, STREAM_TOPIC } from "./stream-handlers";
import { createStreamWatch } from "./stream-watch";

export interface RunningGateway {
  /** The port actually bound (useful with GATEWAY_PORT=0). */
  port: number;
  server: Server;
  health: HealthImplementation;
  monitor: HealthMonitor;
  redis: Redis;
  bus: EventBus;
  /** NOT_SERVING, stop accepting, drain in-flight calls, close every connection. */
  close(graceMs?: number): Promise<void>;
}

/** The connections and background parts a gateway holds. */
interface Parts {
  redis: Redis;
  bus: EventBus;
  kafka: ReturnType<typeof kafkaCheck>;
  broker: ReturnType<typeof cachedCheck>;
  upload: InstanceType<typeof FastUploadServiceClient>;
  jobs: pbJobs.JobServiceClient;
  flink: ReturnType<typeof createFlinkStatus>;
  follower: ReturnType<typeof startStreamFollower> | undefined;
}

function connect(config: GatewayConfig, log: Logger, metrics: ServiceMetrics | undefined): Parts {
  const redis = createRedis(config.common.redisUrl, log);
  const bus = createEventBus({
    source: SERVICE_NAME,
    brokers: config.common.kafkaBrokers,
    topicPrefix: config.common.topicPrefix,
    redis,
    log,
    metrics,
  });
  metrics?.trackOutbox(SERVICE_NAME, () => bus.status());
  // One Kafka probe (one admin connection) for health and for GetStreamStatus's broker_available (cached).
  const kafka = kafkaCheck(config.common.kafkaBrokers, log);
  const broker = cachedCheck(kafka, config.brokerCheckTtlMs, 2_000);
  // One client (one channel) per upstream, reused by every call.
  // upload forwarding: chunks are sent on as received, without re-encoding (see upload-wire.ts in common)
  const upload = new FastUploadServiceClient(config.uploadAddress, clientCredentials(config.common.tls), meshChannelOptions(config.common.tls, channelOptions));
  const jobs = new pbJobs.JobServiceClient(
    config.schedulerAddress,
    clientCredentials(config.common.tls),
    meshChannelOptions(config.common.tls, channelOptions),
  );
  const prefix = config.common.topicPrefix;
  const flink = createFlinkStatus({
    restUrl: config.flinkRestUrl,
    jobName: config.flinkJobName,
    brokers: config.common.kafkaBrokers,
    groupId: config.streamGroupId,
    topic: prefix + STREAM_TOPIC,
    ttlMs: config.streamStatusTtlMs,
    timeoutMs: 1_500,
    log,
  });
  const follower = config.streamFollow
    ? startStreamFollower({
        brokers: config.common.kafkaBrokers,
        topic: prefix + FEATURES_TOPIC,
        groupId: `${prefix}tda-gateway-stream-status`,
        redis,
        log,
        retentionSeconds: config.streamOutputRetentionSeconds,
      })
    : undefined;
  return { redis, bus, kafka, broker, upload, jobs, flink, follower };
}

function gatewayDeps(config: GatewayConfig, log: Logger, p: Parts): GatewayDeps {
  const { redis } = p;
  return {
    log,
    auth: createAuthenticator(config.apiKeys, config.jwt ? createJwtVerifier(config.jwt) : undefined),
    upload: p.upload,
    jobs: p.jobs,
    bus: p.bus,
    streams: createStreamStats(redis),
    broker: p.broker,
    limiter: createRateLimiter({ redis, log, limit: config.rateLimit, windowMs: config.rateWindowMs }),
    downstreamTimeoutMs: config.downstreamTimeoutMs,
    streamMaxBytes: config.streamMaxBytes,
    topicPrefix: config.common.topicPrefix,
    stream: {
      configs: createStreamConfigStore(
        redis,
        (c) => pbStream.StreamConfig.encode(c).finish(),
        (b) => pbStream.StreamConfig.decode(b),
        config.streamMaxConfigs,
      ),
      flink: p.flink,
      outputs: (tenant, streamId) => readStreamOutput(redis, tenant, streamId),
    },
    streamWatch: createStreamWatch({ redis, log, maxWatchers: config.streamMaxWatchers }),
  };
}

/** The gateway's health: its upstreams and its own dependencies (Redis, Kafka and a draining outbox unless HEALTH_REQUIRE_KAFKA=false). */
function healthMonitor(config: GatewayConfig, log: Logger, health: HealthImplementation, p: Parts): HealthMonitor {
  const { kafka } = p;
  return createHealthMonitor({
    health,
    names: ["", GATEWAY_SERVICE],
    upstreams: [
      { name: "upload", address: config.uploadAddress },
      { name: "scheduler", address: config.schedulerAddress },
    ],
    tls: config.common.tls,
    pollMs: config.healthPollMs,
    timeoutMs: config.healthTimeoutMs,
    log,
    dependencies: [redisCheck(p.redis), ...(config.common.healthRequireKafka ? [{ name: kafka.name, check: () => kafka.check() }, outboxCheck(p.bus)] : [])],
  });
}

async function closeParts(p: Parts): Promise<void> {
  await Promise.allSettled([p.bus.close(), p.broker.close(), p.flink.close(), p.follower?.close()]);
  p.upload.close();
  p.jobs.close();
}

function logStarted(config: GatewayConfig, log: Logger, port: number, monitor: HealthMonitor): void {
  log.info(
    {
      port,
      upload: config.uploadAddress,
      scheduler: config.schedulerAddress,
      auth: [config.apiKeys.size > 0 ? "api-keys" : "", config.jwt ? "jwt" : ""].filter(Boolean).join("+") || "off",
      rateLimit: config.rateLimit,
      upstreams: monitor.snapshot(),
    },
    "gateway listening",
  );
  if (config.authDisabled) {
    log.warn(
      { auth: "off", tenant: "default" },
      'AUTHENTICATION IS OFF (GATEWAY_AUTH_DISABLED=true): every caller is the tenant "default" and can read, run and delete its data. For local development only; set GATEWAY_API_KEYS or GATEWAY_JWT_PUBLIC_KEYS anywhere else',
    );
  }
}

/** Builds every dependency from `config`, binds the gRPC server and starts health polling. */
export async function startGatewayServer(
  config: GatewayConfig,
  log: Logger = createLogger(SERVICE_NAME, config.common.logLevel),
  deps: { metrics?: ServiceMetrics } = {},
): Promise<RunningGateway> {
  applyMeshKey(config.common.meshKey, log); // mints the tenant tokens of downstream calls
  logTransportSecurity(config.common.tls, log);
  initTracing(SERVICE_NAME, config.common.otlpEndpoint);
  const parts = connect(config, log, deps.metrics);
  const { redis, bus } = parts;
  const server = createServer({ "grpc.max_receive_message_length": config.maxMessageBytes }, deps.metrics);
  widenReceiveWindows(server); // uploads: large HTTP/2 receive windows (upload forwarding)
  // TdaServiceService whose UploadData requests keep their received bytes
  // WatchJob forwards in progress: back to its baseline once the watchers are gone
  const watches = { forwards: 0 };
  deps.metrics?.addGauge("tda_gateway_job_watches", "WatchJob streams being forwarded from the scheduler", "kind", async () => ({
    forwards: watches.forwards,
  }));
  server.addService(FastTdaServiceService, createGateway({ ...gatewayDeps(config, log, parts), watches }));
  const health = addHealth(server, [GATEWAY_SERVICE]);
  const monitor = healthMonitor(config, log, health, parts);

  let port: number;
  try {
    port = await bind(server, config.common.host, config.port);
  } catch (err) {
    monitor.stop();
    await closeParts(parts);
    redis.disconnect();
    throw err;
  }
  await monitor.start();
  logStarted(config, log, port, monitor);

  let closing: Promise<void> | undefined;
  return {
    port,
    server,
    health,
    monitor,
    redis,
    bus,
    close(graceMs = 5_000) {
      closing ??= (async () => {
        monitor.stop();
        await shutdown(server, graceMs);
        await closeParts(parts);
        await redis.quit().catch(() => redis.disconnect());
        log.info("gateway stopped");
      })();
      return closing;
    },
  };
}
