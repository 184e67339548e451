#!/usr/bin/env node
// What tracing costs the engine: the same ~1 s Rips job (a seeded random cloud,
// H0-H2) run alternately on three engine processes started here:
//   off-a, off-b  no collector configured (off-b is the anchor: it shows how much
//                 two identical engines differ on this machine in the same run)
//   on            spans exported over OTLP/gRPC to a Jaeger started here
//                 (deploy/jaeger/config.yaml; the binary from deploy/jaeger/build.sh)
// Every call carries a W3C traceparent, so all three parse it and record the
// call's spans; only "on" sends them. Prints the median of the engine's own
// compute time (stats.elapsed_seconds) and of the wall time per call, the CPU
// seconds each engine process used per job (exporter thread included: the
// figure least disturbed by other load on a shared machine), and the ratios
// on/off-a (target <= 1.01) next to off-b/off-a (the noise floor).
//
// Usage: node bench/engine_tracing_overhead.js [ROUNDS=9]
// Env: N (points, 500: about 1 s of CPU per job here), DIM (3), MAX_DIM (2), THREADS (1), TDA_JAEGER_BIN.
"use strict";
const { existsSync, mkdtempSync, readFileSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { cpuSeconds, freePort, start } = require("./proc-util");

const ROOT = path.resolve(__dirname, "..");
const ENGINE = path.join(ROOT, "engine-cpp/build/tda-engine");
const c = require(path.join(ROOT, "services/common/dist/index.js"));
const ROUNDS = Number(process.argv[2] ?? 9);
const N = Number(process.env.N ?? 500);
const DIM = Number(process.env.DIM ?? 3);
const MAX_DIM = Number(process.env.MAX_DIM ?? 2);
const THREADS = String(process.env.THREADS ?? 1);

function jaegerBin() {
  if (process.env.TDA_JAEGER_BIN) return process.env.TDA_JAEGER_BIN;
  const version = /github\.com\/jaegertracing\/jaeger (v\S+)/.exec(readFileSync(path.join(ROOT, "deploy/jaeger/go.mod"), "utf8"))[1];
  const cache = process.env.TDA_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "tda-mesh");
  return path.join(cache, `jaeger-${version}`, "jaeger");
}

async function waitHealthy(addr) {
  await c.waitForHealthy(addr, "", 30000);
}

