#!/usr/bin/env node
// The two large Rips jobs that the data-following admission lets in (the Ripser
// paper's "o3" at 4096 points, H3, threshold 1.4; its "torus4", the 50,000-point
// Clifford torus, H2, threshold 0.15), run both ways in the same run:
//
//   CLI:  /usr/bin/time -v tda-engine --format point-cloud --dim D --threshold T --threads N FILE
//         (wall time, peak RSS)
//   mesh: the same job submitted over REST to a mesh started here (tda-rest -> gateway ->
//         scheduler -> one engine with N threads), submit -> completed as the client sees it
//         (the job's watch stream), and the engine's peak RSS during the job (VmHWM, reset
//         before each job through /proc/<pid>/clear_refs)
//
// with the ratio mesh / CLI (medians, runs alternate) and the admission estimate: what
// EstimateJob (REST POST /api/v1/tda/estimate) answers, the figure Compute admits the job
// with, next to `tda-engine --estimate` and the measured peaks. Each mesh job gets a
// threshold a few 1e-9 larger than the last (same complex, no result-cache hit).
//
// Reads the datasets from ../shared/datasets (TDA_DATASETS overrides); says so and exits 0
// when they are missing. Needs the build (scripts/build.sh) and Kafka at KAFKA_BROKERS.
//
// Usage: node bench/admission_mesh.js [REPS=3] [THREADS=2] [ROW ...]   (ROW: o3_4096, torus4_50000)
"use strict";
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { request, startRestMesh, watchJob } = require("./rest-util");
const { spawn } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..");
const DATA = process.env.TDA_DATASETS ?? path.join(ROOT, "..", "shared", "datasets");
const ENGINE = path.join(ROOT, "engine-cpp/build/tda-engine");
const REST_BIN = path.join(ROOT, "build/bin/tda-rest");
const TIME_BIN = "/usr/bin/time";
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";

const ROWS = [
  { name: "o3_4096", file: "ripser-examples/o3_4096.txt", maxDim: 3, threshold: 1.4 },
  { name: "torus4_50000", file: "ripser-benchmark/clifford_torus_50000.points.txt", maxDim: 2, threshold: 0.15 },
];

const nums = process.argv.slice(2).filter((a) => /^\d+$/.test(a));
const names = process.argv.slice(2).filter((a) => !/^\d+$/.test(a));
const REPS = Number(nums[0] ?? 3);
const THREADS = Number(nums[1] ?? 2);

/** Runs `cmd args`, resolves with its exit code, stderr and wall time (s). */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (c) => (err += c.toString("utf8")));
    p.on("error", reject);
    p.on("exit", (code) => resolve({ code, stderr: err, seconds: (performance.now() - t0) / 1000 }));
  });
}

function cliArgs(row, threshold) {
  return ["--format", "point-cloud", "--dim", String(row.maxDim), "--threshold", String(threshold), "--threads", String(THREADS), path.join(DATA, row.file)];
}

/** The CLI under /usr/bin/time -v: wall time (s) and peak RSS (bytes; NaN without /usr/bin/time). */
async function runCli(row) {
  const timed = existsSync(TIME_BIN);
  const r = timed ? await run(TIME_BIN, ["-v", ENGINE, ...cliArgs(row, row.threshold)]) : await run(ENGINE, cliArgs(row, row.threshold));
  if (r.code !== 0) throw new Error(`CLI exited ${r.code}: ${r.stderr.slice(-500)}`);
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { seconds: r.seconds, rss: kb ? Number(kb[1]) * 1024 : NaN };
}

/** `tda-engine --estimate`: the estimate the engine admits the job with, from the command line. */
async function cliEstimate(row) {
  const r = await run(ENGINE, ["--estimate", ...cliArgs(row, row.threshold)]);
  const m = /memory_bytes=(\d+) seconds=([\d.e+-]+)/.exec(r.stderr);
  return m ? { memoryBytes: Number(m[1]), seconds: Number(m[2]) } : undefined;
}

/** Peak RSS of a process since the last reset (VmHWM), and the reset (clear_refs 5). */
const statusKb = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;
const peakRss = (pid) => statusKb(pid, "VmHWM");
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (b) => (Number.isFinite(b) ? `${(b / 1e6).toFixed(1)} MB` : "n/a");
const num = (v) => Number(v ?? 0);

