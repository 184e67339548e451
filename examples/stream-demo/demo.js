#!/usr/bin/env node
// @ts-check
// Live-stream demo: configures a stream through the gateway (count windows of 128 points
// sliding by 32, H0+H1, Betti numbers at scale 0.4, alert level 0.3), publishes a noisy
// circle that turns into two circles, and prints each window's Betti numbers and change
// score as the Flink job publishes them on tda_stream_features, and the alert at the change.
//
//   node examples/stream-demo/demo.js [--gateway host:port] [--brokers host:port] [--stream ID]
//
// Env: TDA_GATEWAY (default 127.0.0.1:50070), KAFKA_BROKERS (127.0.0.1:9192),
//      KAFKA_TOPIC_PREFIX, TDA_API_KEY. Needs the mesh and the Flink job (make start).
"use strict";

const { Metadata } = require("@grpc/grpc-js");
const { channelOptions, createKafka, createLogger, insecure, pbEvents, pbGateway } = require("@tda/common");

const WINDOW = 128;
const SLIDE = 32;
const BATCH = 32;
const WINDOWS_BEFORE_CHANGE = 8;
const WINDOWS_AFTER_CHANGE = 8;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** A seeded generator (mulberry32) and a Gaussian from it. */
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return { next, gauss };
}

/** `n` points: one circle of radius 1, or two of radius 0.5 at (-1.2, 0) and (1.2, 0). */
function points(r, n, two) {
  const v = [];
  for (let i = 0; i < n; i++) {
    const a = r.next() * 2 * Math.PI;
    const [cx, rad] = two ? [i % 2 === 0 ? -1.2 : 1.2, 0.5] : [0, 1];
    v.push(cx + rad * Math.cos(a) + 0.03 * r.gauss(), rad * Math.sin(a) + 0.03 * r.gauss());
  }
  return v;
}

function call(client, method, req, meta) {
  return new Promise((resolve, reject) => client[method](req, meta, (err, res) => (err ? reject(err) : resolve(res))));
}

async function main() {
  const gateway = arg("--gateway", process.env.TDA_GATEWAY || "127.0.0.1:50070");
  const brokers = arg("--brokers", process.env.KAFKA_BROKERS || "127.0.0.1:9192").split(",");
  const prefix = process.env.KAFKA_TOPIC_PREFIX || "";
  const stream = arg("--stream", `demo-${Date.now().toString(36)}`);
  const meta = new Metadata();
  if (process.env.TDA_API_KEY) meta.set("x-api-key", process.env.TDA_API_KEY);
  const client = new pbGateway.TdaServiceClient(gateway, insecure(), channelOptions);

  const log = createLogger("stream-demo", "warn");
  const consumer = createKafka("tda-stream-demo", brokers, log).consumer({ groupId: `stream-demo-${stream}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: `${prefix}tda_stream_features`, fromBeginning: false });
  const total = (WINDOWS_BEFORE_CHANGE + WINDOWS_AFTER_CHANGE) * SLIDE + WINDOW - SLIDE;
  const expected = (total - WINDOW) / SLIDE + 1;
  let seen = 0;
  let alerts = 0;
  const done = new Promise((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const env = pbEvents.EventEnvelope.decode(message.value);
        const d = env.data;
        if (d?.$case === "streamFeatures" && d.value.streamId === stream) {
          const f = d.value;
          const betti = f.dimensions.map((x) => x.betti).join(", ");
          const score = f.bottleneckDistance === undefined ? "      -" : f.bottleneckDistance.toFixed(4);
          const shape =
            Number(f.windowSeq) * SLIDE + WINDOW <= WINDOWS_BEFORE_CHANGE * SLIDE + WINDOW - SLIDE
              ? "one circle "
              : Number(f.windowSeq) * SLIDE >= WINDOWS_BEFORE_CHANGE * SLIDE + WINDOW - SLIDE
                ? "two circles"
                : "changing   ";
          console.log(`window ${String(f.windowSeq).padStart(3)}  points ${f.points}  ${shape}  Betti (${betti})  change score ${score}`);
          if (++seen >= expected) resolve(undefined);
        } else if (d?.$case === "streamAlert" && d.value.streamId === stream) {
          alerts++;
          console.log(
            `ALERT  window ${d.value.windowSeq}: change score ${d.value.changeScore.toFixed(4)} >= level ${d.value.alertLevel} (previous ${d.value.previousScore.toFixed(4)})`,
          );
        }
      },
    });
  });

  const cfg = await call(
    client,
    "configureStream",
    {
      streamId: stream,
      config: { window: { $case: "count", value: { size: WINDOW, slide: SLIDE } }, maxDim: 1, bettiScale: 0.4, noiseLevel: 0.1, alertLevel: 0.3 },
    },
    meta,
  );
  console.log(
    `stream ${stream}: windows of ${WINDOW} points sliding by ${SLIDE}, Betti numbers (H0, H1) at scale ${cfg.config.bettiScale}, alert level ${cfg.config.alertLevel}`,
  );
  const r = rng(42);
  const changeAt = WINDOWS_BEFORE_CHANGE * SLIDE + WINDOW - SLIDE;
  for (let at = 0; at < total; at += BATCH) {
    const values = points(r, BATCH, at >= changeAt);
    await call(client, "publishStream", { streamId: stream, dim: 2, points: Buffer.alloc(0), values }, meta);
  }
  console.log(`published ${total} points (one circle, then two circles from point ${changeAt}); waiting for ${expected} windows`);
  const timer = setTimeout(() => {
    console.error(`demo: only ${seen} of ${expected} windows after 120 s (is the Flink job running? make start)`);
    process.exit(1);
  }, 120_000);
  await done;
  clearTimeout(timer);
  const status = await call(client, "getStreamStatus", { streamId: stream }, meta);
  console.log(
    `status: job ${status.job?.state}, last checkpoint ${status.job?.lastCheckpointId}, consumer lag ${status.job?.consumerLag}, windows emitted ${status.windowsEmitted}, alerts seen ${alerts}`,
  );
  await consumer.disconnect();
  client.close();
}

main().catch((err) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
