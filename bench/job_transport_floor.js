#!/usr/bin/env node
// The floor under the job system's figures: what the packages a tiny job
// needs cost on this machine when they do nothing else. Same processes and
// calls as a job through the mesh, with trivial handlers (messages are opaque
// bytes of about the real sizes, no protobuf, no validation, no tracing):
//   client -> proxy (gateway's place): Submit (unary), then Watch (server stream)
//   proxy  -> backend (scheduler's place): the same two calls
//   backend -> engine server (engine's place): one bidi stream per job (points in;
//              two progress messages and the result out)
//   Watch: four updates (submitted, queued, started, completed), then the end.
// Layers, added one at a time (each row includes the ones before it):
//   transport  the gRPC calls above, state in the backend's memory
//   store      + every change of a job written to Redis (record + update list,
//              one pipeline per change; one read per Watch), ioredis auto-pipelined
//   queue      + the job goes through a BullMQ queue (add on submit; a Worker,
//              concurrency 32, runs the engine call)
//   events     + five Kafka events per job (kafkajs, idempotent, acks=all,
//              batched for 20 ms, to topic <prefix>bench_floor) — no outbox
// Each row prints jobs/s in a closed loop (same concurrency and connections as
// bench/scheduler_bench.js) and the CPU each process used per job, Redis and
// the Kafka broker included: the least the mesh can cost with these packages.
//
// Usage: node bench/job_transport_floor.js [JOBS=4000] [LAYERS=transport,store,queue,events]
// Env: CONCURRENCY (16), CLIENTS (client connections, 8), KAFKA_BROKERS
// (127.0.0.1:9192, for the events layer), KAFKA_TOPIC_PREFIX, TDA_RUN_DIR (where
// deploy/local keeps the broker's pid file).
"use strict";
const { spawn } = require("node:child_process");
const { mkdtempSync, readFileSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { cpuSeconds, freePort, start } = require("./proc-util");

const ALL_LAYERS = ["transport", "store", "queue", "events"];
const ident = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
const def = (path, requestStream, responseStream) => ({ path, requestStream, responseStream, ...ident });
const SVC = {
  submit: def("/floor.Jobs/Submit", false, false),
  watch: def("/floor.Jobs/Watch", false, true),
  compute: def("/floor.Engine/Compute", true, true),
};
const bytes = (n) => Buffer.alloc(n, 7);
const listen = (server) =>
  new Promise((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? rej(e) : res(port))));

