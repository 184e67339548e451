#!/usr/bin/env node
// Live-stream throughput and latency: points published through the gateway at a fixed offered
// rate, windowed by the Flink job (its jar in a MiniCluster, as deploy/local runs it), one
// engine per window, features on tda_stream_features. Starts its own redis-server, engine(s),
// gateway and Flink job on free ports, on topics of its own (prefix), against the Kafka at
// KAFKA_BROKERS.
//
// Usage (after scripts/build.sh; Kafka from deploy/local/start-infra.sh):
//   node bench/stream_bench.js [RATE=50000] [SECONDS=10]
//
// Phases (2-D points, count windows of 256 sliding by 64 — a window every 64 points — H0+H1):
//  1. throughput: RATE points/s offered for SECONDS (batches of BATCH points, open loop, spread
//     over STREAMS streams); points/s accepted by the gateway, windows/s emitted by the job
//     (first to last feature record), and whether all expected windows came.
//  2. latency at half that load: p50/p95 from the gateway's publish of the batch that completed
//     a window (completed_by_published_at) to the feature record reaching a consumer.
//  3. ceiling, in the same run: a plain kafkajs consumer (no Flink, no engine) reading phase
//     1's tda_events records and decoding their points: records/s and points/s.
// Also the TaskManager's heap (the MiniCluster's JVM: Flink's REST metrics), sampled during 1-2.
// Env: BATCH (256), STREAMS (8), ENGINES (1), ENGINE_THREADS (1), FLINK_HEAP (1g),
//      FLINK_PARALLELISM (1), CAPACITY (Async I/O, 64), KEEP_BENCH_LOGS=1.
"use strict";
const { mkdtempSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const ROOT = path.resolve(__dirname, "..");
const { freePort, start, startRedis, pct, openLoop } = require("./proc-util");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const { pbGateway, pbEvents, insecure, channelOptions, createKafka, createLogger, ensureTopicsFromFile } = common;

const [RATE, SECONDS] = [50000, 10].map((d, i) => Number(process.argv[2 + i] ?? d));
const BATCH = Number(process.env.BATCH ?? 256);
const STREAMS = Number(process.env.STREAMS ?? 8);
const WINDOW = 256;
const SLIDE = 64;
const BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const PREFIX = `bench${Date.now().toString(36)}_`;
const log = createLogger("stream-bench", "warn");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function call(client, method, req) {
  return new Promise((res, rej) => client[method](req, (err, out) => (err ? rej(err) : res(out))));
}

async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${ms} ms`);
}

/** A batch of n 2-D points on a noisy circle (random phase). */
function batch(n) {
  const b = Buffer.alloc(n * 16);
  for (let i = 0; i < n; i++) {
    const a = Math.random() * 2 * Math.PI;
    b.writeDoubleLE(Math.cos(a) + 0.05 * (Math.random() - 0.5), 16 * i);
    b.writeDoubleLE(Math.sin(a) + 0.05 * (Math.random() - 0.5), 16 * i + 8);
  }
  return b;
}

async function startAll(logDir) {
  const procs = [];
  const redis = await startRedis(mkdtempSync(path.join(os.tmpdir(), "sb-redis-")), logDir);
  procs.push(redis);
  const engines = [];
  for (let i = 0; i < Number(process.env.ENGINES ?? 1); i++) {
    const ep = await freePort();
    procs.push(start(`engine${i}`, path.join(ROOT, "engine-cpp/build/tda-engine"), ["serve", "--port", String(ep), "--threads", process.env.ENGINE_THREADS ?? "1", "--max-concurrent", "4", "--queue-depth", "256"], {}, logDir));
    engines.push(`127.0.0.1:${ep}`);
  }
  const [gp, rp] = [await freePort(), await freePort()];
  const env = { REDIS_URL: redis.url, KAFKA_BROKERS: BROKERS, KAFKA_TOPIC_PREFIX: PREFIX, LOG_LEVEL: "warn" };
  procs.push(start("gateway", process.execPath, [path.join(ROOT, "gateway/dist/main.js")], { ...env, GATEWAY_PORT: String(gp), GATEWAY_METRICS_PORT: "0", UPLOAD_ADDRESS: "127.0.0.1:1", SCHEDULER_ADDRESS: "127.0.0.1:1", FLINK_REST_URL: `http://127.0.0.1:${rp}`, GATEWAY_STREAM_MAX_BYTES: "64M" }, logDir));
  const flink = start("flink", "java", [`-Xmx${process.env.FLINK_HEAP ?? "1g"}`, "-XX:+UseG1GC", "-cp", `${ROOT}/flink/target/tda-flink-job.jar:${ROOT}/flink/target/lib/*`, "io.tdamesh.flink.StreamFeaturesJob"], {
    ...env, FLINK_LOCAL: "true", FLINK_REST_PORT: String(rp), FLINK_CHECKPOINT_DIR: path.join(logDir, "checkpoints"), ENGINE_ADDRESSES: engines.join(","),
    FLINK_PARALLELISM: process.env.FLINK_PARALLELISM ?? "1", STREAM_ENGINE_CAPACITY: process.env.CAPACITY ?? "64", FLINK_CHECKPOINT_INTERVAL_MS: "1000",
  }, logDir);
  procs.push(flink);
  await waitFor("flink REST", async () => (await fetch(`http://127.0.0.1:${rp}/jobs/overview`)).ok, 120_000);
  return { procs, gateway: `127.0.0.1:${gp}`, rest: `http://127.0.0.1:${rp}` };
}

