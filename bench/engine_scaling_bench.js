#!/usr/bin/env node
// CPU-heavy jobs per second with 1, 2 and 3 engines, end to end through the gateway, each
// layout started by deploy/local/start.sh (TDA_ENGINES=k; upload, scheduler, gateway once) on
// free ports with a redis-server of its own and the Kafka of deploy/local. The anchor is the
// 1-engine layout of the same run: each line prints its ratio to it.
//
// Usage (after the build; infra from deploy/local/start-infra.sh):
//   node bench/engine_scaling_bench.js [JOBS=12] [POINTS=300] [LAYOUTS=1,2,3]
//
// A job: POINTS random points in [0,1]^3, Vietoris-Rips up to H2, threshold 0.6 (+ a distinct
// epsilon per job so the result cache never answers), 1 thread. Each engine runs one job at a
// time with one thread (TDA_ENGINE_MAX_CONCURRENT=1, TDA_ENGINE_THREADS=1), so k engines can use
// k cores; the scheduler runs up to 8 jobs at once and JOBS are submitted together.
// Printed per layout: jobs/s, ratio to 1 engine, the engines' CPU seconds per job and their
// share of the machine's cores during the run, and the load average (a shared machine's other
// work shows there). Expect the ratio to follow the engine count until the cores run out.
"use strict";
const { execFileSync } = require("node:child_process");
const { mkdtempSync, readFileSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const { freePort, startRedis, cpuSeconds } = require("./proc-util");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const { pbGateway, pbUpload, pbJobs } = common;
const grpc = require("@grpc/grpc-js");

const JOBS = Number(process.argv[2] ?? 12);
const POINTS = Number(process.argv[3] ?? 300);
const LAYOUTS = (process.argv[4] ?? "1,2,3").split(",").map(Number);
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const { JobState } = pbJobs;
const TERMINAL = new Set([JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

function csv(n, dim, seed) {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: dim }, () => next().toFixed(6)).join(","));
  return Buffer.from(rows.join("\n") + "\n");
}

const call = (client, method, req) => new Promise((res, rej) => client[method](req, new grpc.Metadata(), (err, out) => (err ? rej(err) : res(out))));

function upload(client, data) {
  return new Promise((res, rej) => {
    const stream = client.uploadData(new grpc.Metadata(), (err, out) => (err ? rej(err) : res(out)));
    stream.write({
      msg: {
        $case: "header",
        value: {
          name: "bench.csv",
          format: pbUpload.DataFormat.DATA_FORMAT_CSV,
          dim: 3,
          contentType: "",
          uploadId: "",
          resumeOffset: 0,
          totalBytes: data.length,
        },
      },
    });
    stream.write({ msg: { $case: "chunk", value: data } });
    stream.end();
  });
}

async function waitAll(client, ids) {
  const done = new Map();
  while (done.size < ids.length) {
    for (const id of ids.filter((i) => !done.has(i))) {
      const { job } = await call(client, "getJob", { jobId: id });
      if (TERMINAL.has(job.state)) done.set(id, job);
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 100));
  }
  return [...done.values()];
}

