#!/usr/bin/env node
// Upload throughput through the gateway, over loopback, against a real mesh
// (upload service + gateway as separate processes on Redis; no engine needed),
// next to a baseline measured in the same run: a plain grpc-js client-streaming
// byte stream of the same size to a trivial grpc-js server (its own process)
// that only counts bytes, with grpc-js's default HTTP/2 windows (64 KiB), and
// the same stream with the wider windows the mesh's services use.
//
// Usage (after `npm run gen && npx tsc -b`, with Redis at REDIS_URL):
//   node bench/upload_bench.js [BINARY_MB=1024] [CSV_MB=200] [REPEATS=1]
// Prints MB/s (1 MB = 10^6 bytes), the ratio to the baseline, the CPU seconds
// used by each process during the upload, and the upload service's peak RSS
// (VmHWM). Inputs are generated on the fly from a small repeating block, so the
// client does not hold the whole input. From the wide-window baseline's CPU
// seconds it also prints the most two such grpc-js hops (client -> gateway ->
// upload) could carry on this machine's cores if they did nothing else, and
// with the sha256 every upload computes (node's, timed here) on top.
// Env knobs: BENCH_DIRECT=1 also times the same upload sent straight to the upload
// service; BENCH_NODE_ARGS is passed to the service processes (e.g. --cpu-prof);
// BENCH_DATA_DIR puts the upload service's data there (e.g. /dev/shm to take the disk
// out); KEEP_BENCH_LOGS=1 keeps the services' logs; REDIS_URL, KAFKA_BROKERS.
"use strict";
const { spawn } = require("node:child_process");
const { mkdtempSync, rmSync, readFileSync, createWriteStream } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");

const ROOT = path.resolve(__dirname, "..");
const { freePort, cpuSeconds } = require("./proc-util");
const [BIN_MB, CSV_MB, REPEATS] = [Number(process.argv[2] ?? 1024), Number(process.argv[3] ?? 200), Number(process.argv[4] ?? 1)];
const CHUNK = 1 << 20; // client message size
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const CLIENT_OPTIONS = { "grpc.max_send_message_length": 64 << 20, "grpc.max_receive_message_length": 64 << 20 };
const identity = (b) => b;

// ---- the trivial baseline server (runs as a child: `node upload_bench.js --baseline-server`)
if (process.argv[2] === "--baseline-server") {
  const server = new grpc.Server(CLIENT_OPTIONS);
  // --wide: the HTTP/2 receive windows the mesh's services use (grpc-flow-control.ts)
  if (process.argv[3] === "--wide") require("@tda/common").widenReceiveWindows(server);
  server.addService(
    {
      push: {
        path: "/bench.Sink/Push",
        requestStream: true,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      push(call, cb) {
        let n = 0;
        call.on("data", (b) => (n += b.length));
        call.on("end", () => cb(null, Buffer.from(String(n))));
      },
    },
  );
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`PORT ${port}\n`);
  });
  return;
}

// ---- helpers
/** CPU seconds node's sha256 takes per GB (10^9 bytes) here, over fresh 1 MiB buffers. */
function sha256SecondsPerGB() {
  const { createHash } = require("node:crypto");
  const h = createHash("sha256");
  let hashed = 0;
  for (let i = 0; i < 256; i++) {
    const b = Buffer.alloc(1 << 20, i);
    const c0 = process.cpuUsage();
    h.update(b);
    const c = process.cpuUsage(c0);
    hashed += (c.user + c.system) / 1e6;
  }
  h.digest();
  return hashed / ((256 * (1 << 20)) / 1e9);
}

function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function start(name, args, env, logDir) {
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the service processes
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(path.join(logDir, `${name}.log`));
  child.stderr.pipe(log);
  return child;
}

async function waitServing(address) {
  const { waitForHealthy } = require("@tda/common");
  await waitForHealthy(address, "", 30000);
}

