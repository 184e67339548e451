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
//   protobuf   + the mesh's messages (ts-proto code of proto/) at every hop, and
//              the real engine (engine-cpp/build/tda-engine) computing the job
//   tracing    + a span per call and per job with the W3C context in the
//              metadata (the mesh's OpenTelemetry setup, nothing exported)
//   store      + every change of a job written to Redis (record + update list,
//              one pipeline per change; one read per Watch), ioredis auto-pipelined,
//              connections made by the mesh's createRedis (writes coalesced per turn)
//   queue      + the job goes through a BullMQ queue (add on submit; a Worker,
//              concurrency 32, runs the engine call)
//   events     + four Kafka events per job, one per change (kafkajs, idempotent,
//              acks=all, batched for 20 ms, to topic <prefix>bench_floor)
//   outbox     the events through a Redis list instead (appended in the change's
//              pipeline, relayed to Kafka by the backend), as durability needs
// Each row prints jobs/s in a closed loop (same concurrency and connections as
// bench/scheduler_bench.js) and the CPU each process used per job, Redis and
// the Kafka broker included: the least the mesh can cost with these packages
// (nothing here validates, authenticates, de-duplicates, caches or retries).
//
// Usage: node bench/job_transport_floor.js [JOBS=4000] [ROWS=transport,protobuf,tracing,store,queue,events,outbox]
// Each row also prints p50/p99 latency (submit sent -> last update received) at
// a fixed offered load: RATE jobs/s (200; 0: none) for RATE_SECONDS (5).
// Env: CONCURRENCY (16), CLIENTS (client connections, 8), KAFKA_BROKERS
// (127.0.0.1:9192, for the events layer), KAFKA_TOPIC_PREFIX, TDA_RUN_DIR (where
// deploy/local keeps the broker's pid file).
"use strict";
const { spawn } = require("node:child_process");
const { existsSync, mkdtempSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { closedLoop, cpuSeconds, freePort, kafkaPid, openLoop, pct, startRedis } = require("./proc-util");

const ROOT = path.resolve(__dirname, "..");
const ENGINE = path.join(ROOT, "engine-cpp/build/tda-engine");
const ALL_LAYERS = ["transport", "protobuf", "tracing", "store", "queue", "events", "outbox"];
const ident = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
const def = (path, requestStream, responseStream) => ({ path, requestStream, responseStream, ...ident });
const RAW = {
  submit: def("/floor.Jobs/Submit", false, false),
  watch: def("/floor.Jobs/Watch", false, true),
  compute: def("/floor.Engine/Compute", true, true),
};
const bytes = (n) => Buffer.alloc(n, 7);
const listen = (server) =>
  new Promise((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? rej(e) : res(port))));
const common = () => require(path.join(ROOT, "services/common/dist/index.js"));
/** A Redis connection made as the mesh makes its own (common/redis.ts: writes coalesced per event-loop turn). */
const meshRedis = (url, opts) => common().createRedis(url, common().createLogger("floor", "silent"), opts);

/** The methods of each hop: opaque bytes, or the mesh's services (protobuf layer). */
function methods(pb) {
  if (!pb) return { inSubmit: RAW.submit, inWatch: RAW.watch, upSubmit: RAW.submit, upWatch: RAW.watch };
  const { pbGateway, pbJobs } = common();
  const gw = pbGateway.TdaServiceService;
  const jobs = pbJobs.JobServiceService;
  return { inSubmit: gw.computeVietorisRips, inWatch: gw.watchJob, upSubmit: jobs.submitJob, upWatch: jobs.watchJob };
}

/** Spans as the mesh makes them (tracing layer), or none. */
function spans(on, service) {
  if (!on) return { server: (_n, _md, fn) => fn(undefined), client: (_n, _ctx, fn) => fn(undefined), md: () => new grpc.Metadata() };
  const c = common();
  c.initTracing(service, undefined);
  return {
    server: (name, md, fn) => c.inSpan(name, c.contextFromMetadata(md), c.SpanKind.SERVER, (_s, ctx) => fn(ctx)),
    client: (name, ctx, fn) => c.inSpan(name, ctx, c.SpanKind.CLIENT, (_s, cctx) => fn(cctx)),
    md: (ctx) => (ctx ? c.metadataWithTrace(new grpc.Metadata(), ctx) : new grpc.Metadata()),
  };
}

