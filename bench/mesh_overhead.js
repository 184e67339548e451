#!/usr/bin/env node
// The mesh's overhead on a real job, as a user feels it: submit -> completed
// through REST (tda-rest -> gateway -> scheduler -> engine, points read from the
// upload service), against the engine's own CLI on the same input, parameters
// and threads, in the same run (runs alternate, medians compared).
//
// Input: 1500 points on a torus in R^3 (R = 1, r = 0.4; a fixed pseudo-random
// sample, written to a temp file), Rips up to H2 with threshold THRESHOLD.
// Each mesh job gets a threshold a few 1e-9 larger (same complex, no result-cache hit).
//
// Usage (after scripts/build.sh; Kafka at KAFKA_BROKERS with the tda_* topics):
//   node bench/mesh_overhead.js [REPS=5] [THREADS=2] [THRESHOLD=0.58] [POINTS=1500]
// Prints per run and a summary line:
//   mesh overhead: REST submit->completed median X s vs CLI median Y s = +Z %
// plus where the mesh's time goes (from the job's updates): submit -> started,
// started -> completed (engine run incl. points transfer), completed -> client.
"use strict";
const { mkdtempSync, rmSync, writeFileSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { request, startRestMesh, watchJob } = require("./rest-util");
const { spawn } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..");

const [REPS, THREADS, THRESHOLD, POINTS] = [5, 2, 0.58, 1500].map((d, i) => Number(process.argv[2 + i] ?? d));
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";
const ENGINE = path.join(ROOT, "engine-cpp/build/tda-engine");

function torusCsv(n) {
  let s = 0x2545f491;
  const rnd = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0), s / 2 ** 32);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const u = 2 * Math.PI * rnd();
    const v = 2 * Math.PI * rnd();
    rows.push([(1 + 0.4 * Math.cos(v)) * Math.cos(u), (1 + 0.4 * Math.cos(v)) * Math.sin(u), 0.4 * Math.sin(v)].map((x) => x.toFixed(6)).join(","));
  }
  return rows.join("\n") + "\n";
}

function runCli(file, threshold) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(ENGINE, ["--format", "point-cloud", "--dim", "2", "--threshold", String(threshold), "--threads", String(THREADS), file], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    p.on("exit", (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`CLI exited ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t) => (t?.seconds !== undefined ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : Date.parse(t));

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "tda-mesh-overhead-"));
  const file = path.join(work, "torus.csv");
  const csv = torusCsv(POINTS);
  writeFileSync(file, csv);
  const mesh = await startRestMesh(work, { threads: THREADS, kafkaBrokers: KAFKA_BROKERS });
  const { base } = mesh;
  try {
    const up1 = await request(base, "POST", "/api/v1/data/upload/file?name=torus.csv&format=csv", csv, { "content-type": "text/csv" });
    const datasetId = up1.dataset.dataset_id ?? up1.dataset.datasetId;
    console.log(
      `# mesh overhead: ${POINTS}-point torus in R^3, Rips H2, threshold ${THRESHOLD}, ${THREADS} engine threads, ${REPS} runs each (alternating), ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
    );
    const cli = [];
    const mesh = [];
    const stages = { ingress: [], run: [], delivery: [] };
    // one warm-up job each way (page cache, connections, JIT)
    await runCli(file, THRESHOLD);
    for (let i = 0; i <= REPS; i++) {
      const threshold = THRESHOLD + (i + 1) * 1e-9;
      const t0 = performance.now();
      const wall0 = Date.now();
      const sub = await request(
        base,
        "POST",
        "/api/v1/tda/compute/vietoris-rips",
        JSON.stringify({ dataset_id: datasetId, max_dim: 2, threshold, threads: THREADS }),
        { "content-type": "application/json" },
      );
      const updates = await watchJob(base, sub.job.job_id ?? sub.job.jobId);
      const last = updates[updates.length - 1];
      if (!/COMPLETED/.test(String(last.state))) throw new Error(`job ended ${last.state}: ${last.message ?? ""}`);
      const total = (last.receivedAt - t0) / 1000;
      const started = updates.find((u) => /started/.test(u.event_type ?? u.eventType ?? ""));
      if (i === 0) {
        console.log(`warm-up: mesh ${total.toFixed(3)} s`);
        continue;
      }
      const c = await runCli(file, THRESHOLD);
      mesh.push(total);
      cli.push(c);
      if (started) {
        const tStart = ms(started.time);
        const tDone = ms(last.time);
        stages.ingress.push(tStart - wall0);
        stages.run.push(tDone - tStart);
        stages.delivery.push(Date.now() - (performance.now() - last.receivedAt) - tDone);
      }
      console.log(`run ${i}: mesh ${total.toFixed(3)} s, CLI ${c.toFixed(3)} s (${(((total - c) / c) * 100).toFixed(1)} %)`);
    }
    const m = median(mesh);
    const c = median(cli);
    console.log(
      `mesh overhead: REST submit->completed median ${m.toFixed(3)} s vs CLI median ${c.toFixed(3)} s = ${((m / c - 1) * 100).toFixed(1)} % (goal <= 5 %)`,
    );
    if (stages.run.length) {
      console.log(
        `  where the mesh's time goes (medians): submit->started ${median(stages.ingress).toFixed(0)} ms, started->completed ${median(stages.run).toFixed(0)} ms (CLI ${(c * 1000).toFixed(0)} ms), completed->client ${median(stages.delivery).toFixed(0)} ms`,
      );
    }
  } finally {
    await mesh.stop();
    if (!process.env.KEEP_BENCH_LOGS) rmSync(work, { recursive: true, force: true });
    else console.log(`logs: ${work}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