/** Samples the TaskManager heap (bytes used) every second; returns a stop() giving the maximum. */
function heapSampler(rest) {
  let max = 0;
  let heapMax = 0;
  const timer = setInterval(async () => {
    try {
      const tms = await (await fetch(`${rest}/taskmanagers`)).json();
      for (const tm of tms.taskmanagers ?? []) {
        const m = await (await fetch(`${rest}/taskmanagers/${tm.id}/metrics?get=Status.JVM.Memory.Heap.Used,Status.JVM.Memory.Heap.Max`)).json();
        for (const x of m) {
          if (x.id === "Status.JVM.Memory.Heap.Used") max = Math.max(max, Number(x.value));
          if (x.id === "Status.JVM.Memory.Heap.Max") heapMax = Number(x.value);
        }
      }
    } catch {
      /* the next sample */
    }
  }, 1000);
  return () => {
    clearInterval(timer);
    return { max, heapMax };
  };
}

/** Follows tda_stream_features (read committed): per stream, arrival times and latencies. */
async function follow(kafka) {
  const seen = new Map(); // stream -> [{arrival, latencyMs}]
  const consumer = kafka.consumer({ groupId: `${PREFIX}bench`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: `${PREFIX}tda_stream_features`, fromBeginning: true });
  void consumer.run({
    eachMessage: async ({ message }) => {
      const now = Date.now();
      const env = pbEvents.EventEnvelope.decode(message.value);
      if (env.data?.$case !== "streamFeatures") return;
      const f = env.data.value;
      const pub = f.completedByPublishedAt ? f.completedByPublishedAt.seconds * 1000 + f.completedByPublishedAt.nanos / 1e6 : NaN;
      const list = seen.get(f.streamId) ?? [];
      list.push({ arrival: now, latencyMs: now - pub });
      seen.set(f.streamId, list);
    },
  });
  return { seen, close: () => consumer.disconnect() };
}

async function publishPhase(client, tag, rate, seconds) {
  const streams = Array.from({ length: STREAMS }, (_, i) => `${tag}-${i}`);
  for (const s of streams) {
    await call(client, "configureStream", { streamId: s, config: { window: { $case: "count", value: { size: WINDOW, slide: SLIDE } }, maxDim: 1, noiseLevel: 0 } });
  }
  const perStream = new Map(streams.map((s) => [s, 0]));
  let accepted = 0;
  let failed = 0;
  let next = 0;
  const payload = batch(BATCH);
  const t0 = performance.now();
  const { total, sendSecs } = await openLoop(rate / BATCH, seconds, async () => {
    const s = streams[next++ % streams.length];
    try {
      await call(client, "publishStream", { streamId: s, dim: 2, points: payload, values: [] });
      accepted += BATCH;
      perStream.set(s, perStream.get(s) + BATCH);
    } catch {
      failed++;
    }
  });
  const secs = (performance.now() - t0) / 1000;
  let expected = 0;
  for (const n of perStream.values()) expected += n >= WINDOW ? Math.floor((n - WINDOW) / SLIDE) + 1 : 0;
  return { streams, accepted, failed, batches: total, sendSecs, secs, expected };
}

async function waitWindows(seen, streams, expected, ms) {
  const end = Date.now() + ms;
  const count = () => streams.reduce((a, s) => a + (seen.get(s)?.length ?? 0), 0);
  while (Date.now() < end && count() < expected) await sleep(200);
  const all = streams.flatMap((s) => seen.get(s) ?? []);
  return { got: count(), all };
}

