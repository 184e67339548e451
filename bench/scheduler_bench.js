#!/usr/bin/env node
// Job-system throughput and latency, end to end through the gateway, against a
// real mesh started here (engine, upload, scheduler, gateway as processes on
// free ports; a redis-server of its own, or with BENCH_REDIS_DB=n logical db n of
// the Redis at REDIS_URL (flushed); Kafka at KAFKA_BROKERS with the tda_* topics).
//
// Usage (after `npm run gen && npx tsc -b`, infra from deploy/local/start-infra.sh):
//   node bench/scheduler_bench.js [JOBS=2000] [RATE=200] [RATE_SECONDS=10] [EVENTS=50000]
//
// Phases (a tiny job = 50 random points in R^3, Rips up to H1):
//  1. throughput: JOBS jobs, CONCURRENCY (env, default 16) submitted+watched at once (closed loop);
//     jobs/s and latency (submit sent -> WatchJob delivered the terminal update).
//     Distinct thresholds (all above the diameter: same work) so the result cache does not answer.
//  2. the same with the cache answering (identical parameters after a first run).
//  3. fixed offered load: RATE jobs/s for RATE_SECONDS (open loop), p50/p99 latency, and
//     p50/p99 of the stages (from the updates' timestamps): send -> submitted, -> started,
//     -> completed, -> delivered to the client.
//  4. event bus: EVENTS events published through @tda/common's event bus (Redis outbox ->
//     Kafka relay), events/s until all are in Kafka; plus the events/s the scheduler produced
//     during phase 1 (tda_jobs + tda_results offsets).
// Env: CONCURRENCY (16), CLIENTS (gateway connections, 8), SCHEDULER_CONCURRENCY (32), ENGINE_MAX_CONCURRENT (4), KEEP_BENCH_LOGS=1,
// SCHEDULER_SPLIT=1 (the scheduler's API and its queue worker as two processes),
// BENCH_CPU_PROF=<dir> (V8 CPU profiles of the TS services; summarise with bench/scheduler_cpuprofile_top.js),
// BENCH_NODE_ARGS (more node flags for the TS services, e.g. --trace-gc; their output is in the kept logs).
"use strict";
const { mkdtempSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");

const ROOT = path.resolve(__dirname, "..");
const { freePort, start, startRedis, cpuSeconds, kafkaPid: brokerPid, pct, closedLoop, openLoop } = require("./proc-util");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const { pbGateway, pbUpload, pbJobs } = common;
const IORedis = require("ioredis");
const { Kafka, logLevel } = require("kafkajs");

const [JOBS, RATE, RATE_SECONDS, EVENTS] = [2000, 200, 10, 50000].map((d, i) => Number(process.argv[2 + i] ?? d));
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const SPLIT = process.env.SCHEDULER_SPLIT === "1";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const DB = Number(process.env.BENCH_REDIS_DB ?? 12);
const { JobState } = pbJobs;
const TERMINAL = new Set([JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

function csv(n, dim) {
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: dim }, () => Math.random().toFixed(6)).join(","));
  return Buffer.from(rows.join("\n") + "\n");
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-sched-bench-"));
  const logDir = work;
  const procs = [];
  let redisUrl;
  if (process.env.BENCH_REDIS_DB) {
    const u = new URL(REDIS_URL);
    u.pathname = `/${DB}`;
    redisUrl = u.toString();
  } else {
    // a redis-server of its own (like the shared one: no persistence needed here)
    const redisProc = await startRedis(work, logDir);
    procs.push(redisProc);
    redisUrl = redisProc.url;
  }
  const r = new IORedis(redisUrl);
  await r.flushdb();
  const [ep, up, sp, gp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    REDIS_URL: redisUrl,
    KAFKA_BROKERS,
    TDA_DATA_DIR: path.join(work, "data"),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
  };
  const node = process.execPath;
  // BENCH_CPU_PROF=<dir>: V8 CPU profiles of upload, scheduler and gateway (written when they exit)
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  // BENCH_NODE_ARGS (e.g. "--trace-gc") also go to the TS services
  prof.push(...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean));
  procs.push(
    start(
      "engine",
      path.join(ROOT, "engine-cpp/build/tda-engine"),
      ["serve", "--port", String(ep), "--threads", "1", "--max-concurrent", process.env.ENGINE_MAX_CONCURRENT ?? "4", "--queue-depth", "256"],
      {},
      logDir,
    ),
  );
  procs.push(start("upload", node, [...prof, path.join(ROOT, "services/upload/dist/main.js")], { ...env, UPLOAD_PORT: String(up) }, logDir));
  const schedEnv = {
    ...env,
    UPLOAD_ADDRESS: `127.0.0.1:${up}`,
    ENGINE_ADDRESSES: `127.0.0.1:${ep}`,
    SCHEDULER_CONCURRENCY: process.env.SCHEDULER_CONCURRENCY ?? "32",
  };
  // SCHEDULER_SPLIT=1: the API (SubmitJob, WatchJob...) and the queue worker in two scheduler processes
  procs.push(
    start(
      "scheduler",
      node,
      [...prof, path.join(ROOT, "services/scheduler/dist/main.js")],
      { ...schedEnv, SCHEDULER_PORT: String(sp), ...(SPLIT ? { SCHEDULER_WORKER: "false" } : {}) },
      logDir,
    ),
  );
  const wp = SPLIT ? await freePort() : 0;
  if (SPLIT)
    procs.push(start("worker", node, [...prof, path.join(ROOT, "services/scheduler/dist/main.js")], { ...schedEnv, SCHEDULER_PORT: String(wp) }, logDir));
  procs.push(
    start(
      "gateway",
      node,
      [...prof, path.join(ROOT, "gateway/dist/main.js")],
      { ...env, GATEWAY_PORT: String(gp), UPLOAD_ADDRESS: `127.0.0.1:${up}`, SCHEDULER_ADDRESS: `127.0.0.1:${sp}`, GATEWAY_AUTH_DISABLED: "true" },
      logDir,
    ),
  );
  const stopAll = async () => {
    for (const p of procs.reverse()) {
      if (p.child.exitCode === null) {
        p.child.kill("SIGTERM");
        await new Promise((res) => {
          const t = setTimeout(() => (p.child.kill("SIGKILL"), res()), 8000);
          p.child.once("exit", () => (clearTimeout(t), res()));
        });
      }
    }
    r.disconnect();
    if (!process.env.KEEP_BENCH_LOGS) rmSync(work, { recursive: true, force: true });
    else console.log(`logs: ${work}`);
  };
  try {
    for (const a of [ep, up, sp, gp, ...(SPLIT ? [wp] : [])]) await common.waitForHealthy(`127.0.0.1:${a}`, "", 60000);
    // several client connections, as independent users would have (round robin per job)
    const gws = Array.from(
      { length: CLIENTS },
      () =>
        new pbGateway.TdaServiceClient(`127.0.0.1:${gp}`, grpc.credentials.createInsecure(), { ...common.channelOptions, "grpc.use_local_subchannel_pool": 1 }),
    );
    const gw = gws[0];
    let rr = 0;
    const md = () => new grpc.Metadata();
    const datasetId = await new Promise((resolve, reject) => {
      const s = gw.uploadData(md(), (err, res) => (err ? reject(err) : resolve(res.dataset.datasetId)));
      const data = csv(50, 3);
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
            totalBytes: data.length,
          },
        },
      });
      s.write({ msg: { $case: "chunk", value: data } });
      s.end();
    });

    let serial = 0;
    let watchEndedEarly = 0;
    // per-stage times (ms, wall clock of this machine) from the updates' timestamps:
    // ingress = send -> job.submitted, queue = submitted -> started, run = started ->
    // completed, delivery = completed -> the client has it
    let stages = null;
    const tsMs = (t) => (t ? Number(t.seconds) * 1000 + t.nanos / 1e6 : NaN);
    /** Submit + watch one job; resolves with { ms, state, cacheHit }. */
    function oneJob(threshold) {
      const gw = gws[rr++ % gws.length];
      const t0 = performance.now();
      const w0 = Date.now();
      const seen = {};
      return new Promise((resolve, reject) => {
        gw.computeVietorisRips(
          { datasetId, maxDim: 1, threshold, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 1 },
          md(),
          (err, res) => {
            if (err) return reject(err);
            const job = res.job;
            if (TERMINAL.has(job.state)) return resolve({ ms: performance.now() - t0, state: job.state, cacheHit: job.cacheHit });
            const w = gw.watchJob({ jobId: job.jobId }, md());
            let last;
            w.on("data", (m) => {
              if (m.update) {
                last = m.update;
                seen[last.eventType] = tsMs(last.time);
              }
              if (last && TERMINAL.has(last.state)) {
                const ms = performance.now() - t0;
                if (stages && seen["job.started"]) {
                  stages.ingress.push(seen["job.submitted"] - w0);
                  stages.queue.push(seen["job.started"] - seen["job.submitted"]);
                  stages.run.push(seen["job.completed"] - seen["job.started"]);
                  stages.delivery.push(Date.now() - seen["job.completed"]);
                }
                // no cancel: the stream ends by itself after the terminal update (a
                // reset per job would exhaust Node's HTTP/2 stream-reset budget)
                resolve({ ms, state: last.state, cacheHit: job.cacheHit });
              }
            });
            w.on("error", (e) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
            // a watch that ends early (e.g. a gateway stream deadline): poll GetJob instead
            w.on("end", () => {
              if (last && TERMINAL.has(last.state)) return;
              watchEndedEarly++;
              const poll = () =>
                gw.getJob({ jobId: job.jobId }, md(), (e, r) => {
                  if (e) return reject(e);
                  if (TERMINAL.has(r.job.state)) resolve({ ms: performance.now() - t0, state: r.job.state, cacheHit: job.cacheHit });
                  else setTimeout(poll, 20);
                });
              poll();
            });
          },
        );
      });
    }
    const distinct = () => 10 + ++serial * 1e-7;

    /** One job's outcome into `lat` (ms) and `states` (count per end state or rpc error). */
    const tally = (lat, states) => ({
      ok: (res) => {
        lat.push(res.ms);
        states.set(res.state, (states.get(res.state) ?? 0) + 1);
      },
      err: (err) => {
        const k = `rpc error ${err.code}`;
        states.set(k, (states.get(k) ?? 0) + 1);
      },
    });

    async function runClosed(n, conc, thresholdOf) {
      const lat = [];
      const states = new Map();
      const t = tally(lat, states);
      const secs = await closedLoop(n, conc, () => oneJob(thresholdOf()).then(t.ok, t.err));
      lat.sort((a, b) => a - b);
      return { n, secs, rate: n / secs, p50: pct(lat, 50), p99: pct(lat, 99), states };
    }

    async function runOpen(rate, seconds, thresholdOf) {
      const lat = [];
      const states = new Map();
      const t = tally(lat, states);
      const { total, sendSecs } = await openLoop(rate, seconds, () => oneJob(thresholdOf()).then(t.ok, t.err));
      lat.sort((a, b) => a - b);
      return { total, offered: total / sendSecs, p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), max: lat.at(-1), states };
    }

    const kafka = new Kafka({ clientId: "sched-bench", brokers: KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const prefix = process.env.KAFKA_TOPIC_PREFIX ?? "";
    const offsetsOf = async (topics) => {
      let sum = 0;
      for (const t of topics) for (const p of await admin.fetchTopicOffsets(prefix + t)) sum += Number(p.high);
      return sum;
    };
    const stateNames = (m) => [...m].map(([s, c]) => `${JobState[s] ?? s}=${c}`).join(" ");
    // the Kafka broker of deploy/local (its pid file), when it runs on this machine
    const kafkaPid = brokerPid();
    const cpu = () => [
      ...procs.map((p) => [p.name, cpuSeconds(p.child.pid)]),
      ["client", cpuSeconds(process.pid)],
      ...(kafkaPid && Number.isFinite(cpuSeconds(kafkaPid)) ? [["kafka", cpuSeconds(kafkaPid)]] : []),
    ];
    const cpuDelta = (a, b) => a.map(([n, s], i) => `${n}=${fmt(b[i][1] - s, 1)}s`).join(" ");
    // Redis commands served (INFO commandstats), to see what a job costs the store
    const redisCalls = async () => {
      const m = new Map();
      for (const line of (await r.info("commandstats")).split("\n")) {
        const g = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
        if (g) m.set(g[1], Number(g[2]));
      }
      return m;
    };
    const callsDelta = (a, b, jobs) => {
      const d = [...b]
        .map(([k, v]) => [k, v - (a.get(k) ?? 0)])
        .filter(([, v]) => v > 0)
        .sort((x, y) => y[1] - x[1]);
      const total = d.reduce((s, [, v]) => s + v, 0);
      return `${fmt(total / jobs, 1)} commands/job (${d
        .slice(0, Number(process.env.BENCH_REDIS_TOP ?? 6))
        .map(([k, v]) => `${k} ${fmt(v / jobs, 1)}`)
        .join(", ")})`;
    };

    // warm-up
    await runClosed(Math.min(200, JOBS), 16, distinct);

    console.log(
      `# scheduler bench: ${os.cpus().length} cores, node ${process.version}, concurrency ${CONCURRENCY}, ${CLIENTS} client connections, scheduler SCHEDULER_CONCURRENCY=${process.env.SCHEDULER_CONCURRENCY ?? "32"}${SPLIT ? ", API and worker in two processes" : ""}`,
    );
    // 1. throughput, no cache
    const off0 = await offsetsOf(["tda_jobs", "tda_results"]);
    const outbox = "tda:outbox:scheduler";
    let c0 = cpu();
    let rc0 = await redisCalls();
    const tp = await runClosed(JOBS, CONCURRENCY, distinct);
    let c1 = cpu();
    let rc1 = await redisCalls();
    const tEv0 = performance.now();
    while ((await r.llen(outbox)) > 0) await new Promise((res) => setTimeout(res, 20));
    const drainTail = (performance.now() - tEv0) / 1000;
    const off1 = await offsetsOf(["tda_jobs", "tda_results"]);
    console.log(
      `throughput (no cache): ${tp.n} jobs in ${fmt(tp.secs, 2)} s = ${fmt(tp.rate)} jobs/s; latency p50 ${fmt(tp.p50)} ms p99 ${fmt(tp.p99)} ms; ${stateNames(tp.states)}`,
    );
    console.log(`  cpu: ${cpuDelta(c0, c1)}; redis: ${callsDelta(rc0, rc1, tp.n)}`);
    console.log(
      `  scheduler events to Kafka: ${off1 - off0} (${fmt((off1 - off0) / tp.n, 1)}/job), ${fmt((off1 - off0) / (tp.secs + drainTail), 0)} events/s (outbox drained ${fmt(drainTail, 2)} s after the last job)`,
    );

    // 2. cache hits: same parameters as one finished job
    const fixed = 42.5;
    await oneJob(fixed);
    c0 = cpu();
    rc0 = await redisCalls();
    const ch = await runClosed(JOBS, CONCURRENCY, () => fixed);
    c1 = cpu();
    rc1 = await redisCalls();
    console.log(
      `throughput (cache hits): ${ch.n} jobs in ${fmt(ch.secs, 2)} s = ${fmt(ch.rate)} jobs/s; latency p50 ${fmt(ch.p50)} ms p99 ${fmt(ch.p99)} ms; ${stateNames(ch.states)}`,
    );
    console.log(`  cpu: ${cpuDelta(c0, c1)}; redis: ${callsDelta(rc0, rc1, ch.n)}`);

    // 3. fixed offered load
    c0 = cpu();
    stages = { ingress: [], queue: [], run: [], delivery: [] };
    const ol = await runOpen(RATE, RATE_SECONDS, distinct);
    const st = stages;
    stages = null;
    c1 = cpu();
    console.log(
      `offered load ${RATE} jobs/s for ${RATE_SECONDS} s (no cache; achieved offer ${fmt(ol.offered)} jobs/s): ${ol.total} jobs, latency p50 ${fmt(ol.p50)} ms p90 ${fmt(ol.p90)} ms p99 ${fmt(ol.p99)} ms max ${fmt(ol.max)} ms; ${stateNames(ol.states)}`,
    );
    console.log(`  cpu: ${cpuDelta(c0, c1)}`);
    console.log(
      `  stages p50/p99 ms: ${Object.entries(st)
        .map(([k, v]) => (v.sort((a, b) => a - b), `${k} ${fmt(pct(v, 50), 0)}/${fmt(pct(v, 99), 0)}`))
        .join(", ")}`,
    );

    // 4. event bus capacity (outbox + relay of @tda/common), in this process
    const log = common.createLogger("bench", "warn");
    const busRedis = new IORedis(redisUrl);
    const bus = common.createEventBus({ source: `bench-${process.pid}`, brokers: KAFKA_BROKERS.split(","), topicPrefix: prefix, redis: busRedis, log });
    const e0 = await offsetsOf(["tda_events"]);
    const tb = performance.now();
    const data = {
      $case: "job",
      value: common.pbEvents.JobEventData.fromPartial({ jobId: "job_bench", datasetId: "ds_bench", owner: "bench", state: "queued", attempt: 1, sequence: 1 }),
    };
    const inflight = [];
    for (let i = 0; i < EVENTS; i++) {
      inflight.push(bus.publish({ topic: "tda_events", key: `job_bench_${i % 1000}`, eventType: "bench.event", data }));
      if (inflight.length >= 1000) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    const tPub = (performance.now() - tb) / 1000;
    const drained = await bus.flush(120000);
    const tAll = (performance.now() - tb) / 1000;
    const e1 = await offsetsOf(["tda_events"]);
    await bus.close();
    busRedis.disconnect();
    console.log(
      `event bus: ${EVENTS} events durable in the outbox in ${fmt(tPub, 2)} s (${fmt(EVENTS / tPub, 0)}/s), all in Kafka after ${fmt(tAll, 2)} s = ${fmt(EVENTS / tAll, 0)} events/s${drained ? "" : " (NOT drained)"}; Kafka offsets +${e1 - e0}`,
    );
    if (watchEndedEarly > 0) console.log(`note: ${watchEndedEarly} WatchJob streams ended before the job finished (completion then seen by polling GetJob)`);
    await admin.disconnect();
    for (const g of gws) g.close();
  } finally {
    await stopAll();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
