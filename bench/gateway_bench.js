#!/usr/bin/env node
// The gateway's overhead: GetJob on a finished job, as fast as possible, three
// ways in the same run against one real mesh started here (engine, upload,
// scheduler, gateway, REST proxy as processes on free ports; Redis at
// REDIS_URL, logical db BENCH_REDIS_DB (default 14, flushed); Kafka at
// KAFKA_BROKERS):
//   1. directly against the scheduler (JobService/GetJob, tenant metadata set by hand),
//   2. through the gateway over gRPC (TdaService/GetJob),
//   3. through the REST proxy and the gateway (GET /api/v1/tda/jobs/{job_id}, fetch, keep-alive).
// Closed loop with CONCURRENCY calls in flight (default 32) for SECONDS each
// (default 5) after a 1 s warm-up; prints calls/s, p50/p99 latency and the
// ratios to the direct call. Everything shares this machine's cores, so the
// numbers are relative, not capacity figures.
//
// Usage (after scripts/build.sh, infra from deploy/local/start-infra.sh):
//   node bench/gateway_bench.js [SECONDS=5]
//   GATEWAY_NODE_ARGS="--heap-growing-percent=100" node bench/gateway_bench.js   (node/V8 flags of the gateway)
"use strict";
const { mkdtempSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");

const ROOT = path.resolve(__dirname, "..");
const { freePort, start } = require("./proc-util");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const { pbGateway, pbJobs, pbUpload } = common;
const IORedis = require("ioredis");

const SECONDS = Number(process.argv[2] ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const DB = Number(process.env.BENCH_REDIS_DB ?? 14);

function stop(p) {
  return new Promise((res) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return res();
    const t = setTimeout(() => p.child.kill("SIGKILL"), 8000);
    p.child.once("exit", () => {
      clearTimeout(t);
      res();
    });
    p.child.kill("SIGTERM");
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

function unaryP(client, method, req, md) {
  return new Promise((resolve, reject) => client[method](req, md, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Closed loop: `concurrency` workers calling fn() until the deadline; latencies in ms. */
async function loop(fn, seconds, concurrency) {
  const lat = [];
  const end = Date.now() + seconds * 1000;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const s = process.hrtime.bigint();
        try {
          await fn();
          lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        } catch (err) {
          errors++;
          if (errors === 1) console.error(`  first error: ${err.message}`);
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { calls: lat.length, errors, rate: lat.length / elapsed, p50: q(0.5), p99: q(0.99) };
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-gateway-bench-"));
  const logDir = path.join(work, "logs");
  require("node:fs").mkdirSync(logDir);
  const url = new URL(REDIS_URL);
  url.pathname = `/${DB}`;
  const r = new IORedis(url.toString());
  await r.flushdb();
  r.disconnect();
  const [ep, up, sp, gp, rp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const env = {
    REDIS_URL: url.toString(),
    KAFKA_BROKERS,
    TDA_DATA_DIR: path.join(work, "data"),
    LOG_LEVEL: "warn",
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
  };
  const [engine, upload, scheduler, gateway] = [ep, up, sp, gp].map((p) => `127.0.0.1:${p}`);
  const procs = [
    start("engine", path.join(ROOT, "engine-cpp/build/tda-engine"), ["serve", "--port", String(ep), "--threads", "1"], {}, logDir),
    start("upload", process.execPath, [path.join(ROOT, "services/upload/dist/main.js")], { ...env, UPLOAD_PORT: String(up) }, logDir),
    start(
      "scheduler",
      process.execPath,
      [path.join(ROOT, "services/scheduler/dist/main.js")],
      { ...env, SCHEDULER_PORT: String(sp), UPLOAD_ADDRESS: upload, ENGINE_ADDRESSES: engine },
      logDir,
    ),
    start(
      "gateway",
      process.execPath,
      [...(process.env.GATEWAY_NODE_ARGS ?? "").split(" ").filter(Boolean), path.join(ROOT, "gateway/dist/main.js")],
      { ...env, GATEWAY_PORT: String(gp), UPLOAD_ADDRESS: upload, SCHEDULER_ADDRESS: scheduler, GATEWAY_AUTH_DISABLED: "true" },
      logDir,
    ),
    start("rest", path.join(ROOT, "build/bin/tda-rest"), [], { REST_PORT: String(rp), GATEWAY_ADDRESS: gateway, REST_LOG_LEVEL: "warn" }, logDir),
  ];
  const rest = `http://127.0.0.1:${rp}`;
  try {
    for (const a of [engine, upload, scheduler, gateway]) await common.waitForHealthy(a, "", 60000);
    await waitHttp(`${rest}/openapi.json`, 30000);

    const gw = new pbGateway.TdaServiceClient(gateway, common.insecure(), common.channelOptions);
    const jobs = new pbJobs.JobServiceClient(scheduler, common.insecure(), common.channelOptions);
    // One finished job to read over and over.
    const csv = Buffer.from(Array.from({ length: 30 }, (_, i) => `${Math.cos(i / 5)},${Math.sin(i / 5)}`).join("\n") + "\n");
    const ds = await new Promise((resolve, reject) => {
      const s = gw.uploadData(new grpc.Metadata(), (err, res) => (err ? reject(err) : resolve(res.dataset)));
      s.write({
        msg: {
          $case: "header",
          value: {
            name: "bench.csv",
            format: pbUpload.DataFormat.DATA_FORMAT_CSV,
            dim: 0,
            contentType: "",
            uploadId: "",
            resumeOffset: 0,
            totalBytes: csv.length,
          },
        },
      });
      s.write({ msg: { $case: "chunk", value: csv } });
      s.end();
    });
    const sub = await unaryP(
      gw,
      "computeVietorisRips",
      { datasetId: ds.datasetId, maxDim: 1, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 },
      new grpc.Metadata(),
    );
    const jobId = sub.job.jobId;
    for (;;) {
      const j = await unaryP(gw, "getJob", { jobId }, new grpc.Metadata());
      if (j.job.state === pbJobs.JobState.JOB_STATE_COMPLETED) break;
      if (j.job.state >= pbJobs.JobState.JOB_STATE_FAILED) throw new Error(`bench job ended in state ${j.job.state}`);
      await new Promise((res) => setTimeout(res, 50));
    }

    const tenantMd = () => {
      const m = new grpc.Metadata();
      m.set("x-tenant-id", "default"); // what the gateway sets with authentication off
      return m;
    };
    const ways = [
      ["scheduler gRPC (direct)", () => unaryP(jobs, "getJob", { jobId }, tenantMd())],
      ["gateway gRPC", () => unaryP(gw, "getJob", { jobId }, new grpc.Metadata())],
      [
        "REST -> gateway",
        async () => {
          const res = await fetch(`${rest}/api/v1/tda/jobs/${jobId}`);
          const body = await res.text();
          if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
        },
      ],
    ];
    console.log(`GetJob on a finished job; ${CONCURRENCY} in flight, ${SECONDS} s each, ${os.cpus().length} cores shared by every process`);
    const results = [];
    for (const [name, fn] of ways) {
      await loop(fn, 1, CONCURRENCY); // warm-up
      const res = await loop(fn, SECONDS, CONCURRENCY);
      results.push([name, res]);
    }
    const base = results[0][1].rate;
    for (const [name, res] of results) {
      console.log(
        `${name.padEnd(24)} ${res.rate.toFixed(0).padStart(7)} calls/s   p50 ${res.p50.toFixed(2)} ms   p99 ${res.p99.toFixed(2)} ms   errors ${res.errors}   throughput vs direct ${(res.rate / base).toFixed(2)}x`,
      );
    }
    gw.close();
    jobs.close();
  } finally {
    for (const p of procs.reverse()) await stop(p);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