async function waitConnectable(address) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    await new Promise((res, rej) => client.waitForReady(Date.now() + 30000, (err) => (err ? rej(err) : res())));
  } finally {
    client.close();
  }
}

/** A 1 MiB-ish block of input repeated up to `total` bytes (cut at a record/line boundary). */
function* blocks(block, total) {
  let sent = 0;
  while (sent < total) {
    const b = total - sent >= block.length ? block : block.subarray(0, total - sent);
    sent += b.length;
    yield b;
  }
}

function float64Block(dim) {
  const values = Math.floor(CHUNK / 8 / dim) * dim;
  const f = new Float64Array(values);
  let s = 12345;
  for (let i = 0; i < values; i++) f[i] = ((s = (s * 16807) % 2147483647) / 2147483647) * 200 - 100;
  return Buffer.from(f.buffer);
}

function csvBlock() {
  const lines = [];
  let s = 777;
  let n = 0;
  const r = () => (((s = (s * 16807) % 2147483647) / 2147483647) * 200 - 100).toFixed(6);
  while (n < CHUNK - 64) {
    const line = `${r()},${r()},${r()}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join(""));
}

/** Streams `gen` as one client-streaming call of `write(msg)` honouring back-pressure. */
function pump(call, items, end) {
  return new Promise((resolve, reject) => {
    const it = items[Symbol.iterator]();
    const go = () => {
      for (;;) {
        const { value, done } = it.next();
        if (done) return resolve(end());
        if (!call.write(value)) return void call.once("drain", go);
      }
    };
    call.on("error", reject);
    go();
  });
}

// UploadDataRequest written by hand: field 1 (header, length-delimited) or field 2 (bytes chunk).
function frame(field, payload) {
  const head = [(field << 3) | 2];
  for (let n = payload.length; ;) {
    if (n < 0x80) {
      head.push(n);
      break;
    }
    head.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  return Buffer.concat([Buffer.from(head), payload]);
}

async function timeBaseline(address, total, block) {
  const Client = grpc.makeGenericClientConstructor(
    {
      push: {
        path: "/bench.Sink/Push",
        requestStream: true,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    "Sink",
  );
  const client = new Client(address, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  const t0 = process.hrtime.bigint();
  const got = await new Promise((resolve, reject) => {
    const call = client.push((err, res) => (err ? reject(err) : resolve(Number(res.toString()))));
    pump(call, blocks(block, total), () => call.end()).catch(reject);
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  if (got !== total) throw new Error(`baseline counted ${got} of ${total} bytes`);
  return s;
}

async function timeUpload(pb, address, total, block, format, dim, direct = false) {
  // UploadDataRequest (gateway) and UploadRequest (upload service) have the same wire form
  const def = direct ? pb.pbUpload.UploadServiceService.upload : pb.pbGateway.TdaServiceService.uploadData;
  // the client sends pre-encoded frames, so its own encoding is not what is measured
  const Client = grpc.makeGenericClientConstructor({ uploadData: { ...def, requestSerialize: identity } }, "Tda");
  const client = new Client(address, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  const header = pb.pbUpload.UploadHeader.encode({ name: "bench", format, dim, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: total }).finish();
  // each distinct block is framed once (the input repeats one block; a last partial one differs)
  const framed = new Map();
  const frames = (function* () {
    yield frame(1, Buffer.from(header));
    for (const b of blocks(block, total)) {
      let f = framed.get(b.length);
      if (!f) framed.set(b.length, (f = frame(2, b)));
      yield f;
    }
  })();
  const t0 = process.hrtime.bigint();
  let ended = t0;
  const res = await new Promise((resolve, reject) => {
    const call = client.uploadData(new grpc.Metadata(), (err, r) => (err ? reject(err) : resolve(r)));
    pump(call, frames, () => {
      ended = process.hrtime.bigint();
      call.end();
    }).catch(reject);
  });
  const done = process.hrtime.bigint();
  const s = Number(done - t0) / 1e9;
  client.close();
  // the tail: from the last byte handed to grpc-js to the answer (the rest in flight, fsync, commit)
  return { s, res, tail: Number(done - ended) / 1e9 };
}

async function main() {
  const pb = require("@tda/common");
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-upload-bench-"));
  // BENCH_DATA_DIR: where the upload service stores data (default: a temp dir; e.g. a tmpfs to take the disk out)
  const dataDir = process.env.BENCH_DATA_DIR ? mkdtempSync(path.join(process.env.BENCH_DATA_DIR, "tda-upload-bench-data-")) : path.join(work, "data");
  const u = new URL(REDIS_URL);
  u.pathname = "/13"; // a database of its own, emptied first
  const redisUrl = u.toString();
  const IORedis = require("ioredis");
  const r = new IORedis(redisUrl, { maxRetriesPerRequest: 3 });
  await r.flushdb();
  const [up, gp] = [await freePort(), await freePort()];
  // metrics servers off (their fixed default ports may be taken by a dev mesh)
  const common = {
    REDIS_URL: redisUrl,
    KAFKA_BROKERS,
    TDA_DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    UPLOAD_MAX_BYTES: "16G",
    UPLOAD_METRICS_PORT: "0",
    GATEWAY_METRICS_PORT: "0",
  };
  const children = [];
  try {
    const upload = start("upload", [path.join(ROOT, "services/upload/dist/main.js")], { ...common, UPLOAD_PORT: String(up) }, work);
    children.push(upload);
    const gateway = start(
      "gateway",
      [path.join(ROOT, "gateway/dist/main.js")],
      {
        ...common,
        GATEWAY_PORT: String(gp),
        UPLOAD_ADDRESS: `127.0.0.1:${up}`,
        SCHEDULER_ADDRESS: "127.0.0.1:9",
        GATEWAY_API_KEYS: "",
        GATEWAY_AUTH_DISABLED: "true",
      },
      work,
    );
    children.push(gateway);
    const startBaseline = async (args) => {
      const child = spawn(process.execPath, [__filename, "--baseline-server", ...args], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      const port = await new Promise((resolve, reject) => {
        let buf = "";
        child.stdout.on("data", (d) => {
          buf += d;
          const m = /PORT (\d+)/.exec(buf);
          if (m) resolve(Number(m[1]));
        });
        child.once("exit", () => reject(new Error("baseline server exited")));
      });
      return { child, port };
    };
    const { child: baseline, port: basePort } = await startBaseline([]);
    const { child: wideServer, port: widePort } = await startBaseline(["--wide"]);
    await waitServing(`127.0.0.1:${up}`);
    await waitConnectable(`127.0.0.1:${gp}`); // its health follows the (absent) scheduler, so only wait for it to listen

    const SHA_S_PER_GB = sha256SecondsPerGB();
    const la = os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ");
    console.log(`node ${process.version}, ${os.cpus().length} cores, load average ${la}; client chunks ${CHUNK} B; ${REPEATS} run(s) each, best shown`);
    const cases = [
      { name: `RAW_FLOAT64 dim 3, ${BIN_MB} MB`, total: BIN_MB * 1e6, block: float64Block(3), format: pb.pbUpload.DataFormat.DATA_FORMAT_RAW_FLOAT64, dim: 3 },
      { name: `CSV 3 cols (6 decimals), ${CSV_MB} MB`, total: CSV_MB * 1e6, block: csvBlock(), format: pb.pbUpload.DataFormat.DATA_FORMAT_CSV, dim: 0 },
    ];
    for (const c of cases) {
      if (c.total <= 0) continue;
      if (c.dim > 0) c.total -= c.total % (8 * c.dim);
      else {
        // end on a line boundary: whole blocks plus whole lines
        const whole = Math.floor(c.total / c.block.length) * c.block.length;
        const rest = c.block.subarray(0, c.block.lastIndexOf(10, c.total - whole) + 1);
        c.total = whole + rest.length;
      }
      let best;
      for (let i = 0; i < REPEATS; i++) {
        const b0 = [cpuSeconds(baseline.pid), process.cpuUsage()];
        const baseS = await timeBaseline(`127.0.0.1:${basePort}`, c.total, c.block);
        const bc = process.cpuUsage(b0[1]);
        const baseCpu = [cpuSeconds(baseline.pid) - b0[0], (bc.user + bc.system) / 1e6];
        const cpu0 = [cpuSeconds(gateway.pid), cpuSeconds(upload.pid), process.cpuUsage()];
        const { s, res, tail } = await timeUpload(pb, `127.0.0.1:${gp}`, c.total, c.block, c.format, c.dim);
        const cpuC = process.cpuUsage(cpu0[2]);
        const cpu = [cpuSeconds(gateway.pid) - cpu0[0], cpuSeconds(upload.pid) - cpu0[1], (cpuC.user + cpuC.system) / 1e6];
        const direct = process.env.BENCH_DIRECT ? (await timeUpload(pb, `127.0.0.1:${up}`, c.total, c.block, c.format, c.dim, true)).s : NaN;
        const w0 = [cpuSeconds(wideServer.pid), process.cpuUsage()];
        const wideS = await timeBaseline(`127.0.0.1:${widePort}`, c.total, c.block);
        const wc = process.cpuUsage(w0[1]);
        const wideCpu = [cpuSeconds(wideServer.pid) - w0[0], (wc.user + wc.system) / 1e6];
        const run = { s, baseS, wideS, res, cpu, direct, baseCpu, wideCpu, tail };
        if (!best || s < best.s) best = run;
      }
      const mbps = c.total / 1e6 / best.s;
      const base = c.total / 1e6 / best.baseS;
      console.log(
        `${c.name.padEnd(34)} gateway upload ${mbps.toFixed(0).padStart(5)} MB/s (${best.s.toFixed(2)} s, last ${best.tail.toFixed(2)} s after the last byte was sent)   baseline grpc-js ${base.toFixed(0).padStart(5)} MB/s   ratio ${(mbps / base).toFixed(2)}` +
          `   CPU s: gateway ${best.cpu[0].toFixed(2)} upload ${best.cpu[1].toFixed(2)} client ${best.cpu[2].toFixed(2)}` +
          ` (baseline: server ${best.baseCpu[0].toFixed(2)} client ${best.baseCpu[1].toFixed(2)})   n=${best.res.dataset.n}` +
          `   (plain stream with the mesh's HTTP/2 windows: ${(c.total / 1e6 / best.wideS).toFixed(0)} MB/s, CPU s server ${best.wideCpu[0].toFixed(2)} client ${best.wideCpu[1].toFixed(2)};` +
          ` two such hops with no other work fit at most ${((os.cpus().length * c.total) / 1e6 / (2 * (best.wideCpu[0] + best.wideCpu[1]))).toFixed(0)} MB/s into ${os.cpus().length} cores,` +
          ` ${((os.cpus().length * 1e3) / ((2 * (best.wideCpu[0] + best.wideCpu[1])) / (c.total / 1e9) + SHA_S_PER_GB)).toFixed(0)} MB/s with the upload's sha256 (${SHA_S_PER_GB.toFixed(2)} CPU-s/GB here) on top)` +
          (process.env.BENCH_DIRECT ? `   (direct to the upload service: ${(c.total / 1e6 / best.direct).toFixed(0)} MB/s)` : ""),
      );
    }
    console.log(`upload service peak RSS (VmHWM) ${peakRssMiB(upload.pid).toFixed(0)} MiB; gateway ${peakRssMiB(gateway.pid).toFixed(0)} MiB`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await new Promise((res) => setTimeout(res, 500));
    await r.flushdb().catch(() => undefined);
    r.disconnect();
    if (process.env.KEEP_BENCH_LOGS) console.log(`logs in ${work}`);
    else rmSync(work, { recursive: true, force: true });
    if (process.env.BENCH_DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
