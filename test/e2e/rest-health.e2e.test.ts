import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { checkHealth, createHealthClient } from "@tda/common";
import { ENGINE_BIN, freePort, ROOT, startMesh, startProcess, type Mesh, type Proc } from "../helpers/mesh";
import { startPrivateKafka, type PrivateKafka } from "../helpers/kafka-broker";
import { api, gatewayClient, md, type Gateway } from "../helpers/client";
import { restCall, restClient } from "../helpers/rest";

// Health following dependencies down and back, and the errors callers see
// meanwhile: an engine stopped (scheduler and gateway NOT_SERVING, REST
// /health 503 — asked of the gateway alone, which names the dependency it
// waits for; the edge knows no engine —, jobs pile up → the concurrent-job limit answers 429), the
// upload service stopped (calls → 503 / UNAVAILABLE), and this mesh's own
// Redis stopped (every service NOT_SERVING) — each then restarted on the same
// port, and everything SERVING again; likewise the mesh's own (private) Kafka.

jest.setTimeout(240_000);

const KEY = "health-key-0123456789";
let mesh: Mesh;
let gw: Gateway;
let redis: Proc;
let redisPort: number;
let work: string;
let kafka: PrivateKafka;

function startRedis(): Proc {
  return startProcess("redis", "redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {}, work);
}

async function healthOf(address: string): Promise<boolean> {
  const c = createHealthClient(address);
  try {
    return await checkHealth(c, "", 1500);
  } finally {
    c.close();
  }
}

/** Polls until every address reports `serving` (true/false). */
async function waitHealth(addresses: string[], serving: boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(addresses.map(healthOf));
    if (states.every((s) => s === serving)) return;
    if (Date.now() > end) throw new Error(`health of ${addresses.join(", ")}: ${states.join(", ")}; wanted ${serving}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tda-health-test-"));
  redisPort = await freePort();
  redis = startRedis();
  kafka = await startPrivateKafka();
  mesh = await startMesh({
    rest: true,
    redisDb: 12, // only emptied on the shared Redis; this mesh uses its own redis-server below
    env: { REDIS_URL: `redis://127.0.0.1:${redisPort}/0`, KAFKA_BROKERS: kafka.brokers, HEALTH_POLL_MS: "300", SCHEDULER_ENGINE_PROBE_MS: "300" },
    gatewayEnv: { GATEWAY_API_KEYS: `${KEY}:tenant-h`, GATEWAY_HEALTH_POLL_MS: "300" },
    schedulerEnv: { SCHEDULER_MAX_ACTIVE_JOBS: "1", SCHEDULER_ACTIVE_JOBS_RETRY_MS: "3000" },
  });
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
  await redis?.stop();
  await kafka?.destroy();
});

function proc(name: string): Proc {
  const p = mesh.procs.find((x) => x.name === name);
  if (!p) throw new Error(`no process ${name}`);
  return p;
}

function replaceProc(name: string, p: Proc): void {
  const i = mesh.procs.findIndex((x) => x.name === name);
  mesh.procs[i] = p;
}

test("an engine going down makes scheduler and gateway NOT_SERVING (REST /health 503); the active-job limit answers 429; all recover", async () => {
  const A = restClient(mesh.rest!, { key: KEY });
  const up = await A.upload("/api/v1/data/upload/file?name=sq.csv&format=csv", "0,0\n1,0\n1,1\n0,1\n", "text/csv");
  expect(up.status).toBe(200);
  const datasetId = up.json.dataset.dataset_id;

  await proc("engine-0").stop("SIGKILL");
  await waitHealth([mesh.scheduler, mesh.gateway], false);
  expect(await healthOf(mesh.upload)).toBe(true);
  const h = await restCall(mesh.rest!, "GET", "/health");
  expect(h.status).toBe(503);
  expect(h.json.status).toBe("NOT_SERVING");
  // the edge asks the gateway only: it names its own dependency (the scheduler), never the engines behind it
  expect(h.json.down).toEqual(["gateway", "scheduler"]);
  expect(h.json.dependencies).toMatchObject({ upload: "SERVING", scheduler: "NOT_SERVING", redis: "SERVING" });
  expect(Object.keys(h.json.services)).toEqual(["gateway"]);

  // With no engine the first job stays queued; the second is over the limit of 1.
  const first = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 1 });
  expect(first.status).toBe(200);
  const second = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 0 });
  expect(second.status).toBe(429);
  expect(second.headers.get("retry-after")).toBe("3");
  expect(JSON.stringify(second.json.details)).toContain("TOO_MANY_ACTIVE_JOBS");
  const err = (await api(gw)
    .computeVietorisRips({ datasetId, maxDim: 0, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 }, md(KEY))
    .catch((e: ServiceError) => e)) as ServiceError;
  expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);

  const address = mesh.engines[0]!;
  replaceProc("engine-0", startProcess("engine-0", ENGINE_BIN, ["serve", "--port", address.split(":")[1]!, "--threads", "2"], {}, mesh.logDir));
  await waitHealth([address, mesh.scheduler, mesh.gateway], true);
  expect((await restCall(mesh.rest!, "GET", "/health")).status).toBe(200);
});

