#!/usr/bin/env node
// Top self-time functions of V8 .cpuprofile files (node --cpu-prof), e.g. those
// bench/scheduler_bench.js writes with BENCH_CPU_PROF=<dir>.
// Usage: node bench/scheduler_cpuprofile_top.js <file.cpuprofile>... [--top N]
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
const ti = args.indexOf("--top");
const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 15;
for (const file of args) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const cf = n.callFrame;
    const key = `${cf.functionName || "(anonymous)"} ${cf.url ? path.basename(cf.url) : ""}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`== ${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}