async function ceiling(kafka) {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(`${PREFIX}tda_events`);
  await admin.disconnect();
  const target = ends.reduce((a, p) => a + Number(p.high), 0);
  const consumer = kafka.consumer({ groupId: `${PREFIX}ceiling`, readUncommitted: false, maxBytes: 64 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic: `${PREFIX}tda_events`, fromBeginning: true });
  let records = 0;
  let points = 0;
  let t0 = 0;
  const secs = await new Promise((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch: b }) => {
        if (t0 === 0) t0 = performance.now();
        for (const m of b.messages) {
          const env = pbEvents.EventEnvelope.decode(m.value);
          if (env.data?.$case === "streamPoints") {
            const p = env.data.value.points;
            let sum = 0; // touch every value, as a windowing consumer would
            for (let i = 0; i + 8 <= p.length; i += 8) sum += p.readDoubleLE(i);
            if (Number.isNaN(sum)) records--;
            points += p.length / 16;
          }
          records++;
        }
        if (records >= target) resolve((performance.now() - t0) / 1000);
      },
    });
  });
  await consumer.disconnect();
  return { records, points, secs };
}

async function main() {
  const logDir = mkdtempSync(path.join(os.tmpdir(), "stream-bench-"));
  const kafka = createKafka("stream-bench", BROKERS.split(","), log);
  await ensureTopicsFromFile(kafka, path.join(ROOT, "deploy/kafka/topics.dev.json"), PREFIX);
  const { procs, gateway, rest } = await startAll(logDir);
  const client = new pbGateway.TdaServiceClient(gateway, insecure(), channelOptions);
  const out = await follow(kafka);
  const heap = heapSampler(rest);
  try {
    console.log(`stream bench: ${RATE} points/s offered for ${SECONDS} s, batches of ${BATCH} 2-D points over ${STREAMS} streams, windows ${WINDOW}/${SLIDE}, H0+H1, ${procs.length - 3} engine(s), machine ${os.cpus().length} cores`);
    const p1 = await publishPhase(client, "t", RATE, SECONDS);
    const w1 = await waitWindows(out.seen, p1.streams, p1.expected, 120_000);
    const arr = w1.all.map((x) => x.arrival).sort((a, b) => a - b);
    const span = arr.length > 1 ? (arr[arr.length - 1] - arr[0]) / 1000 : NaN;
    console.log(`1. ingest: ${(p1.accepted / p1.secs).toFixed(0)} points/s accepted by the gateway (${p1.batches} calls, ${p1.failed} failed, offered over ${p1.sendSecs.toFixed(1)} s)`);
    console.log(`   windows: ${w1.got}/${p1.expected} emitted, ${(w1.got / span).toFixed(1)} windows/s (first to last record), ${((w1.got * SLIDE) / span).toFixed(0)} points/s windowed`);
    const half = RATE / 2;
    const p2 = await publishPhase(client, "h", half, SECONDS);
    const w2 = await waitWindows(out.seen, p2.streams, p2.expected, 120_000);
    const lat = w2.all.map((x) => x.latencyMs).filter(Number.isFinite).sort((a, b) => a - b);
    console.log(`2. latency at ${half} points/s: publish -> feature record p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms (${w2.got}/${p2.expected} windows)`);
    const hp = heap();
    const c = await ceiling(kafka);
    console.log(`3. ceiling: a plain kafkajs consumer reads tda_events at ${(c.records / c.secs).toFixed(0)} records/s, ${(c.points / c.secs).toFixed(0)} points/s`);
    console.log(`   ratio: job ingest ${((p1.accepted / p1.secs) / (c.points / c.secs)).toFixed(2)}x of the plain consumer; windowed ${(((w1.got * SLIDE) / span) / (c.points / c.secs)).toFixed(2)}x`);
    console.log(`heap: TaskManager JVM heap used at most ${(hp.max / 2 ** 20).toFixed(0)} MiB of ${(hp.heapMax / 2 ** 20).toFixed(0)} MiB`);
    console.log(`targets: >= 50000 points/s ingested ${p1.accepted / p1.secs >= 50000 ? "MET" : "NOT MET"}; >= 200 windows/s ${w1.got / span >= 200 ? "MET" : "NOT MET"}; p95 <= 250 ms at half load ${pct(lat, 95) <= 250 ? "MET" : "NOT MET"}; heap <= 1 GiB ${hp.max > 0 && hp.max <= 2 ** 30 ? "MET" : "NOT MET"}`);
  } finally {
    heap();
    await out.close().catch(() => undefined);
    client.close();
    for (const p of procs.reverse()) p.child.kill("SIGTERM");
    await sleep(1500);
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    if (!process.env.KEEP_BENCH_LOGS) rmSync(logDir, { recursive: true, force: true });
    else console.log(`logs: ${logDir}`);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: ["tda_jobs", "tda_results", "tda_events", "tda_uploads", "tda_errors", "tda_stream_features"].map((t) => PREFIX + t) }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(`stream bench: ${err.stack ?? err}`);
  process.exit(1);
});
