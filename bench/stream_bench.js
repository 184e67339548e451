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
//     (first to last feature record), and the drain time: from the last publish to the last of
//     the phase's windows on tda_stream_features (the backlog the job had to work off).
//     Every phase waits for its own drain (at most DRAIN_S) before the next one starts, so a
//     phase's latencies never include an earlier phase's backlog.
//  2. latency at half that load (RATE/2 for SECONDS): p50/p95/p99 from the gateway's publish of
//     the batch that completed a window (completed_by_published_at) to the feature record
//     reaching a consumer, and the phase's drain time. When RATE/2 exceeds what the job
//     sustains, these latencies are the backlog's: so also
//  2b. latency at half the job's measured capacity (half of phase 1's windows/s, as points/s,
//     in batches of one slide: one window per batch, no bursts; at least 30 s), the same
//     figures: what a stream sees when the job keeps up.
//  3. ceiling, in the same run: a plain kafkajs consumer (no Flink, no engine) reading every
//     tda_events record of the run and decoding its points: records/s and points/s.
// Also the TaskManager's heap (the MiniCluster's JVM: Flink's REST metrics), sampled during 1-2b.
// Env: BATCH (256), STREAMS (8), ENGINES (1), ENGINE_THREADS (1), FLINK_HEAP (1g),
//      FLINK_PARALLELISM (1), CAPACITY (Async I/O, 64), DRAIN_S (600), CHECKPOINT_MS (1000),
//      KEEP_BENCH_LOGS=1.
// The sink is exactly-once: a window's record becomes visible (read committed) when the
// checkpoint after it completes, so every latency includes up to CHECKPOINT_MS of waiting for it.
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
const DRAIN_MS = Number(process.env.DRAIN_S ?? 600) * 1000;
const CHECKPOINT_MS = Number(process.env.CHECKPOINT_MS ?? 1000);
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
    procs.push(
      start(
        `engine${i}`,
        path.join(ROOT, "engine-cpp/build/tda-engine"),
        ["serve", "--port", String(ep), "--threads", process.env.ENGINE_THREADS ?? "1", "--max-concurrent", "4", "--queue-depth", "256"],
        {},
        logDir,
      ),
    );
    engines.push(`127.0.0.1:${ep}`);
  }
  const [gp, rp] = [await freePort(), await freePort()];
  const env = { REDIS_URL: redis.url, KAFKA_BROKERS: BROKERS, KAFKA_TOPIC_PREFIX: PREFIX, LOG_LEVEL: "warn" };
  procs.push(
    start(
      "gateway",
      process.execPath,
      [path.join(ROOT, "gateway/dist/main.js")],
      {
        ...env,
        GATEWAY_PORT: String(gp),
        GATEWAY_METRICS_PORT: "0",
        UPLOAD_ADDRESS: "127.0.0.1:1",
        SCHEDULER_ADDRESS: "127.0.0.1:1",
        FLINK_REST_URL: `http://127.0.0.1:${rp}`,
        GATEWAY_STREAM_MAX_BYTES: "64M",
        GATEWAY_AUTH_DISABLED: "true",
      },
      logDir,
    ),
  );
  const flink = start(
    "flink",
    "java",
    [
      `-Xmx${process.env.FLINK_HEAP ?? "1g"}`,
      "-XX:+UseG1GC",
      "-cp",
      `${ROOT}/flink/target/tda-flink-job.jar:${ROOT}/flink/target/lib/*`,
      "io.tdamesh.flink.StreamFeaturesJob",
    ],
    {
      ...env,
      FLINK_LOCAL: "true",
      FLINK_REST_PORT: String(rp),
      FLINK_CHECKPOINT_DIR: path.join(logDir, "checkpoints"),
      ENGINE_ADDRESSES: engines.join(","),
      FLINK_PARALLELISM: process.env.FLINK_PARALLELISM ?? "1",
      STREAM_ENGINE_CAPACITY: process.env.CAPACITY ?? "64",
      FLINK_CHECKPOINT_INTERVAL_MS: String(CHECKPOINT_MS),
    },
    logDir,
  );
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

async function publishPhase(client, tag, rate, seconds, batchPoints = BATCH) {
  const streams = Array.from({ length: STREAMS }, (_, i) => `${tag}-${i}`);
  for (const s of streams) {
    await call(client, "configureStream", {
      streamId: s,
      config: { window: { $case: "count", value: { size: WINDOW, slide: SLIDE } }, maxDim: 1, noiseLevel: 0 },
    });
  }
  const perStream = new Map(streams.map((s) => [s, 0]));
  let accepted = 0;
  let failed = 0;
  let next = 0;
  const payload = batch(batchPoints);
  const t0 = performance.now();
  const { total, sendSecs } = await openLoop(rate / batchPoints, seconds, async () => {
    const s = streams[next++ % streams.length];
    try {
      await call(client, "publishStream", { streamId: s, dim: 2, points: payload, values: [] });
      accepted += batchPoints;
      perStream.set(s, perStream.get(s) + batchPoints);
    } catch {
      failed++;
    }
  });
  const secs = (performance.now() - t0) / 1000;
  const endedAt = Date.now(); // the last publish has been answered
  let expected = 0;
  for (const n of perStream.values()) expected += n >= WINDOW ? Math.floor((n - WINDOW) / SLIDE) + 1 : 0;
  return { streams, accepted, failed, batches: total, sendSecs, secs, expected, endedAt };
}