async function benchRow(mesh, row) {
  const file = path.join(DATA, row.file);
  const body = readFileSync(file);
  const t0 = performance.now();
  const up = await request(mesh.base, "POST", `/api/v1/data/upload/file?name=${row.name}.txt&format=whitespace`, body, { "content-type": "text/plain" });
  const uploadSeconds = (performance.now() - t0) / 1000;
  const ds = up.dataset;
  const datasetId = ds.dataset_id ?? ds.datasetId;
  console.log(`## ${row.name}: ${ds.n ?? ds.point_count} points in R^${ds.dim}, Rips H${row.maxDim}, threshold ${row.threshold}, ${THREADS} threads`);
  console.log(`  upload over REST: ${uploadSeconds.toFixed(2)} s (${(body.length / 1e6).toFixed(1)} MB of text; not counted below)`);

  const params = { algorithm: "ALGORITHM_RIPS", max_dim: row.maxDim, threshold: row.threshold, threads: THREADS };
  const t1 = performance.now();
  const est = await request(mesh.base, "POST", "/api/v1/tda/estimate", JSON.stringify({ dataset_id: datasetId, params }), {
    "content-type": "application/json",
  });
  const estSeconds = (performance.now() - t1) / 1000;
  const cliEst = await cliEstimate(row);

  const cli = [];
  const meshRuns = [];
  const enginePeaks = [];
  const engineBase = [];
  let resetOk = true;
  for (let i = 0; i < REPS; i++) {
    const c = await runCli(row);
    cli.push(c);
    resetOk = resetPeak(mesh.enginePid) && resetOk;
    engineBase.push(statusKb(mesh.enginePid, "VmRSS"));
    const threshold = row.threshold + (i + 1) * 1e-9;
    const s0 = performance.now();
    const sub = await request(
      mesh.base,
      "POST",
      "/api/v1/tda/compute/vietoris-rips",
      JSON.stringify({ dataset_id: datasetId, max_dim: row.maxDim, threshold, threads: THREADS }),
      { "content-type": "application/json" },
    );
    const update = (await watchJob(mesh.base, sub.job.job_id ?? sub.job.jobId)).at(-1);
    const at = update.receivedAt;
    if (!/COMPLETED/.test(String(update.state))) throw new Error(`${row.name}: job ended ${update.state} ${update.error_code ?? ""}: ${update.message ?? ""}`);
    const m = (at - s0) / 1000;
    meshRuns.push(m);
    enginePeaks.push(resetOk ? peakRss(mesh.enginePid) : NaN);
    console.log(
      `  run ${i + 1}: CLI ${c.seconds.toFixed(2)} s, peak RSS ${mb(c.rss)} | mesh submit->completed ${m.toFixed(2)} s, engine peak RSS ${mb(enginePeaks.at(-1))} (${mb(engineBase.at(-1))} before the job) | mesh/CLI ${(m / c.seconds).toFixed(2)}`,
    );
  }
  const cWall = median(cli.map((c) => c.seconds));
  const cRss = Math.max(...cli.map((c) => c.rss));
  const mWall = median(meshRuns);
  const ePeak = Math.max(...enginePeaks);
  const estBytes = num(est.memory_bytes ?? est.memoryBytes);
  console.log(
    `  ${row.name}: CLI median ${cWall.toFixed(2)} s, peak RSS ${mb(cRss)}; mesh median ${mWall.toFixed(2)} s; mesh/CLI ${(mWall / cWall).toFixed(2)}`,
  );
  console.log(
    `  admission estimate (REST /api/v1/tda/estimate, ${estSeconds.toFixed(2)} s): ${mb(estBytes)}, ${num(est.seconds).toFixed(1)} s, admissible ${est.admissible === true}, engine limit ${mb(num(est.memory_limit_bytes ?? est.memoryLimitBytes))}` +
      (cliEst ? `; tda-engine --estimate ${mb(cliEst.memoryBytes)}` : "") +
      `; estimate / CLI peak RSS ${(estBytes / cRss).toFixed(2)}` +
      (Number.isFinite(ePeak) ? `, / engine peak RSS in the mesh ${(estBytes / ePeak).toFixed(2)}` : ""),
  );
  return { row: row.name, cWall, cRss, mWall, ePeak, estBytes };
}

async function main() {
  const rows = names.length ? ROWS.filter((r) => names.includes(r.name)) : ROWS;
  if (rows.length === 0) throw new Error(`unknown row(s) ${names.join(", ")} (known: ${ROWS.map((r) => r.name).join(", ")})`);
  const missing = rows.filter((r) => !existsSync(path.join(DATA, r.file)));
  if (missing.length) {
    console.log(`datasets not found at ${DATA} (../shared/datasets, or TDA_DATASETS): missing ${missing.map((r) => r.file).join(", ")}; nothing to benchmark`);
    return;
  }
  for (const bin of [ENGINE, REST_BIN, path.join(ROOT, "services/scheduler/dist/main.js")]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.sh first`);
  }
  if (!existsSync(TIME_BIN)) console.log(`# ${TIME_BIN} is missing (Debian package "time"): the CLI's peak RSS is not measured`);
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-admission-mesh-"));
  console.log(
    `# admission_mesh: engine CLI vs the same job through REST on a mesh, ${REPS} runs each (alternating), ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
  );
  const mesh = await startRestMesh(work, { threads: THREADS, kafkaBrokers: KAFKA_BROKERS });
  const out = [];
  try {
    for (const row of rows) out.push(await benchRow(mesh, row));
  } finally {
    await mesh.stop();
    if (!process.env.KEEP_BENCH_LOGS) rmSync(work, { recursive: true, force: true });
    else console.log(`logs: ${work}`);
  }
  for (const r of out) {
    console.log(
      `${r.row}: CLI ${r.cWall.toFixed(2)} s / ${mb(r.cRss)}, mesh ${r.mWall.toFixed(2)} s / engine ${mb(r.ePeak)}, mesh/CLI ${(r.mWall / r.cWall).toFixed(2)}, estimate ${mb(r.estBytes)} (${(r.estBytes / r.cRss).toFixed(2)}x the CLI's peak)`,
    );
  }
  console.log(`# load at the end ${os.loadavg()[0].toFixed(1)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