/** The backend's job state: in memory, plus Redis and Kafka when those layers are on. */
async function backendState(layers, redisUrl, brokers, topic) {
  const jobs = new Map(); // id -> { id, updates: Buffer[], done, watchers: Set }
  let redis;
  if (layers.has("store")) {
    const IORedis = require("ioredis");
    redis = new IORedis(redisUrl, { enableAutoPipelining: true });
  }
  let produce = () => undefined;
  if (layers.has("events")) {
    const { Kafka, logLevel } = require("kafkajs");
    const producer = new Kafka({ clientId: "floor", brokers, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let batch = [];
    let timer;
    const send = () => {
      timer = undefined;
      const messages = batch;
      batch = [];
      producer.send({ topic, acks: -1, messages }).catch((e) => console.error(`floor: kafka send failed: ${e.message}`));
    };
    produce = (key, value) => {
      batch.push({ key, value });
      if (!timer) timer = setTimeout(send, 20);
    };
  }
  const ttl = 3600;
  /** One change of a job: memory, then (store) record + update list in one pipeline, (events) a Kafka event. */
  async function change(job, state, u, last) {
    if (redis) {
      await redis.pipeline().hset(`floor:job:${job.id}`, "state", state, "job", u).rpush(`floor:updates:${job.id}`, u).expire(`floor:updates:${job.id}`, ttl).exec();
    }
    produce(job.id, u);
    job.updates.push(u);
    if (last) job.done = true;
    for (const w of job.watchers) {
      w.write(u);
      if (last) w.end();
    }
    if (last) setTimeout(() => jobs.delete(job.id), 5000);
  }
  async function snapshot(id) {
    if (redis) await redis.lrange(`floor:updates:${id}`, 0, -1);
    return jobs.get(id);
  }
  return { jobs, change, snapshot, redis };
}

async function role(name, args) {
  const server = new grpc.Server();
  if (name === "engine") {
    server.addService({ compute: SVC.compute }, {
      compute(call) {
        call.once("data", () => {
          call.write(bytes(40));
          call.write(bytes(40));
          call.write(bytes(700));
          call.end();
        });
        call.on("end", () => undefined);
      },
    });
  } else if (name === "backend") {
    const [engineAddr, layerList, redisUrl, brokers, topic] = args;
    const layers = new Set(layerList.split(","));
    const eng = new grpc.Client(engineAddr, grpc.credentials.createInsecure());
    const st = await backendState(layers, redisUrl, (brokers ?? "").split(","), topic);
    let serial = 0;
    const compute = () =>
      new Promise((resolve, reject) => {
        const c = eng.makeBidiStreamRequest(SVC.compute.path, ident.requestSerialize, ident.responseDeserialize);
        let got = 0;
        c.on("data", () => {
          if (++got === 3) resolve();
        });
        c.on("error", reject);
        c.write(bytes(1300)); // spec + 50 points in R^3
        c.end();
      });
    const run = async (job) => {
      await st.change(job, "running", bytes(140), false); // started
      await compute();
      await st.change(job, "completed", bytes(160), true); // completed
    };
    let enqueue = (job) => setImmediate(() => run(job).catch((e) => console.error(`floor: job failed: ${e.message}`)));
    if (layers.has("queue")) {
      const { Queue, Worker } = require("bullmq");
      const IORedis = require("ioredis");
      const conn = () => new IORedis(redisUrl, { maxRetriesPerRequest: null });
      const queue = new Queue("floor", { connection: conn() });
      new Worker("floor", (bj) => run(st.jobs.get(bj.data.id)), { connection: conn(), concurrency: 32 });
      enqueue = (job) => queue.add("compute", { id: job.id }, { jobId: `floor-${job.id}`, attempts: 3, removeOnComplete: { age: 3600, count: 10000 } });
    }
    server.addService({ submit: SVC.submit, watch: SVC.watch }, {
      submit(_call, cb) {
        const id = String(++serial);
        const job = { id, updates: [], done: false, watchers: new Set() };
        st.jobs.set(id, job);
        (async () => {
          await st.change(job, "queued", bytes(120), false); // submitted
          await st.change(job, "queued", bytes(120), false); // queued
          await enqueue(job);
        })().then(() => cb(null, Buffer.from(id)), (err) => cb(err));
      },
      watch(call) {
        st.snapshot(call.request.toString()).then((job) => {
          if (!job) return call.end();
          for (const u of job.updates) call.write(u);
          if (job.done) return call.end();
          job.watchers.add(call);
          call.on("cancelled", () => job.watchers.delete(call));
        });
      },
    });
  } else if (name === "proxy") {
    const [backendAddr] = args;
    const up = new grpc.Client(backendAddr, grpc.credentials.createInsecure());
    server.addService({ submit: SVC.submit, watch: SVC.watch }, {
      submit(call, cb) {
        up.makeUnaryRequest(SVC.submit.path, ident.requestSerialize, ident.responseDeserialize, call.request, (err, res) => cb(err, res));
      },
      watch(call) {
        const s = up.makeServerStreamRequest(SVC.watch.path, ident.requestSerialize, ident.responseDeserialize, call.request);
        s.on("data", (m) => call.write(m));
        s.on("end", () => call.end());
        s.on("error", (e) => call.destroy(e));
      },
    });
  }
  const port = await listen(server);
  process.stdout.write(`PORT ${port}\n`);
}

function startRole(name, args) {
  const child = spawn(process.execPath, [__filename, "--role", name, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve({ name, child, address: `127.0.0.1:${m[1]}` });
    });
    child.once("exit", () => reject(new Error(`${name} exited`)));
  });
}