/**
 * Waits (at most `ms`) for the phase's expected windows; `drainSecs` is the time from the phase's
 * last publish to its last window's record (NaN when not all came).
 */
async function waitWindows(seen, phase, ms) {
  const { streams, expected, endedAt } = phase;
  const end = Date.now() + ms;
  const count = () => streams.reduce((a, s) => a + (seen.get(s)?.length ?? 0), 0);
  while (Date.now() < end && count() < expected) await sleep(200);
  const all = streams.flatMap((s) => seen.get(s) ?? []);
  const last = all.reduce((a, x) => Math.max(a, x.arrival), 0);
  const got = count();
  return { got, all, drainSecs: got >= expected && last > 0 ? Math.max(0, last - endedAt) / 1000 : NaN };
}

function drainText(p, w) {
  return Number.isFinite(w.drainSecs)
    ? `drained ${w.drainSecs.toFixed(1)} s after the last publish`
    : `NOT drained: ${w.got}/${p.expected} windows ${(DRAIN_MS / 1000).toFixed(0)} s after the last publish (DRAIN_S)`;
}

function latencyText(w) {
  const lat = w.all
    .map((x) => x.latencyMs)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return { lat, text: `p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms` };
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
    console.log(
      `stream bench: ${RATE} points/s offered for ${SECONDS} s, batches of ${BATCH} 2-D points over ${STREAMS} streams, windows ${WINDOW}/${SLIDE}, H0+H1, ${procs.length - 3} engine(s), checkpoints every ${CHECKPOINT_MS} ms (the exactly-once sink's records are visible after the next one: up to that much in every latency), machine ${os.cpus().length} cores`,
    );
    const p1 = await publishPhase(client, "t", RATE, SECONDS);
    const w1 = await waitWindows(out.seen, p1, DRAIN_MS);
    const arr = w1.all.map((x) => x.arrival).sort((a, b) => a - b);
    const span = arr.length > 1 ? (arr[arr.length - 1] - arr[0]) / 1000 : NaN;
    const wps = w1.got / span;
    console.log(
      `1. ingest: ${(p1.accepted / p1.secs).toFixed(0)} points/s accepted by the gateway (${p1.batches} calls, ${p1.failed} failed, offered over ${p1.sendSecs.toFixed(1)} s)`,
    );
    console.log(
      `   windows: ${w1.got}/${p1.expected} emitted, ${wps.toFixed(1)} windows/s (first to last record), ${((w1.got * SLIDE) / span).toFixed(0)} points/s windowed; ${drainText(p1, w1)}`,
    );
    const half = RATE / 2;
    const p2 = await publishPhase(client, "h", half, SECONDS);
    const w2 = await waitWindows(out.seen, p2, DRAIN_MS);
    const l2 = latencyText(w2);
    const lat = l2.lat;
    console.log(`2. latency at ${half} points/s: publish -> feature record ${l2.text} (${w2.got}/${p2.expected} windows); ${drainText(p2, w2)}`);
    // half the measured capacity, in batches of one slide (each batch completes one window of
    // its stream once the stream has a full window: no bursts of windows)
    const sustainable = Math.max(SLIDE, Math.floor((wps * SLIDE) / 2 / SLIDE) * SLIDE);
    let l3 = { lat: [], text: "not measured (phase 1 emitted no windows)" };
    if (Number.isFinite(wps) && wps > 0) {
      const p3 = await publishPhase(client, "c", sustainable, Math.max(SECONDS, 30), SLIDE);
      const w3 = await waitWindows(out.seen, p3, DRAIN_MS);
      l3 = latencyText(w3);
      console.log(
        `2b. latency at ${sustainable} points/s in batches of ${SLIDE} (half of phase 1's ${wps.toFixed(1)} windows/s): ${l3.text} (${w3.got}/${p3.expected} windows); ${drainText(p3, w3)}`,
      );
    }
    const hp = heap();
    const c = await ceiling(kafka);
    console.log(
      `3. ceiling: a plain kafkajs consumer reads tda_events at ${(c.records / c.secs).toFixed(0)} records/s, ${(c.points / c.secs).toFixed(0)} points/s`,
    );
    console.log(
      `   ratio: job ingest ${(p1.accepted / p1.secs / (c.points / c.secs)).toPrecision(2)}x of the plain consumer; windowed ${((w1.got * SLIDE) / span / (c.points / c.secs)).toPrecision(2)}x`,
    );
    console.log(`heap: TaskManager JVM heap used at most ${(hp.max / 2 ** 20).toFixed(0)} MiB of ${(hp.heapMax / 2 ** 20).toFixed(0)} MiB`);
    console.log(
      `targets: >= 50000 points/s ingested ${p1.accepted / p1.secs >= 50000 ? "MET" : "NOT MET"}; >= 200 windows/s ${w1.got / span >= 200 ? "MET" : "NOT MET"}; p95 <= 250 ms at half load ${pct(lat, 95) <= 250 ? "MET" : "NOT MET"} (at half the measured capacity: ${l3.lat.length > 0 && pct(l3.lat, 95) <= 250 ? "met" : "not met"}); heap <= 1 GiB ${hp.max > 0 && hp.max <= 2 ** 30 ? "MET" : "NOT MET"}`,
    );
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
    await admin
      .deleteTopics({ topics: ["tda_jobs", "tda_results", "tda_events", "tda_uploads", "tda_errors", "tda_stream_features"].map((t) => PREFIX + t) })
      .catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`stream bench: ${err.stack ?? err}`);
    process.exit(1);
  },
);
