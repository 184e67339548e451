#!/usr/bin/env node
// A/B of bench/scheduler_bench.js's closed-loop phase (no cache) between built
// checkouts, run in rotation on the same machine in the same minutes so that
// load from other work hits all alike (compare only runs of one call).
//
// Usage: node bench/scheduler_ab.js <anchor checkout> [other checkouts... = this one] [--runs=3] [--jobs=2000]
//   <anchor checkout>: path of another worktree/clone of this repo, built
//   (`npm run gen && npx tsc -b`), e.g. at the commit whose figures are the reference.
// Needs what scheduler_bench.js needs (Kafka at KAFKA_BROKERS, ...). Prints each run's
// jobs/s, p99 and per-process CPU, then the medians and each checkout's ratio to the anchor.
"use strict";
const { spawnSync } = require("node:child_process");
const { existsSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const flags = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith("--"))
    .map((a) => a.slice(2).split("=")),
);
const paths = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (paths.length === 0) {
  console.error("usage: node bench/scheduler_ab.js <anchor checkout> [other checkouts...] [--runs=3] [--jobs=2000]");
  process.exit(2);
}
if (paths.length === 1) paths.push(path.join(__dirname, ".."));
const dirs = paths.map((p) => path.resolve(p));
const RUNS = Number(flags.runs ?? 3);
const JOBS = Number(flags.jobs ?? 2000);
for (const d of dirs) if (!existsSync(path.join(d, "bench/scheduler_bench.js"))) throw new Error(`${d}: no bench/scheduler_bench.js`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function runOnce(dir) {
  // phases 3 and 4 shortened (RATE_SECONDS=1, EVENTS=1000): only phase 1 is compared
  const r = spawnSync(process.execPath, [path.join(dir, "bench/scheduler_bench.js"), String(JOBS), "200", "1", "1000"], {
    cwd: dir,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = out.match(/throughput \(no cache\): .*?= ([\d.]+) jobs\/s; latency p50 ([\d.]+) ms p99 ([\d.]+) ms[^\n]*\n\s*cpu: ([^;\n]*)/);
  if (!m) throw new Error(`${dir}: no throughput line in the bench output:\n${out.slice(-2000)}`);
  const cpu = Object.fromEntries(
    m[4]
      .split(" ")
      .map((kv) => kv.split("="))
      .map(([k, v]) => [k, Number.parseFloat(v)]),
  );
  return { jobsPerS: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]), cpu, load: os.loadavg()[0] };
}

const results = dirs.map(() => []);
for (let i = 0; i < RUNS; i++) {
  // rotate the order so that no checkout always runs first
  for (let k = 0; k < dirs.length; k++) {
    const j = (i + k) % dirs.length;
    const r = runOnce(dirs[j]);
    results[j].push(r);
    const cpu = Object.entries(r.cpu)
      .map(([n, v]) => `${n}=${v}`)
      .join(" ");
    console.log(`run ${i + 1} #${j} ${r.jobsPerS.toFixed(1)} jobs/s p99 ${r.p99.toFixed(1)} ms (load ${r.load.toFixed(2)}) cpu ${cpu}`);
  }
}
console.log(`medians of ${RUNS} runs each; #0 = anchor:`);
dirs.forEach((d, j) => console.log(`  #${j} ${d}`));
const line = (label, f, d = 1) => {
  const meds = results.map((rs) => median(rs.map(f)));
  console.log(`${label.padEnd(15)} ${meds.map((m, j) => `#${j} ${m.toFixed(d)}${j > 0 ? ` (${(m / meds[0]).toFixed(3)})` : ""}`).join("  ")}`);
};
line("jobs/s", (r) => r.jobsPerS);
line("p99 ms", (r) => r.p99);
line("p50 ms", (r) => r.p50);
const procs = Object.keys(results[0][0].cpu).filter((k) => results.every((rs) => k in rs[0].cpu));
for (const p of procs) line(`cpu ${p} s`, (r) => r.cpu[p], 2);
