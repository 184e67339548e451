import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { channelOptions, insecure, pbGateway, pbJobs } from "@tda/common";
import { KAFKA_BROKERS, ROOT, freePort } from "../helpers/mesh";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-redis";
import { api, type Gateway } from "../helpers/client";
import { JobState, getJob, isTerminalState, randomCsv, sleep, uploadCloud, waitFor, waitTerminal } from "../helpers/jobs";
import { barcodeOf, runRipser } from "../helpers/barcodes";

// The scale rehearsal on one machine: deploy/local/start.sh (the real script) starts 3 engines,
// 2 uploads, 2 schedulers and 2 gateways (instances after the first on 127.0.0.2, .3, each
// service's addresses given as lists). A client balanced over both gateways uploads datasets and
// submits jobs (each with an idempotency key, retried on UNAVAILABLE as a client would); while
// jobs run, the second instance of every component is killed with SIGKILL. Nothing is lost:
// every submitted job completes exactly once, with Ripser's barcode, and the uploads and jobs
// sent after the kills go through the survivors.

jest.setTimeout(420_000);

const run = promisify(execFile);
const ENGINES = 3;
let runDir: string;
let redis: PrivateRedis;
let gw: Gateway;
let env: NodeJS.ProcessEnv;
const ports = { engine: 0, upload: 0, scheduler: 0, gateway: 0 };

async function startScript(args: string[]): Promise<string> {
  const { stdout, stderr } = await run("bash", [join(ROOT, "deploy/local/start.sh"), ...args], { env, cwd: ROOT, timeout: 180_000 });
  return stdout + stderr;
}

function pidOf(name: string): number {
  return Number(readFileSync(join(runDir, "pids", `${name}.pid`), "utf8").trim());
}

/** Retries a call that failed because the instance it reached died (UNAVAILABLE / reset). */
let retries = 0;
async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as ServiceError).code;
      const transient = code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.CANCELLED || code === GrpcStatus.INTERNAL;
      if (!transient || attempt >= 8) throw new Error(`${what}: ${(err as Error).message}`);
      retries++;
      await sleep(250 * attempt);
    }
  }
}

interface Submitted {
  jobId: string;
  key: string;
  file: string;
  threshold: number;
}
const clouds: { id: string; file: string }[] = [];
const submitted: Submitted[] = [];

// 700 points at a threshold near 0.4: about 0.1 s of engine time a job (Ripser: about 0.6 s), so
// the 18 jobs submitted before the kills keep the engines busy for a second or more of wall time
async function addCloud(seed: number): Promise<void> {
  const n = 700;
  const file = join(runDir, `cloud-${seed}.csv`);
  writeFileSync(file, randomCsv(n, 3, seed));
  const id = await retrying(`upload ${seed}`, () => uploadCloud(gw, n, 3, seed));
  clouds.push({ id, file });
}

async function submit(i: number): Promise<void> {
  const cloud = clouds[i % clouds.length]!;
  const threshold = 0.4 + i * 1e-3; // distinct: no result-cache hits
  const key = `rehearsal-${i}`;
  const req = { datasetId: cloud.id, maxDim: 2, threshold, modulus: 0, priority: 0, idempotencyKey: key, deadlineSeconds: 0, threads: 1 };
  const res = await retrying(`submit ${i}`, () => api(gw).computeVietorisRips(req));
  submitted.push({ jobId: res.job!.jobId, key, file: cloud.file, threshold });
}

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), "tda-scale-"));
  redis = await startPrivateRedis();
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  env = {
    ...process.env,
    TDA_RUN_DIR: runDir,
    REDIS_URL: redis.url,
    KAFKA_BROKERS,
    TDA_ENGINES: String(ENGINES),
    TDA_UPLOADS: "2",
    TDA_SCHEDULERS: "2",
    TDA_GATEWAYS: "2",
    TDA_ENGINE_PORT: String(ports.engine),
    UPLOAD_PORT: String(ports.upload),
    SCHEDULER_PORT: String(ports.scheduler),
    GATEWAY_PORT: String(ports.gateway),
    ENGINE_ADDRESSES: "",
    UPLOAD_ADDRESS: "",
    SCHEDULER_ADDRESS: "",
    GATEWAY_ADDRESS: "",
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
    TDA_ENGINE_METRICS_PORT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    // a killed scheduler's jobs are taken over once their lock expires
    SCHEDULER_LOCK_DURATION_MS: "4000",
    SCHEDULER_STALLED_INTERVAL_MS: "2000",
    SCHEDULER_BACKOFF_MS: "300",
    SCHEDULER_ATTEMPTS: "5",
    SCHEDULER_ENGINE_PROBE_MS: "500",
    SCHEDULER_CONCURRENCY: "3",
    LOG_LEVEL: "info",
  };
  for (const k of ["ENGINE_ADDRESSES", "UPLOAD_ADDRESS", "SCHEDULER_ADDRESS", "GATEWAY_ADDRESS"]) delete env[k];
  const out = await startScript(["--no-infra", "engine", "upload", "scheduler", "gateway"]);
  for (const name of ["engine", "engine-2", "engine-3", "upload", "upload-2", "scheduler", "scheduler-2", "gateway", "gateway-2"]) {
    expect(out).toContain(`${name}: started`);
  }
  // one channel over both gateways, round robin (as a load balancer in front of them would)
  gw = new pbGateway.TdaServiceClient(`ipv4:127.0.0.1:${ports.gateway},127.0.0.2:${ports.gateway}`, insecure(), {
    ...channelOptions,
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
});

