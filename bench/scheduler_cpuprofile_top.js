#!/usr/bin/env node
// Top functions of V8 .cpuprofile files (node --cpu-prof), e.g. those
// bench/scheduler_bench.js writes with BENCH_CPU_PROF=<dir>: by self time, or
// with --inclusive by the time of the samples they are on the stack of (each
// function counted once per sample), in seconds beside the percentage.
// Usage: node bench/scheduler_cpuprofile_top.js <file.cpuprofile>... [--top N] [--inclusive]
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
const ti = args.indexOf("--top");
const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 15;
const ii = args.indexOf("--inclusive");
const inclusive = ii >= 0 && args.splice(ii, 1).length > 0;

const keyOf = (cf) => `${cf.functionName || "(anonymous)"} ${cf.url ? path.basename(cf.url) : ""}:${cf.lineNumber + 1}`;

for (const file of args) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const time = new Map();
  const dt = p.timeDeltas;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const us = dt[i] ?? 0;
    total += us;
    if (!inclusive) {
      const key = keyOf(byId.get(p.samples[i]).callFrame);
      time.set(key, (time.get(key) ?? 0) + us);
      continue;
    }
    const seen = new Set();
    for (let id = p.samples[i]; id !== undefined; id = parent.get(id)) seen.add(keyOf(byId.get(id).callFrame));
    for (const key of seen) time.set(key, (time.get(key) ?? 0) + us);
  }
  console.log(`== ${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled${inclusive ? " (inclusive)" : ""}`);
  for (const [k, us] of [...time].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}% ${(us / 1e6).toFixed(3).padStart(7)} s  ${k}`);
}
