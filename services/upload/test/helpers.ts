import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import pino from "pino";
import { channelOptions, decodeDetails, insecure, pbEvents, pbUpload, TENANT_KEY } from "@tda/common";
import { loadConfig } from "../src/config";
import { startUploadServer, type UploadServer } from "../src/server";

// Integration helpers: a real Redis (REDIS_URL, default redis://127.0.0.1:6390;
// started here when nothing answers there) and the real service in-process on
// an ephemeral port, called over gRPC.

export const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6390";

export interface RedisHandle {
  redis: IORedis;
  stop(): Promise<void>;
}

async function ping(url: string): Promise<boolean> {
  const r = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Uses the Redis at REDIS_URL, starting a redis-server on its port if none answers. */
export async function useRedis(): Promise<RedisHandle> {
  let child: ChildProcess | undefined;
  if (!(await ping(REDIS_URL))) {
    const u = new URL(REDIS_URL);
    child = spawn("redis-server", ["--port", u.port || "6379", "--bind", u.hostname, "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const until = Date.now() + 10_000;
    while (!(await ping(REDIS_URL))) {
      if (Date.now() > until) throw new Error(`could not start redis-server for ${REDIS_URL}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const redis = new IORedis(REDIS_URL);
  return {
    redis,
    async stop() {
      redis.disconnect();
      if (child) {
        child.kill("SIGTERM");
        await new Promise((r) => child!.once("exit", r));
      }
    },
  };
}

export interface ServiceHandle {
  srv: UploadServer;
  client: pbUpload.UploadServiceClient;
  dataDir: string;
  eventSource: string;
  stop(): Promise<void>;
}

/** Starts the upload service on port 0 with a fresh data dir; events stay in the Redis outbox (no broker). */
export async function startService(env: Record<string, string> = {}): Promise<ServiceHandle> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "tda-upload-test-"));
  const config = loadConfig({
    REDIS_URL,
    TDA_DATA_DIR: dataDir,
    UPLOAD_PORT: "0",
    // a closed port: the relay cannot drain, so tests can read the events from the outbox
    KAFKA_BROKERS: "127.0.0.1:9",
    UPLOAD_SHUTDOWN_GRACE_MS: "2000",
    ...env,
  });
  const eventSource = `upload-test-${randomBytes(4).toString("hex")}`;
  const srv = await startUploadServer(config, { log: pino({ level: "silent" }), eventSource });
  const client = new pbUpload.UploadServiceClient(srv.address, insecure(), channelOptions);
  return {
    srv,
    client,
    dataDir,
    eventSource,
    async stop() {
      client.close();
      await srv.redis.del(`tda:outbox:${eventSource}`);
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function tenantMd(tenant: string): Metadata {
  const md = new Metadata();
  md.set(TENANT_KEY, tenant);
  return md;
}

const tenants: string[] = [];

/** A fresh tenant id; its keys are removed by cleanupTenants. */
export function newTenant(): string {
  const t = `t-upload-test-${randomBytes(6).toString("hex")}`;
  tenants.push(t);
  return t;
}

/** Removes the metadata the tests created (datasets of their tenants and those blob references). */
export async function cleanupTenants(redis: IORedis): Promise<void> {
  for (const t of tenants.splice(0)) {
    const keys = await redis.keys(`tda:dataset:${t}:*`);
    for (const k of keys) {
      const sha = await redis.hget(k, "sha256");
      const id = k.slice(k.lastIndexOf(":") + 1);
      if (sha) await redis.srem(`tda:blob-refs:${sha}`, `${t}:${id}`);
    }
    if (keys.length > 0) await redis.del(...keys);
    await redis.del(`tda:datasets:${t}`);
    const sessions = [...(await redis.keys(`tda:upload-session:${t}:*`)), ...(await redis.keys(`tda:upload-active:${t}:*`))];
    if (sessions.length > 0) await redis.del(...sessions);
  }
}

export function upload(
  client: pbUpload.UploadServiceClient,
  tenant: string,
  header: Partial<pbUpload.UploadHeader>,
  chunks: (Buffer | string)[],
): Promise<pbUpload.UploadResponse> {
  return new Promise((resolve, reject) => {
    const call = client.upload(tenantMd(tenant), (err, res) => (err ? reject(err) : resolve(res)));
    call.write({ msg: { $case: "header", value: { name: "", format: 0, dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: 0, ...header } } });
    for (const c of chunks) call.write({ msg: { $case: "chunk", value: typeof c === "string" ? Buffer.from(c) : c } });
    call.end();
  });
}

export async function expectGrpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail");
}

export { decodeDetails };

export function readPoints(client: pbUpload.UploadServiceClient, tenant: string, datasetId: string, chunkBytes = 0): Promise<{ data: Buffer; chunks: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const call = client.readPoints({ datasetId, chunkBytes }, tenantMd(tenant));
    call.on("data", (m: pbUpload.ReadPointsResponse) => parts.push(m.chunk));
    call.on("error", reject);
    call.on("end", () => resolve({ data: Buffer.concat(parts), chunks: parts.length }));
  });
}

export function unary<Req, Res>(
  fn: (req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void) => unknown,
  req: Req,
  tenant: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, tenantMd(tenant), (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** All files below a directory (recursive), relative paths. */
export function filesUnder(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(filesUnder(p).map((x) => path.join(e, x)));
    else out.push(e);
  }
  return out;
}

/** Upload events queued in the outbox of this service instance, optionally for one upload. */
export async function outboxEvents(redis: IORedis, source: string, uploadId?: string): Promise<{ type: string; data: pbEvents.UploadEventData }[]> {
  const raw = await redis.lrange(`tda:outbox:${source}`, 0, -1);
  const out: { type: string; data: pbEvents.UploadEventData }[] = [];
  for (const r of raw) {
    const rec = JSON.parse(r) as { topic: string; key: string; value: string };
    const env = pbEvents.EventEnvelope.decode(Buffer.from(rec.value, "base64"));
    if (rec.topic !== "tda_uploads" || env.data?.$case !== "upload") continue;
    if (uploadId !== undefined && rec.key !== uploadId) continue;
    out.push({ type: env.eventType, data: env.data.value });
  }
  return out;
}