afterAll(async () => {
  gw?.close();
  if (runDir) await run("bash", [join(ROOT, "deploy/local/stop.sh"), "--keep-infra"], { env, cwd: ROOT, timeout: 120_000 }).catch(() => undefined);
  await redis?.stop();
  if (runDir && !process.env.KEEP_TEST_LOGS) rmSync(runDir, { recursive: true, force: true });
});

test("3 engines, 2 uploads, 2 schedulers, 2 gateways from deploy/local: one of each killed mid-run, nothing lost", async () => {
  for (let s = 1; s <= 3; s++) await addCloud(s / 10);
  const before = 18;
  for (let i = 0; i < before; i++) await submit(i);

  // as soon as the first job is done (jobs are being computed), kill the second instance of every
  // component; the first job is polled often so the kills land while the others still run
  await waitFor("the first job to finish", async () => (isTerminalState((await getJob(gw, submitted[0]!.jobId)).state) ? true : undefined), 180_000, 25);
  const victims = ["engine-2", "scheduler-2", "gateway-2", "upload-2"];
  for (const v of victims) process.kill(pidOf(v), "SIGKILL");
  // mid-run: jobs were still queued or running when the instances died
  const atKill = await Promise.all(submitted.map((s) => retrying("get", () => api(gw).getJob({ jobId: s.jobId }))));
  const unfinished = atKill.filter((r) => r.job!.state !== pbJobs.JobState.JOB_STATE_COMPLETED).length;
  expect(unfinished).toBeGreaterThan(0);

  // the survivors take uploads and jobs
  await addCloud(0.4);
  for (let i = before; i < before + 8; i++) await submit(i);

  const done = await waitTerminal(
    gw,
    submitted.map((s) => s.jobId),
    300_000,
  );
  expect(done.map((j) => JobState[j.state])).toEqual(submitted.map(() => "JOB_STATE_COMPLETED"));

  // exactly once: one job per idempotency key, no extra job in the store
  expect(new Set(submitted.map((s) => s.jobId)).size).toBe(submitted.length);
  const listed = await retrying("list", () => api(gw).listJobs({ pageSize: 1000, pageToken: "", state: pbJobs.JobState.JOB_STATE_UNSPECIFIED }));
  expect(listed.jobs.length).toBe(submitted.length);

  // every result is Ripser's barcode of the same cloud and threshold
  for (const s of submitted) {
    const res = await retrying("result", () => api(gw).getResult({ jobId: s.jobId }));
    const ours = barcodeOf(res.result!.diagrams);
    const ref = runRipser(["--format", "point-cloud", "--dim", "2", "--threshold", String(s.threshold), s.file]);
    for (const d of [0, 1, 2]) expect({ job: s.key, dim: d, bars: ours.get(d) ?? [] }).toEqual({ job: s.key, dim: d, bars: ref.get(d) ?? [] });
  }

  // the work was spread over the engines, and jobs after the kills avoided the dead one
  const engines = new Set(done.map((j) => j.engine));
  expect(engines.size).toBeGreaterThanOrEqual(2);
  const dead = `127.0.0.2:${ports.engine}`;
  for (const j of done.slice(before)) expect(j.engine).not.toBe(dead);
  console.log(
    `scale rehearsal: ${unfinished} of ${before} jobs unfinished at the kills; ${submitted.length} jobs over engines ${[...engines].sort().join(" ")}; ${retries} client retries after the kills`,
  );
});
