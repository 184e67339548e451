import { endianness } from "node:os";
import type { Server } from "@grpc/grpc-js";
import type { HealthImplementation } from "grpc-health-check";
import {
  addHealth,
  applyMeshKey,
  bind,
  createEventBus,
  widenReceiveWindows,
  FastUploadServiceService,
  createLogger,
  createRedis,
  createServer,
  shutdown,
  type EventBus,
  type Logger,
  type Redis,
  type ServiceMetrics,
  logTransportSecurity,
} from "@tda/common";
import type { UploadConfig } from "./config";
import { createFsBlobStore, type BlobStore } from "./blob-store";
import { createLookupStreams, createUploadService } from "./upload-service";
import { createResumeSessions } from "./resume-sessions";

export const SERVICE_NAME = "tda.upload.v1.UploadService";

/** Temp files of uploads untouched this long are leftovers of a crashed process. */
const TEMP_MAX_AGE_MS = 6 * 3600_000;
const SWEEP_INTERVAL_MS = 60_000;

export interface UploadServer {
  server: Server;
  health: HealthImplementation;
  /** The bound port (useful with port 0). */
  port: number;
  address: string;
  redis: Redis;
  bus: EventBus;
  blobs: BlobStore;
  log: Logger;
  /** Health NOT_SERVING, stop accepting, drain in-flight calls, close Redis and the event bus. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Event source name (the outbox is per source); default "upload". */
  eventSource?: string;
  /** The service's metrics (RPC interceptor, events, outbox gauges). */
  metrics?: ServiceMetrics;
}

/** Starts the upload service with its own Redis connection, event bus and blob store. */
export async function startUploadServer(config: UploadConfig, opts: StartOptions = {}): Promise<UploadServer> {
  if (endianness() !== "LE") throw new Error("the upload service stores little-endian float64 and needs a little-endian host");
  const log = opts.log ?? createLogger("upload", config.logLevel);
  applyMeshKey(config.meshKey, log); // before any call can arrive
  logTransportSecurity(config.tls, log);
  const redis = createRedis(config.redisUrl, log);
  const source = opts.eventSource ?? "upload";
  const bus = createEventBus({ source, brokers: config.kafkaBrokers, topicPrefix: config.topicPrefix, redis, log, metrics: opts.metrics });
  opts.metrics?.trackOutbox(source, () => bus.status());
  const blobs = createFsBlobStore(config.dataDir);
  const sessions = createResumeSessions(redis, config.dataDir, config.resumeTtlSeconds);
  const server = createServer({}, opts.metrics);
  widenReceiveWindows(server); // large windows for large client streams (see grpc-flow-control.ts)
  const lookupStreams = createLookupStreams();
  server.addService(FastUploadServiceService, createUploadService({ config, redis, blobs, bus, log, sessions, lookupStreams }));
  // leftovers of crashed processes and expired resumable uploads
  const sweep = async () => {
    const parts = await blobs.sweepTemp(TEMP_MAX_AGE_MS);
    const spools = await sessions.sweep();
    if (parts + spools > 0) log.info({ parts, spools }, "removed stale temp files");
  };
  const sweeper = setInterval(() => void sweep().catch((err: unknown) => log.warn({ err }, "temp sweep failed")), SWEEP_INTERVAL_MS);
  sweeper.unref();
  void sweep().catch((err: unknown) => log.warn({ err }, "temp sweep failed"));
  const health = addHealth(server, [SERVICE_NAME]);
  let port: number;
  try {
    port = await bind(server, config.host, config.port, config.tls);
  } catch (err) {
    clearInterval(sweeper);
    await bus.close();
    redis.disconnect();
    throw err;
  }
  log.info({ host: config.host, port, dataDir: config.dataDir }, "upload service listening");
  let closing: Promise<void> | undefined;
  return {
    server,
    health,
    port,
    address: `${config.host}:${port}`,
    redis,
    bus,
    blobs,
    log,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        health.setStatus("", "NOT_SERVING");
        health.setStatus(SERVICE_NAME, "NOT_SERVING");
        lookupStreams.endAll(); // long-lived: the graceful shutdown would wait its whole grace for them
        await shutdown(server, config.shutdownGraceMs);
        await bus.flush(2000);
        await bus.close();
        await redis.quit().catch(() => redis.disconnect());
        log.info("upload service stopped");
      })();
      return closing;
    },
  };
}