/** The backend's job state: in memory, plus Redis and Kafka when those layers are on. */
async function backendState(layers, redisUrl, brokers, topic) {
  const pb = layers.has("protobuf");
  const c = pb ? common() : undefined;
  const jobs = new Map(); // id -> { id, rec (protobuf Job), seq, updates, done, watchers }
  let redis;
  if (layers.has("store")) {
    redis = meshRedis(redisUrl, { autoPipelining: true });
  }
  let producer;
  if (layers.has("events")) {
    const { Kafka, logLevel } = require("kafkajs");
    producer = new Kafka({ clientId: "floor", brokers, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }
  const outbox = "floor:outbox";
  const useOutbox = producer && layers.has("outbox");
  let batch = [];
  let timer;
  let draining = false;
  // direct: messages collected for 20 ms, then one send
  const sendBatch = () => {
    timer = undefined;
    const messages = batch;
    batch = [];
    producer.send({ topic, acks: -1, messages }).catch((e) => console.error(`floor: kafka send failed: ${e.message}`));
  };
  // outbox: after 20 ms, read what the list holds, send it, trim it
  const drain = async () => {
    timer = undefined;
    if (draining) return;
    draining = true;
    try {
      for (;;) {
        const recs = await redis.lrange(outbox, 0, 1999);
        if (recs.length === 0) break;
        await producer.send({
          topic,
          acks: -1,
          messages: recs.map((r) => {
            const bar = r.indexOf("|");
            return { key: r.slice(0, bar), value: Buffer.from(r.slice(bar + 1), "base64") };
          }),
        });
        await redis.ltrim(outbox, recs.length, -1);
      }
    } finally {
      draining = false;
    }
  };
  const event = (job, type) => {
    if (!pb) return bytes(150);
    const { pbEvents, pbJobs } = c;
    return Buffer.from(
      pbEvents.EventEnvelope.encode({
        schemaVersion: 1,
        eventId: require("node:crypto").randomUUID(),
        timestamp: c.nowTimestamp(),
        eventType: type,
        source: "floor",
        correlationId: job.id,
        headers: {},
        data: {
          $case: "job",
          value: pbEvents.JobEventData.fromPartial({
            jobId: job.id,
            datasetId: job.rec.datasetId,
            owner: job.rec.owner,
            state: pbJobs.JobState[job.rec.state],
            sequence: job.seq,
          }),
        },
      }).finish(),
    );
  };
  const ttl = 3600;
  /** One change of a job: memory, then (store) record + update list in one pipeline, (events) a Kafka event. */
  async function change(job, state, type, last) {
    job.seq++;
    let msg;
    let stored;
    let record;
    if (pb) {
      job.rec.state = state;
      const u = { jobId: job.id, eventType: type, state, progress: undefined, time: c.nowTimestamp(), message: "", errorCode: "", sequence: job.seq };
      msg = { update: u };
      if (redis) {
        stored = `${job.seq}|${Buffer.from(c.pbJobs.JobUpdate.encode(u).finish()).toString("base64")}`;
        record = Buffer.from(c.pbJobs.Job.encode(job.rec).finish()).toString("base64");
      }
    } else {
      msg = bytes(140);
      stored = record = msg;
    }
    if (redis) {
      const pipe = redis
        .pipeline()
        .hset(`floor:job:${job.id}`, "state", String(state), "job", record)
        .rpush(`floor:updates:${job.id}`, stored)
        .expire(`floor:updates:${job.id}`, ttl);
      if (useOutbox) pipe.rpush(outbox, `${job.id}|${event(job, type).toString("base64")}`);
      await pipe.exec();
    }
    if (producer) {
      if (useOutbox) {
        if (!timer) timer = setTimeout(() => drain().catch((e) => console.error(`floor: relay failed: ${e.message}`)), 20);
      } else {
        batch.push({ key: job.id, value: event(job, type) });
        if (!timer) timer = setTimeout(sendBatch, 20);
      }
    }
    job.updates.push(msg);
    if (last) job.done = true;
    for (const w of job.watchers) {
      w.write(msg);
      if (last) w.end();
    }
    if (last) setTimeout(() => jobs.delete(job.id), 5000);
  }
  async function snapshot(id) {
    if (redis) await redis.lrange(`floor:updates:${id}`, 0, -1);
    return jobs.get(id);
  }
  return { jobs, change, snapshot };
}

async function role(name, args) {
  const server = new grpc.Server();
  if (name === "engine") {
    server.addService(
      { compute: RAW.compute },
      {
        compute(call) {
          call.once("data", () => {
            call.write(bytes(40));
            call.write(bytes(40));
            call.write(bytes(700));
            call.end();
          });
          call.on("end", () => undefined);
        },
      },
    );
  } else if (name === "backend") {
    const [engineAddr, layerList, redisUrl, brokers, topic] = args;
    const layers = new Set(layerList.split(","));
    const pb = layers.has("protobuf");
    const M = methods(pb);
    const sp = spans(layers.has("tracing"), "floor-backend");
    const st = await backendState(layers, redisUrl, (brokers ?? "").split(","), topic);
    const c = pb ? common() : undefined;
    const S = pb ? c.pbJobs.JobState : { JOB_STATE_QUEUED: 1, JOB_STATE_RUNNING: 2, JOB_STATE_COMPLETED: 3 };
    let compute;
    if (pb) {
      const eng = new c.pbEngine.EngineServiceClient(engineAddr, grpc.credentials.createInsecure(), c.channelOptions);
      const points = Buffer.alloc(50 * 3 * 8);
      for (let i = 0; i < 150; i++) points.writeDoubleLE(Math.random(), i * 8);
      compute = (job, ctx) =>
        sp.client(
          "floor.Engine/Compute",
          ctx,
          (cctx) =>
            new Promise((resolve, reject) => {
              const call = eng.compute(sp.md(cctx));
              call.on("data", (m) => {
                if (m.msg?.$case === "result") resolve(m.msg.value);
              });
              call.on("error", reject);
              call.on("end", () => reject(new Error("the engine ended without a result")));
              const { pbCommon, pbEngine } = c;
              call.write({
                msg: {
                  $case: "spec",
                  value: pbEngine.ComputeSpec.fromPartial({
                    params: job.rec.params,
                    inputKind: pbCommon.InputKind.INPUT_KIND_POINT_CLOUD,
                    encoding: pbCommon.ValueEncoding.VALUE_ENCODING_FLOAT64,
                    n: 50,
                    dim: 3,
                    jobId: job.id,
                  }),
                },
              });
              call.write({ msg: { $case: "chunk", value: points } });
              call.end();
            }),
        );
    } else {
      const eng = new grpc.Client(engineAddr, grpc.credentials.createInsecure());
      compute = () =>
        new Promise((resolve, reject) => {
          const call = eng.makeBidiStreamRequest(RAW.compute.path, ident.requestSerialize, ident.responseDeserialize);
          let got = 0;
          call.on("data", () => {
            if (++got === 3) resolve();
          });
          call.on("error", reject);
          call.write(bytes(1300)); // spec + 50 points in R^3
          call.end();
        });
    }
    const run = (job) =>
      sp.server("floor.run_job", job.md, async (ctx) => {
        await st.change(job, S.JOB_STATE_RUNNING, "job.started", false);
        await compute(job, ctx);
        await st.change(job, S.JOB_STATE_COMPLETED, "job.completed", true);
      });
    let enqueue = (job) => setImmediate(() => run(job).catch((e) => console.error(`floor: job failed: ${e.message}`)));
    if (layers.has("queue")) {
      const { Queue, Worker } = require("bullmq");
      const conn = () => meshRedis(redisUrl, { forQueue: true });
      const queue = new Queue("floor", { connection: conn() });
      new Worker("floor", (bj) => run(st.jobs.get(bj.data.id)), { connection: conn(), concurrency: 32 });
      enqueue = (job) => queue.add("compute", { id: job.id }, { jobId: `floor-${job.id}`, attempts: 3, removeOnComplete: { age: 3600, count: 10000 } });
    }
    let serial = 0;
    server.addService(
      { submit: M.upSubmit, watch: M.upWatch },
      {
        submit(call, cb) {
          sp.server("floor.Jobs/Submit", call.metadata, async (ctx) => {
            const id = `job_${++serial}`;
            const req = call.request;
            const rec = pb
              ? c.pbJobs.Job.fromPartial({
                  jobId: id,
                  datasetId: req.datasetId,
                  params: req.params,
                  state: S.JOB_STATE_QUEUED,
                  createdAt: c.nowTimestamp(),
                  owner: "floor",
                  priority: req.priority,
                })
              : undefined;
            const job = { id, rec, seq: 0, updates: [], done: false, watchers: new Set(), md: sp.md(ctx) };
            st.jobs.set(id, job);
            await st.change(job, S.JOB_STATE_QUEUED, "job.submitted", false);
            await st.change(job, S.JOB_STATE_QUEUED, "job.queued", false);
            await enqueue(job);
            return pb ? { job: rec } : Buffer.from(id);
          }).then(
            (res) => cb(null, res),
            (err) => cb(err),
          );
        },
        watch(call) {
          sp.server("floor.Jobs/Watch", call.metadata, () =>
            st.snapshot(pb ? call.request.jobId : call.request.toString()).then((job) => {
              if (!job) return call.end();
              for (const u of job.updates) call.write(u);
              if (job.done) return call.end();
              job.watchers.add(call);
              call.on("cancelled", () => job.watchers.delete(call));
            }),
          );
        },
      },
    );
  } else if (name === "proxy") {
    const [backendAddr, layerList] = args;
    const layers = new Set(layerList.split(","));
    const pb = layers.has("protobuf");
    const M = methods(pb);
    const sp = spans(layers.has("tracing"), "floor-proxy");
    const up = new grpc.Client(backendAddr, grpc.credentials.createInsecure());
    const RIPS = pb ? common().pbCommon.Algorithm.ALGORITHM_RIPS : 0;
    server.addService(
      { submit: M.inSubmit, watch: M.inWatch },
      {
        submit(call, cb) {
          sp.server("floor.Gateway/Submit", call.metadata, (ctx) =>
            sp.client(
              "floor.Jobs/Submit",
              ctx,
              (cctx) =>
                new Promise((resolve, reject) => {
                  const r = call.request;
                  const req = pb
                    ? common().pbJobs.SubmitJobRequest.fromPartial({
                        datasetId: r.datasetId,
                        params: { algorithm: RIPS, maxDim: r.maxDim, threshold: r.threshold },
                        priority: r.priority,
                      })
                    : r;
                  up.makeUnaryRequest(M.upSubmit.path, M.upSubmit.requestSerialize, M.upSubmit.responseDeserialize, req, sp.md(cctx), (err, res) =>
                    err ? reject(err) : resolve(pb ? { job: res.job } : res),
                  );
                }),
            ),
          ).then(
            (res) => cb(null, res),
            (err) => cb(err),
          );
        },
        watch(call) {
          sp.server("floor.Gateway/Watch", call.metadata, (ctx) =>
            sp.client(
              "floor.Jobs/Watch",
              ctx,
              (cctx) =>
                new Promise((resolve) => {
                  const s = up.makeServerStreamRequest(
                    M.upWatch.path,
                    M.upWatch.requestSerialize,
                    M.upWatch.responseDeserialize,
                    pb ? { jobId: call.request.jobId } : call.request,
                    sp.md(cctx),
                  );
                  s.on("data", (m) => call.write(pb ? { update: m.update } : m));
                  s.on("end", () => (call.end(), resolve()));
                  s.on("error", (e) => (call.destroy(e), resolve()));
                }),
            ),
          );
        },
      },
    );
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

/** The real engine on a free port, once it answers its health check. */
async function startEngine() {
  if (!existsSync(ENGINE)) throw new Error(`the protobuf layer needs the engine: ${ENGINE} (make build)`);
  const port = await freePort();
  // (its per-job log lines are dropped)
  const child = spawn(ENGINE, ["serve", "--port", String(port), "--threads", "1", "--max-concurrent", "4", "--queue-depth", "256"], { stdio: "ignore" });
  const address = `127.0.0.1:${port}`;
  await common().waitForHealthy(address, "", 60000);
  return { name: "engine", child, address };
}

/** One row: the layers in `layers`, JOBS jobs in a closed loop. */
async function runLayers(layers, JOBS, CONCURRENCY, CLIENTS, ctx) {
  const RATE = Number(process.env.RATE ?? 200);
  const RATE_SECONDS = Number(process.env.RATE_SECONDS ?? 5);
  const pb = layers.includes("protobuf");
  if (ctx.redisUrl) {
    // each row starts from an empty store (BullMQ would take a job id of the last row for a duplicate)
    const IORedis = require("ioredis");
    const r = new IORedis(ctx.redisUrl);
    await r.flushall();
    r.disconnect();
  }
  const engine = pb ? await startEngine() : await startRole("engine", []);
  const backend = await startRole("backend", [engine.address, layers.join(","), ctx.redisUrl, ctx.brokers, ctx.topic]);
  const proxy = await startRole("proxy", [backend.address, layers.join(",")]);
  const procs = [proxy, backend, engine];
  const M = methods(pb);
  const clients = Array.from(
    { length: CLIENTS },
    () => new grpc.Client(proxy.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  let rr = 0;
  let serial = 0;
  const request = () =>
    pb
      ? {
          datasetId: "ds_00000000000000000000000000000000",
          maxDim: 1,
          threshold: 10 + ++serial * 1e-7,
          modulus: 0,
          priority: 0,
          idempotencyKey: "",
          deadlineSeconds: 0,
          threads: 1,
        }
      : bytes(90);
  const oneJob = () =>
    new Promise((resolve, reject) => {
      const c = clients[rr++ % clients.length];
      c.makeUnaryRequest(M.inSubmit.path, M.inSubmit.requestSerialize, M.inSubmit.responseDeserialize, request(), (err, res) => {
        if (err) return reject(err);
        const w = c.makeServerStreamRequest(M.inWatch.path, M.inWatch.requestSerialize, M.inWatch.responseDeserialize, pb ? { jobId: res.job.jobId } : res);
        let n = 0;
        w.on("data", () => ++n);
        w.on("end", () => (n === 4 ? resolve() : reject(new Error(`watch ended after ${n} updates`))));
        w.on("error", reject);
      });
    });
  const loop = (n) => closedLoop(n, CONCURRENCY, oneJob);
  /** `rate` jobs/s for `seconds` (open loop): latency from submit to the last update. */
  const latencyAt = async (rate, seconds) => {
    const lat = [];
    await openLoop(rate, seconds, () => {
      const s0 = performance.now();
      return oneJob().then(() => lat.push(performance.now() - s0));
    });
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99) };
  };
  try {
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
    const ol = RATE > 0 ? await latencyAt(RATE, RATE_SECONDS) : undefined;
    const olText = ol ? `; at ${RATE} jobs/s p50 ${ol.p50.toFixed(1)} ms p99 ${ol.p99.toFixed(1)} ms` : "";
    console.log(
      `${layers.at(-1).padEnd(9)}: ${(JOBS / secs).toFixed(0)} jobs/s; CPU ms per job: ${per.join(", ")}; total ${((total * 1000) / JOBS).toFixed(2)} ms = at most ${((cores * JOBS) / total).toFixed(0)} jobs/s on ${cores} cores${olText}`,
    );
  } finally {
    for (const c of clients) c.close();
    for (const p of procs) p.child.kill("SIGTERM");
    await Promise.all(procs.map((p) => new Promise((res) => (p.child.exitCode !== null ? res() : p.child.once("exit", res)))));
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
  const ctx = {
    redisUrl: "",
    redisPid: 0,
    brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9192",
    topic: `${process.env.KAFKA_TOPIC_PREFIX ?? ""}bench_floor`,
    kafkaPid: kafkaPid(),
  };
  const needs = (layer) => wanted.some((l) => ALL_LAYERS.indexOf(l) >= ALL_LAYERS.indexOf(layer));
  let redisProc;
  try {
    console.log(
      `# the floor of a tiny job: ${os.cpus().length} cores, node ${process.version}, concurrency ${CONCURRENCY}, ${CLIENTS} client connections; each row adds a layer`,
    );
    if (needs("store")) {
      redisProc = await startRedis(work, work);
      ctx.redisUrl = redisProc.url;
      ctx.redisPid = redisProc.child.pid;
    }
    if (needs("events")) {
      const { Kafka, logLevel } = require("kafkajs");
      const admin = new Kafka({ clientId: "floor-admin", brokers: ctx.brokers.split(","), logLevel: logLevel.NOTHING }).admin();
      await admin.connect().catch((e) => {
        throw new Error(`the events layer needs Kafka at ${ctx.brokers} (deploy/local/start-infra.sh): ${e.message}`);
      });
      await admin.createTopics({
        topics: [{ topic: ctx.topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: "retention.ms", value: "3600000" }] }],
      });
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
