#!/usr/bin/env node
// The gRPC transport a tiny job needs, with nothing else: no Redis, no Kafka,
// no queue, no validation, no protobuf (messages are opaque bytes of about the
// real sizes). Same processes and calls as a job through the mesh:
//   client -> proxy (gateway's place): Submit (unary), then Watch (server stream)
//   proxy  -> backend (scheduler's place): the same two calls
//   backend -> dataset server (upload's place): one unary call per submit
//   backend -> engine server (engine's place): one bidi stream per job (points in;
//              two progress messages and the result out)
//   Watch: four updates (submitted, queued, started, completed), then the end.
// It prints jobs/s in a closed loop (same concurrency and connections as
// bench/scheduler_bench.js) and the CPU each process used per job: what the
// transport alone costs on this machine, the floor under the mesh's figures.
//
// Usage: node bench/job_transport_floor.js [JOBS=4000]
// Env: CONCURRENCY (16), CLIENTS (client connections, 8).
"use strict";
const { spawn } = require("node:child_process");
const os = require("node:os");
const grpc = require("@grpc/grpc-js");
const { cpuSeconds } = require("./proc-util");

const ident = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
const def = (path, requestStream, responseStream) => ({ path, requestStream, responseStream, ...ident });
const SVC = {
  submit: def("/floor.Jobs/Submit", false, false),
  watch: def("/floor.Jobs/Watch", false, true),
  dataset: def("/floor.Upload/GetDataset", false, false),
  compute: def("/floor.Engine/Compute", true, true),
};
const bytes = (n) => Buffer.alloc(n, 7);
const listen = (server) =>
  new Promise((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? rej(e) : res(port))));

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
  } else if (name === "dataset") {
    server.addService({ dataset: SVC.dataset }, { dataset: (_call, cb) => cb(null, bytes(220)) });
  } else if (name === "backend") {
    const [datasetAddr, engineAddr] = args;
    const ds = new grpc.Client(datasetAddr, grpc.credentials.createInsecure());
    const eng = new grpc.Client(engineAddr, grpc.credentials.createInsecure());
    const jobs = new Map(); // id -> { updates: Buffer[], done, watchers: Set }
    let serial = 0;
    const push = (job, u, last) => {
      job.updates.push(u);
      if (last) job.done = true;
      for (const w of job.watchers) {
        w.write(u);
        if (last) w.end();
      }
      if (last) setTimeout(() => jobs.delete(job.id), 5000);
    };
    server.addService({ submit: SVC.submit, watch: SVC.watch }, {
      submit(_call, cb) {
        ds.makeUnaryRequest(SVC.dataset.path, ident.requestSerialize, ident.responseDeserialize, bytes(40), (err) => {
          if (err) return cb(err);
          const id = String(++serial);
          const job = { id, updates: [], done: false, watchers: new Set() };
          jobs.set(id, job);
          push(job, bytes(120), false); // submitted
          push(job, bytes(120), false); // queued
          cb(null, Buffer.from(id));
          setImmediate(() => {
            push(job, bytes(140), false); // started
            const c = eng.makeBidiStreamRequest(SVC.compute.path, ident.requestSerialize, ident.responseDeserialize);
            let got = 0;
            c.on("data", () => {
              if (++got === 3) push(job, bytes(160), true); // completed
            });
            c.on("error", () => undefined);
            c.write(bytes(1300)); // spec + 50 points in R^3
            c.end();
          });
        });
      },
      watch(call) {
        const job = jobs.get(call.request.toString());
        if (!job) return call.end();
        for (const u of job.updates) call.write(u);
        if (job.done) return call.end();
        job.watchers.add(call);
        call.on("cancelled", () => job.watchers.delete(call));
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

async function main() {
  const JOBS = Number(process.argv[2] ?? 4000);
  const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
  const CLIENTS = Number(process.env.CLIENTS ?? 8);
  const engine = await startRole("engine", []);
  const dataset = await startRole("dataset", []);
  const backend = await startRole("backend", [dataset.address, engine.address]);
  const proxy = await startRole("proxy", [backend.address]);
  const procs = [proxy, backend, dataset, engine];
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
  await loop(Math.min(500, JOBS)); // warm-up
  const cpu = () => [...procs.map((p) => cpuSeconds(p.child.pid)), cpuSeconds(process.pid)];
  const c0 = cpu();
  const secs = await loop(JOBS);
  const c1 = cpu();
  const names = [...procs.map((p) => p.name), "client"];
  const per = names.map((nm, i) => `${nm} ${(((c1[i] - c0[i]) * 1000) / JOBS).toFixed(2)}`);
  const total = c1.reduce((s, v, i) => s + v - c0[i], 0);
  console.log(`# gRPC transport of a tiny job alone: ${os.cpus().length} cores, node ${process.version}, concurrency ${CONCURRENCY}, ${CLIENTS} client connections`);
  console.log(`transport floor: ${JOBS} jobs in ${secs.toFixed(2)} s = ${(JOBS / secs).toFixed(0)} jobs/s; CPU ms per job: ${per.join(", ")}; total ${((total * 1000) / JOBS).toFixed(2)} ms = at most ${((os.cpus().length * JOBS) / total).toFixed(0)} jobs/s on ${os.cpus().length} cores`);
  for (const c of clients) c.close();
  for (const p of procs) p.child.kill("SIGTERM");
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