async function waitHttp(url) {
  for (let i = 0; i < 300; i++) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not answer`);
}

function cloud() {
  // xorshift, seeded: every run computes the same job
  let s = 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const b = Buffer.alloc(N * DIM * 8);
  for (let i = 0; i < N * DIM; i++) b.writeDoubleLE(next(), i * 8);
  return b;
}

function computeOnce(client, points, round) {
  const md = new grpc.Metadata();
  const traceId = Buffer.alloc(16);
  traceId.writeUInt32BE(round + 1, 12);
  md.set("traceparent", `00-${traceId.toString("hex")}-00000000000000a1-01`);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const call = client.compute(md);
    call.on("data", (m) => {
      if (m.msg?.$case === "result") {
        resolve({ engine: m.msg.value.stats.elapsedSeconds, wall: Number(process.hrtime.bigint() - started) / 1e9 });
      }
    });
    call.on("error", reject);
    call.write({
      msg: {
        $case: "spec",
        value: c.pbEngine.ComputeSpec.fromPartial({
          params: { algorithm: c.pbCommon.Algorithm.ALGORITHM_RIPS, maxDim: MAX_DIM },
          inputKind: c.pbCommon.InputKind.INPUT_KIND_POINT_CLOUD,
          encoding: c.pbCommon.ValueEncoding.VALUE_ENCODING_FLOAT64,
          n: N,
          dim: DIM,
          jobId: `bench-${round}`,
        }),
      },
    });
    call.write({ msg: { $case: "chunk", value: points } });
    call.end();
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  if (!existsSync(ENGINE)) throw new Error(`${ENGINE} is missing: run scripts/build.sh`);
  const jbin = jaegerBin();
  if (!existsSync(jbin)) throw new Error(`Jaeger is not built (${jbin}): run deploy/jaeger/build.sh`);
  const logDir = mkdtempSync(path.join(os.tmpdir(), "tda-trace-bench-"));
  const procs = [];
  try {
    const [otlp, query] = [await freePort(), await freePort()];
    procs.push(
      start(
        "jaeger",
        jbin,
        ["--config", `file:${path.join(ROOT, "deploy/jaeger/config.yaml")}`],
        { JAEGER_HOST: "127.0.0.1", OTLP_GRPC_PORT: String(otlp), JAEGER_QUERY_PORT: String(query) },
        logDir,
      ),
    );
    await waitHttp(`http://127.0.0.1:${query}/api/services`);
    const engines = {};
    const pids = {};
    for (const name of ["off-a", "off-b", "on"]) {
      const port = await freePort();
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: name === "on" ? `http://127.0.0.1:${otlp}` : "" };
      const p = start(`engine-${name}`, ENGINE, ["serve", "--port", String(port), "--threads", THREADS], env, logDir);
      procs.push(p);
      pids[name] = p.child.pid;
      await waitHealthy(`127.0.0.1:${port}`);
      engines[name] = new c.pbEngine.EngineServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), c.channelOptions);
    }
    const points = cloud();
    const times = { "off-a": [], "off-b": [], on: [] };
    const cpu = { "off-a": 0, "off-b": 0, on: 0 };
    for (const n of Object.keys(engines)) await computeOnce(engines[n], points, 0); // warm-up (page cache, allocator)
    const cpuAt = Object.fromEntries(Object.keys(engines).map((n) => [n, cpuSeconds(pids[n])]));
    for (let r = 0; r < ROUNDS; r++) {
      // rotate the order so that no engine always runs first after a pause
      const order = ["off-a", "on", "off-b"].map((_, i, a) => a[(i + r) % 3]);
      for (const name of order) times[name].push(await computeOnce(engines[name], points, r + 1));
    }
    await new Promise((r) => setTimeout(r, 1500)); // the last spans leave the "on" engine
    for (const n of Object.keys(engines)) cpu[n] = (cpuSeconds(pids[n]) - cpuAt[n]) / ROUNDS;
    const eng = (n) => median(times[n].map((t) => t.engine));
    const wall = (n) => median(times[n].map((t) => t.wall));
    console.log(`engine tracing overhead: Rips n=${N} dim=${DIM} max_dim=${MAX_DIM} threads=${THREADS}, ${ROUNDS} rounds, medians`);
    for (const n of ["off-a", "off-b", "on"])
      console.log(`  ${n.padEnd(6)} compute ${eng(n).toFixed(3)} s   wall ${wall(n).toFixed(3)} s   cpu/job ${cpu[n].toFixed(3)} s`);
    console.log(
      `ratio tracing on / off (cpu/job): ${(cpu.on / cpu["off-a"]).toFixed(4)}   (target <= 1.01; anchor off-b / off-a ${(cpu["off-b"] / cpu["off-a"]).toFixed(4)})`,
    );
    console.log(`ratio tracing on / off (compute): ${(eng("on") / eng("off-a")).toFixed(4)}   (target <= 1.01)`);
    console.log(`ratio tracing on / off (wall):    ${(wall("on") / wall("off-a")).toFixed(4)}`);
    console.log(`anchor off-b / off-a (compute):   ${(eng("off-b") / eng("off-a")).toFixed(4)}   (noise between identical engines)`);
    const res = await fetch(`http://127.0.0.1:${query}/api/services`);
    console.log(`jaeger services: ${JSON.stringify((await res.json()).data)}`);
    for (const e of Object.values(engines)) e.close();
  } finally {
    for (const p of procs.reverse()) p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    rmSync(logDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