test("the upload service stopped: calls answer 503 / UNAVAILABLE, /health names it; restarted: back to 200", async () => {
  const uploadPort = mesh.upload.split(":")[1]!;
  await proc("upload").stop();
  const r = await restCall(mesh.rest!, "GET", "/api/v1/data/some-id", { key: KEY });
  expect(r.status).toBe(503);
  expect(JSON.stringify(r.json)).toContain("UPSTREAM_UNAVAILABLE");
  const err = (await api(gw)
    .getDataset({ dataId: "some-id" }, md(KEY))
    .catch((e: ServiceError) => e)) as ServiceError;
  expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  await waitHealth([mesh.gateway], false);
  const h = await restCall(mesh.rest!, "GET", "/health");
  expect(h.status).toBe(503);
  expect(h.json.down).toEqual(["gateway", "upload"]);

  const env = {
    REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
    KAFKA_BROKERS: kafka.brokers,
    TDA_DATA_DIR: mesh.dataDir,
    LOG_LEVEL: "info",
    HEALTH_POLL_MS: "300",
    TDA_MESH_KEY: mesh.meshKey,
    UPLOAD_PORT: uploadPort,
    UPLOAD_METRICS_PORT: new URL(mesh.metrics.upload).port,
  };
  replaceProc("upload", startProcess("upload", process.execPath, [join(ROOT, "services/upload/dist/main.js")], env, mesh.logDir));
  await waitHealth([mesh.upload, mesh.gateway], true);
  expect((await restCall(mesh.rest!, "GET", "/health")).status).toBe(200);
  expect((await restCall(mesh.rest!, "GET", "/api/v1/data/some-id", { key: KEY })).status).toBe(404);
});

test("Redis down: upload, scheduler and gateway NOT_SERVING; Redis back: SERVING again", async () => {
  await redis.stop("SIGKILL");
  await waitHealth([mesh.upload, mesh.scheduler, mesh.gateway], false);
  const h = await restCall(mesh.rest!, "GET", "/health");
  expect(h.status).toBe(503);
  expect(h.json.down).toEqual(expect.arrayContaining(["gateway", "redis"]));
  redis = startRedis();
  await waitHealth([mesh.upload, mesh.scheduler, mesh.gateway], true, 60_000);
  expect((await restCall(mesh.rest!, "GET", "/health")).status).toBe(200);
});

test("Kafka down: upload, scheduler and gateway NOT_SERVING (calls still work); Kafka back: SERVING again", async () => {
  await kafka.stop("SIGKILL");
  await waitHealth([mesh.upload, mesh.scheduler, mesh.gateway], false);
  expect((await restCall(mesh.rest!, "GET", "/health")).status).toBe(503);
  // The event outbox covers the outage: reads and uploads keep working meanwhile.
  const up = await restClient(mesh.rest!, { key: KEY }).upload("/api/v1/data/upload/file?name=k.csv&format=csv", "0,0\n3,4\n", "text/csv");
  expect(up.status).toBe(200);
  await kafka.start();
  await waitHealth([mesh.upload, mesh.scheduler, mesh.gateway], true, 90_000);
  expect((await restCall(mesh.rest!, "GET", "/health")).status).toBe(200);
});
