"use strict";
// A real multi-process mesh for bench/chaos.js: deploy/local/start.sh (the script users run)
// starts the engines and services on free ports with a redis-server of the run's own and the
// Kafka of deploy/local, under a topic prefix of the run's own (created here, deleted at the
// end), so nothing the run does is mixed with another user of that broker.
const { execFileSync } = require("node:child_process");
const { mkdtempSync, readFileSync, readdirSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { freePort, startRedis } = require("./proc-util");

const ROOT = path.resolve(__dirname, "..");
const common = require(path.join(ROOT, "services/common/dist/index.js"));
const KAFKA_BROKERS = process.env.KAFKA_BROKERS || `127.0.0.1:${process.env.KAFKA_PORT || 9192}`;
const API_KEY = "chaos-key";

/** RSS in bytes of `pid` (NaN once it is gone). */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Open file descriptors of `pid` (NaN once it is gone). */
function fds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const MiB = (b) => (b / 1048576).toFixed(1);

/**
 * Starts a mesh: `layout` = { engines, uploads, schedulers, gateways, rest } (counts; rest a
 * boolean), `extraEnv` added to every process. Resolves with handles to it.
 */
async function startMesh(layout, extraEnv = {}) {
  const { Kafka, logLevel } = require("kafkajs");
  const runDir = mkdtempSync(path.join(os.tmpdir(), "tda-chaos-"));
  const redis = await startRedis(runDir, runDir);
  const prefix = `chaos-${process.pid}-${Date.now().toString(36)}-`;
  const kafka = new Kafka({ clientId: "chaos", brokers: KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING });
  const topics = common.readTopicsFile(path.join(ROOT, "deploy/kafka/topics.dev.json"), prefix);
  await common.ensureTopics(kafka, topics);
  const ports = { engine: await freePort(), upload: await freePort(), scheduler: await freePort(), gateway: await freePort(), rest: await freePort() };
  const env = {
    ...process.env,
    TDA_RUN_DIR: runDir,
    REDIS_URL: redis.url,
    KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: prefix,
    LOG_LEVEL: "warn",
    TDA_ENGINES: String(layout.engines ?? 1),
    TDA_UPLOADS: String(layout.uploads ?? 1),
    TDA_SCHEDULERS: String(layout.schedulers ?? 1),
    TDA_GATEWAYS: String(layout.gateways ?? 1),
    TDA_ENGINE_PORT: String(ports.engine),
    UPLOAD_PORT: String(ports.upload),
    SCHEDULER_PORT: String(ports.scheduler),
    GATEWAY_PORT: String(ports.gateway),
    REST_PORT: String(ports.rest),
    GATEWAY_ADDRESS: `127.0.0.1:${ports.gateway}`,
    GATEWAY_AUTH_DISABLED: "false",
    GATEWAY_API_KEYS: `${API_KEY}:chaos`,
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
    TDA_ENGINE_METRICS_PORT: "0",
    REST_METRICS_PORT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    ...extraEnv,
  };
  for (const k of ["ENGINE_ADDRESSES", "UPLOAD_ADDRESS", "SCHEDULER_ADDRESS"]) delete env[k];
  const script = (name, args) =>
    execFileSync("bash", [path.join(ROOT, "deploy/local", name), ...args], { env, cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 240_000 });
  const components = ["engine", "upload", "scheduler", "gateway", ...(layout.rest ? ["rest"] : [])];
  script("start.sh", ["--no-infra", ...components]);
  const names = [];
  for (const c of ["engine", "upload", "scheduler", "gateway"]) {
    const n = layout[`${c}s`] ?? 1;
    for (let i = 1; i <= n; i++) names.push(i === 1 ? c : `${c}-${i}`);
  }
  if (layout.rest) names.push("rest");
  const pid = (name) => Number(readFileSync(path.join(runDir, "pids", `${name}.pid`), "utf8").trim());
  const host = (i) => (i === 1 ? "127.0.0.1" : `127.0.0.${i}`);
  const gatewayTargets = Array.from({ length: layout.gateways ?? 1 }, (_, i) => `${host(i + 1)}:${ports.gateway}`);
  const gw = new common.pbGateway.TdaServiceClient(`ipv4:${gatewayTargets.join(",")}`, grpc.credentials.createInsecure(), {
    ...common.channelOptions,
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
  const mesh = {
    env,
    runDir,
    prefix,
    ports,
    names,
    redis,
    kafka,
    gw,
    rest: `http://127.0.0.1:${ports.rest}`,
    pid,
    /** Starts components again (start.sh leaves running ones alone, restarts dead ones). */
    restart: (...which) => script("start.sh", ["--no-infra", ...which]),
    /** name → pid of every process of the mesh, with the redis-server. */
    pids: () => Object.fromEntries([...names.map((n) => [n, pid(n)]), ["redis", redis.child.pid]]),
    async stop() {
      gw.close();
      try {
        script("stop.sh", ["--keep-infra"]);
      } catch (err) {
        console.error(`stop.sh: ${err.message}`);
      }
      redis.child.kill("SIGTERM");
      const admin = kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteTopics({ topics: topics.map((t) => t.name), timeout: 30_000 }))
        .catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      if (!process.env.KEEP_CHAOS_LOGS) rmSync(runDir, { recursive: true, force: true });
      else console.log(`logs kept in ${runDir}/logs`);
    },
  };
  return mesh;
}

/** Metadata with the run's API key. */
function md() {
  const m = new grpc.Metadata();
  m.set("x-api-key", API_KEY);
  return m;
}

const call = (client, method, req, deadlineMs = 30_000) =>
  new Promise((res, rej) => client[method](req, md(), { deadline: Date.now() + deadlineMs }, (err, out) => (err ? rej(err) : res(out))));

function csv(n, dim, seed) {
  let s = Math.floor(seed * 1e6) || 1;
  const next = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: dim }, () => next().toFixed(6)).join(","));
  return Buffer.from(rows.join("\n") + "\n");
}