/** The Kafka broker's pid from deploy/local's pid file, or 0. */
function kafkaPid() {
  try {
    return Number(readFileSync(path.join(process.env.TDA_RUN_DIR ?? path.join(__dirname, "..", ".run"), "pids", "kafka.pid"), "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

async function waitForRedis(url) {
  const IORedis = require("ioredis");
  for (let i = 0; ; i++) {
    const probe = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    const ok = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
    probe.disconnect();
    if (ok) return;
    if (i > 100) throw new Error("redis-server did not start");
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** One row: the layers in `layers`, JOBS jobs in a closed loop. */
async function runLayers(layers, JOBS, CONCURRENCY, CLIENTS, ctx) {
  const engine = await startRole("engine", []);
  const backend = await startRole("backend", [engine.address, layers.join(","), ctx.redisUrl, ctx.brokers, ctx.topic]);
  const proxy = await startRole("proxy", [backend.address]);
  const procs = [proxy, backend, engine];
  const clients = Array.from({ length: CLIENTS }, () => new grpc.Client(proxy.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
  let rr = 0;
  const oneJob = () =>
    new Promise((resolve, reject) => {
      const c = clients[rr++ % clients.length];
      c.makeUnaryRequest(SVC.submit.path, ident.requestSerialize, ident.responseDeserialize, bytes(90), (err, id) => {
        if (err) return reject(err);
        const w = c.makeServerStreamRequest(SVC.watch.path, ident.requestSerialize, ident.responseDeserialize, id);
        let n = 0;
        w.on("data", () => ++n);
        w.on("end", () => (n === 4 ? resolve() : reject(new Error(`watch ended after ${n} updates`))));
        w.on("error", reject);
      });
    });
  const loop = async (n) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          next++;
          await oneJob();
        }
      }),
    );
    return (performance.now() - t0) / 1000;
  };
  try {
    await measure();
  } finally {
    for (const c of clients) c.close();
    for (const p of procs) p.child.kill("SIGTERM");
    await Promise.all(procs.map((p) => new Promise((res) => (p.child.exitCode !== null ? res() : p.child.once("exit", res)))));
  }
  async function measure() {
  await loop(Math.min(500, JOBS)); // warm-up
  const watched = [...procs.map((p) => [p.name, p.child.pid]), ["client", process.pid]];
  if (layers.includes("store")) watched.push(["redis", ctx.redisPid]);
  if (layers.includes("events") && ctx.kafkaPid) watched.push(["kafka", ctx.kafkaPid]);
  const cpu = () => watched.map(([, pid]) => cpuSeconds(pid));
  const c0 = cpu();
  const secs = await loop(JOBS);
  const c1 = cpu();
  const per = watched.map(([nm], i) => `${nm} ${(((c1[i] - c0[i]) * 1000) / JOBS).toFixed(2)}`);
  const total = c1.reduce((s, v, i) => s + v - c0[i], 0);
  const cores = os.cpus().length;
  console.log(`${layers.at(-1).padEnd(9)}: ${(JOBS / secs).toFixed(0)} jobs/s; CPU ms per job: ${per.join(", ")}; total ${((total * 1000) / JOBS).toFixed(2)} ms = at most ${((cores * JOBS) / total).toFixed(0)} jobs/s on ${cores} cores`);
  }
}

async function main() {
  const JOBS = Number(process.argv[2] ?? 4000);
  const wanted = (process.argv[3] ?? ALL_LAYERS.join(",")).split(",");
  const unknown = wanted.filter((l) => !ALL_LAYERS.includes(l));
  if (unknown.length > 0) throw new Error(`unknown layers ${unknown.join(",")} (known: ${ALL_LAYERS.join(",")})`);
  const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
  const CLIENTS = Number(process.env.CLIENTS ?? 8);
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-floor-"));
  const ctx = { redisUrl: "", redisPid: 0, brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9192", topic: `${process.env.KAFKA_TOPIC_PREFIX ?? ""}bench_floor`, kafkaPid: kafkaPid() };
  let redisProc;
  try {
    console.log(`# the floor of a tiny job: ${os.cpus().length} cores, node ${process.version}, concurrency ${CONCURRENCY}, ${CLIENTS} client connections; each row adds a layer`);
    if (wanted.some((l) => l !== "transport")) {
      const rp = await freePort();
      redisProc = start("redis", "redis-server", ["--bind", "127.0.0.1", "--port", String(rp), "--save", "", "--appendonly", "no", "--dir", work], {}, work);
      ctx.redisUrl = `redis://127.0.0.1:${rp}/0`;
      ctx.redisPid = redisProc.child.pid;
      await waitForRedis(ctx.redisUrl);
    }
    if (wanted.includes("events")) {
      const { Kafka, logLevel } = require("kafkajs");
      const admin = new Kafka({ clientId: "floor-admin", brokers: ctx.brokers.split(","), logLevel: logLevel.NOTHING }).admin();
      await admin.connect().catch((e) => {
        throw new Error(`the events layer needs Kafka at ${ctx.brokers} (deploy/local/start-infra.sh): ${e.message}`);
      });
      await admin.createTopics({ topics: [{ topic: ctx.topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: "retention.ms", value: "3600000" }] }] });
      await admin.disconnect();
      if (!ctx.kafkaPid) console.log("# (the Kafka broker's CPU is not counted: no pid file of deploy/local)");
    }
    for (let i = 0; i < ALL_LAYERS.length; i++) {
      if (!wanted.includes(ALL_LAYERS[i])) continue;
      await runLayers(ALL_LAYERS.slice(0, i + 1), JOBS, CONCURRENCY, CLIENTS, ctx);
    }
  } finally {
    redisProc?.child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--role") {
  role(process.argv[3], process.argv.slice(4)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
