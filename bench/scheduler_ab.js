#!/usr/bin/env node
// A/B of bench/scheduler_bench.js's closed-loop phase (no cache) between two
// built checkouts, run alternately on the same machine in the same minutes so
// that load from other work hits both alike (compare only runs of one call).
//
// Usage: node bench/scheduler_ab.js <anchor checkout> [candidate checkout = this one] [RUNS=3] [JOBS=2000]
//   <anchor checkout>: path of another worktree/clone of this repo, built
//   (`npm run gen && npx tsc -b`), e.g. at the commit whose figures are the reference.
// Needs what scheduler_bench.js needs (Kafka at KAFKA_BROKERS, ...). Prints each run's
// jobs/s, p99 and per-process CPU, then the medians and candidate/anchor ratios.
"use strict";
const { spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const [anchorArg, candArg, runsArg, jobsArg] = process.argv.slice(2);
if (!anchorArg) {
  console.error("usage: node bench/scheduler_ab.js <anchor checkout> [candidate checkout] [RUNS=3] [JOBS=2000]");
  process.exit(2);
}
const dirs = { anchor: path.resolve(anchorArg), candidate: path.resolve(candArg || path.join(__dirname, "..")) };
const RUNS = Number(runsArg ?? 3);
const JOBS = Number(jobsArg ?? 2000);
for (const d of Object.values(dirs)) if (!existsSync(path.join(d, "bench/scheduler_bench.js"))) throw new Error(`${d}: no bench/scheduler_bench.js`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function runOnce(which) {
  // phases 3 and 4 shortened (RATE_SECONDS=1, EVENTS=1000): only phase 1 is compared
  const r = spawnSync(process.execPath, [path.join(dirs[which], "bench/scheduler_bench.js"), String(JOBS), "200", "1", "1000"], {
    cwd: dirs[which],
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = out.match(/throughput \(no cache\): .*?= ([\d.]+) jobs\/s; latency p50 ([\d.]+) ms p99 ([\d.]+) ms[^\n]*\n\s*cpu: ([^;\n]*)/);
  if (!m) throw new Error(`${which}: no throughput line in the bench output:\n${out.slice(-2000)}`);
  const cpu = Object.fromEntries(
    m[4]
      .split(" ")
      .map((kv) => kv.split("="))
      .map(([k, v]) => [k, Number.parseFloat(v)]),
  );
  return { jobsPerS: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]), cpu, load: os.loadavg()[0] };
}

const results = { anchor: [], candidate: [] };
for (let i = 0; i < RUNS; i++) {
  for (const which of i % 2 === 0 ? ["anchor", "candidate"] : ["candidate", "anchor"]) {
    const r = runOnce(which);
    results[which].push(r);
    const cpu = Object.entries(r.cpu)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    console.log(`run ${i + 1} ${which.padEnd(9)} ${r.jobsPerS.toFixed(1)} jobs/s p99 ${r.p99.toFixed(1)} ms (load ${r.load.toFixed(2)}) cpu ${cpu}`);
  }
}
const med = (which, f) => median(results[which].map(f));
const line = (label, f, d = 1) => {
  const a = med("anchor", f);
  const c = med("candidate", f);
  console.log(`${label.padEnd(14)} anchor ${a.toFixed(d)}  candidate ${c.toFixed(d)}  candidate/anchor ${(c / a).toFixed(3)}`);
};
console.log(`medians of ${RUNS} runs each (anchor ${dirs.anchor}, candidate ${dirs.candidate}):`);
line("jobs/s", (r) => r.jobsPerS);
line("p99 ms", (r) => r.p99);
line("p50 ms", (r) => r.p50);
const procs = Object.keys(results.candidate[0].cpu).filter((k) => k in results.anchor[0].cpu);
for (const p of procs) line(`cpu ${p} s`, (r) => r.cpu[p], 2);