/** Uploads a CSV through the gateway (gRPC); resolves with the dataset id. */
function upload(client, data, dim = 3) {
  return new Promise((res, rej) => {
    const stream = client.uploadData(md(), (err, out) => (err ? rej(err) : res(out.dataset.datasetId)));
    const { DataFormat } = common.pbUpload;
    stream.write({
      msg: {
        $case: "header",
        value: { name: "chaos.csv", format: DataFormat.DATA_FORMAT_CSV, dim, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: data.length },
      },
    });
    stream.write({ msg: { $case: "chunk", value: data } });
    stream.end();
  });
}

function ripsRequest(datasetId, maxDim, threshold, extra = {}) {
  return { datasetId, maxDim, threshold, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 1, ...extra };
}

const { JobState } = common.pbJobs;
const TERMINAL = new Set([JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);

/** Polls GetJob for `ids` (`conc` at once) until all are terminal or `timeoutMs` passed; resolves with id → job. */
async function waitTerminal(client, ids, timeoutMs = 600_000, conc = 16) {
  const done = new Map();
  const until = Date.now() + timeoutMs;
  while (done.size < ids.length && Date.now() < until) {
    const todo = ids.filter((i) => !done.has(i));
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(conc, todo.length) }, async () => {
        while (next < todo.length) {
          const id = todo[next++];
          const job = await call(client, "getJob", { jobId: id }).then(
            (r) => r.job,
            () => undefined,
          );
          if (job && TERMINAL.has(job.state)) done.set(id, job);
        }
      }),
    );
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 500));
  }
  return done;
}

/** Every update WatchJob replays for a terminal job (its authoritative history). */
function watchAll(client, jobId) {
  return new Promise((res, rej) => {
    const updates = [];
    const stream = client.watchJob({ jobId }, md(), { deadline: Date.now() + 60_000 });
    stream.on("data", (m) => updates.push(m.update ?? m));
    stream.on("error", rej);
    stream.on("end", () => res(updates));
  });
}

/**
 * Reads `topic` from the beginning up to the end offsets it has now; resolves with
 * { byKey: key → envelopes (first copy of each event_id), copies: messages repeating an event_id, total }.
 */
async function readTopic(kafka, topic, timeoutMs = 180_000) {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const reached = new Map([...ends.keys()].map((p) => [p, 0]));
  const atEnd = () => [...ends].every(([p, high]) => (reached.get(p) ?? 0) >= high);
  const out = { byKey: new Map(), copies: 0, total: 0 };
  if (atEnd()) return out;
  const seen = new Set();
  const consumer = kafka.consumer({ groupId: `chaos-read-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), timeoutMs);
      let finished = false;
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            if (finished) return;
            reached.set(partition, Math.max(reached.get(partition) ?? 0, Number(message.offset) + 1));
            if (message.value) {
              out.total++;
              const env = common.pbEvents.EventEnvelope.decode(message.value);
              if (seen.has(env.eventId)) out.copies++;
              else {
                seen.add(env.eventId);
                const key = message.key?.toString() ?? "";
                const list = out.byKey.get(key) ?? [];
                list.push(env);
                out.byKey.set(key, list);
              }
            }
            if (atEnd()) {
              finished = true;
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Runs `fn(i)` for i in [0, n), `conc` at once. */
async function pool(n, conc, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(conc, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

module.exports = {
  ROOT,
  KAFKA_BROKERS,
  API_KEY,
  common,
  rss,
  fds,
  alive,
  MiB,
  startMesh,
  md,
  call,
  csv,
  upload,
  ripsRequest,
  JobState,
  TERMINAL,
  waitTerminal,
  watchAll,
  readTopic,
  pool,
};