async function layout(engines, redisUrl, base) {
  const runDir = mkdtempSync(path.join(os.tmpdir(), `tda-scale-bench-${engines}-`));
  const [ep, up, sp, gp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    TDA_RUN_DIR: runDir,
    REDIS_URL: redisUrl,
    KAFKA_BROKERS,
    LOG_LEVEL: "warn",
    TDA_ENGINES: String(engines),
    TDA_ENGINE_PORT: String(ep),
    UPLOAD_PORT: String(up),
    SCHEDULER_PORT: String(sp),
    GATEWAY_PORT: String(gp),
    TDA_ENGINE_MAX_CONCURRENT: "1",
    TDA_ENGINE_THREADS: "1",
    SCHEDULER_CONCURRENCY: "8",
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
    TDA_ENGINE_METRICS_PORT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
  };
  for (const k of ["ENGINE_ADDRESSES", "UPLOAD_ADDRESS", "SCHEDULER_ADDRESS", "GATEWAY_ADDRESS"]) delete env[k];
  const script = (name, args) =>
    execFileSync("bash", [path.join(ROOT, "deploy/local", name), ...args], { env, cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  script("start.sh", ["--no-infra", "engine", "upload", "scheduler", "gateway"]);
  const client = new pbGateway.TdaServiceClient(`127.0.0.1:${gp}`, grpc.credentials.createInsecure());
  try {
    const pids = ["engine", ...Array.from({ length: engines - 1 }, (_, i) => `engine-${i + 2}`)].map((n) =>
      Number(readFileSync(path.join(runDir, "pids", `${n}.pid`), "utf8")),
    );
    const { dataset } = await upload(client, csv(POINTS, 3, 7));
    const submit = async (i) =>
      (
        await call(client, "computeVietorisRips", {
          datasetId: dataset.datasetId,
          maxDim: 2,
          threshold: 0.6 + (base + i) * 1e-6,
          modulus: 0,
          priority: 0,
          idempotencyKey: "",
          deadlineSeconds: 0,
          threads: 1,
        })
      ).job.jobId;
    // warm-up: one job per engine (connections, page cache)
    await waitAll(client, await Promise.all(Array.from({ length: engines }, (_, i) => submit(JOBS + i))));
    const cpu0 = pids.map(cpuSeconds);
    const load0 = os.loadavg()[0];
    const t0 = performance.now();
    const ids = await Promise.all(Array.from({ length: JOBS }, (_, i) => submit(i)));
    const jobs = await waitAll(client, ids);
    const secs = (performance.now() - t0) / 1000;
    const cpu = pids.map(cpuSeconds).reduce((a, c, i) => a + (c - cpu0[i]), 0);
    const failed = jobs.filter((j) => j.state !== JobState.JOB_STATE_COMPLETED).length;
    if (failed) throw new Error(`${failed} of ${JOBS} jobs did not complete`);
    const used = new Set(jobs.map((j) => j.engine)).size;
    return { engines, secs, rate: JOBS / secs, cpuPerJob: cpu / JOBS, coreShare: cpu / secs, used, load: Math.max(load0, os.loadavg()[0]) };
  } finally {
    client.close();
    script("stop.sh", ["--keep-infra"]);
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-scale-bench-"));
  const redis = await startRedis(work, work);
  console.log(`engine scaling: ${JOBS} jobs of ${POINTS} points in R^3, Rips to H2 at 0.6, 1 thread each; ${os.cpus().length} cores`);
  const rows = [];
  try {
    for (const k of LAYOUTS) {
      const r = await layout(k, redis.url, k * 1000);
      rows.push(r);
      const anchor = rows[0];
      console.log(
        `engines=${k}: ${fmt(r.rate)} jobs/s (${fmt(r.rate / anchor.rate)}x the ${anchor.engines}-engine anchor), ${fmt(r.secs, 1)} s, ` +
          `${fmt(r.cpuPerJob)} engine CPU s/job, engines busy ${fmt(r.coreShare)} cores, ${r.used} engines used, load avg ${fmt(r.load, 1)}`,
      );
    }
    const cores = os.cpus().length;
    let stop = rows.at(-1).engines;
    for (let i = 1; i < rows.length; i++) {
      if (rows[i].rate < rows[i - 1].rate * 1.1) {
        stop = rows[i - 1].engines;
        break;
      }
    }
    const cpuPerJob = rows.reduce((a, r) => a + r.cpuPerJob, 0) / rows.length;
    const share = Math.max(...rows.map((r) => r.coreShare));
    console.log(
      `core-bound ceiling: ${cores} cores / ${fmt(cpuPerJob)} CPU s per job = ${fmt(cores / cpuPerJob)} jobs/s, reached with ${cores} engines of 1 thread; ` +
        `one more engine only shares the same cores`,
    );
    if (stop === rows.at(-1).engines && share < cores * 0.8) {
      console.log(
        `scaling did not stop within ${rows.map((r) => r.engines).join(",")} engines here: the engines got at most ${fmt(share)} of the ${cores} cores ` +
          `(load avg ${fmt(Math.max(...rows.map((r) => r.load)), 1)}: other work on the machine), so each added engine process won a further share of them`,
      );
    } else {
      console.log(`scaling stops at ${stop} engine(s) here (engines busy up to ${fmt(share)} of ${cores} cores)`);
    }
  } finally {
    redis.child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
