#!/usr/bin/env node
// The reliability suite: each scenario starts a real mesh of its own with deploy/local/start.sh
// (bench/chaos-mesh.js: free ports, a redis-server of its own, the Kafka of deploy/local under a
// topic prefix of its own), does something hostile to it, and prints its figures with the
// command that reproduces them. Long (the soak alone is 10 minutes): `make chaos`, not `make test`.
//
// Usage (after scripts/build.sh; Redis + Kafka from deploy/local/start-infra.sh):
//   node bench/chaos.js all [--soak-seconds S]       every scenario below, in this order
//   node bench/chaos.js kafka-pause [--rate 20] [--pause 40] [--before 10] [--after 10]
//       2 schedulers + 2 gateways; the broker SIGSTOPped for --pause s while jobs are submitted at
//       --rate/s; then every job's lifecycle events are read back from tda_jobs and compared
//       with its WatchJob history: lost and duplicated events (raw, and after de-duplication by
//       event_id), jobs completed
//   node bench/chaos.js engine-kill [--rounds 3]
//       2 engines; each round SIGKILLs the engine running a ~10 s job: does the job complete on
//       the other engine? (the killed engine is started again for the next round)
//   node bench/chaos.js upload-fuzz [--n 10000] [--conc 16] [--seed 1]
//       fuzzed REST uploads (every format, broken headers, wrong encodings, truncated bodies,
//       huge declared sizes): responses by status class, and no process died or restarted
//   node bench/chaos.js watch-abort [--n 500] [--rounds 1]
//       aborted WatchJob streams, half REST half gRPC: open fds and RSS of every process of the
//       mesh before and after (after each round of --n with --rounds)
//   node bench/chaos.js soak [--seconds 600] [--rate 100] [--sample 2]
//       tiny jobs at --rate/s for --seconds: RSS of every process every --sample s; growth from
//       the first sample after a warm-up to the last, and (robust to a collector's sawtooth) the
//       floor and ceiling of the first minute after the warm-up against the last minute of
//       submitting (goal: growth < 10 %); what each Node process's memory is made of
//       (bench/mem-probe.js, preloaded through NODE_OPTIONS); the rate achieved
"use strict";
const { execFileSync } = require("node:child_process");
const { mkdtempSync, readFileSync, rmSync } = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { kafkaPid, pct } = require("./proc-util");
const M = require("./chaos-mesh");
const { JobState, call, rss, fds, alive, MiB } = M;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const stateName = (s) =>
  String(JobState[s] ?? s)
    .replace("JOB_STATE_", "")
    .toLowerCase();

function flags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown flag --${m[1]} (known: ${Object.keys(defaults).join(", ")})`);
    out[key] = Number(m[2] ?? argv[++i]);
    if (!Number.isFinite(out[key])) throw new Error(`--${m[1]}: want a number`);
  }
  return out;
}

/** Prints a figure: a title line, its rows, and the command that reproduces it. */
function figure(title, rows, command) {
  console.log(`\n== ${title}`);
  for (const r of rows) console.log(`   ${r}`);
  console.log(`   reproduce: ${command}`);
}

function machine() {
  return `${os.cpus().length} cores, load avg ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`;
}

// ---------------------------------------------------------------------------------------------
// 1. Kafka SIGSTOPped under load, two schedulers and two gateways

async function kafkaPause(argv) {
  const o = flags(argv, { rate: 20, pause: 40, before: 10, after: 10 });
  const kpid = kafkaPid();
  if (!kpid || !alive(kpid)) throw new Error("kafka-pause needs the Kafka of deploy/local (its pid file): run deploy/local/start-infra.sh");
  const mesh = await M.startMesh(
    { engines: 1, uploads: 1, schedulers: 2, gateways: 2 },
    { SCHEDULER_CONCURRENCY: "8", SCHEDULER_LOCK_DURATION_MS: "5000", SCHEDULER_STALLED_INTERVAL_MS: "5000" },
  );
  let stopped = false;
  try {
    const datasetId = await M.upload(mesh.gw, M.csv(12, 3, 0.5));
    const redis = new (require("ioredis"))(mesh.redis.url);
    const outboxLen = async () =>
      (await redis.llen("tda:outbox:scheduler")) + (await redis.llen("tda:outbox:gateway")) + (await redis.llen("tda:outbox:upload"));
    const submitted = [];
    const errors = new Map();
    let maxOutbox = 0;
    const total = Math.round(o.rate * (o.before + o.pause + o.after));
    const t0 = performance.now();
    const pending = [];
    const timers = [
      setTimeout(() => {
        process.kill(kpid, "SIGSTOP");
        stopped = true;
        console.log(`kafka (pid ${kpid}) SIGSTOP at t=${fmt((performance.now() - t0) / 1000)} s`);
      }, o.before * 1000),
      setTimeout(
        () => {
          process.kill(kpid, "SIGCONT");
          stopped = false;
          console.log(`kafka SIGCONT at t=${fmt((performance.now() - t0) / 1000)} s`);
        },
        (o.before + o.pause) * 1000,
      ),
    ];
    const sampler = setInterval(() => {
      outboxLen().then(
        (n) => (maxOutbox = Math.max(maxOutbox, n)),
        () => undefined,
      );
    }, 1000);
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / o.rate - performance.now();
      if (wait > 1) await sleep(wait);
      pending.push(
        call(mesh.gw, "computeVietorisRips", M.ripsRequest(datasetId, 1, 1 + i * 1e-6, { idempotencyKey: `chaos-${i}` })).then(
          (r) => submitted.push(r.job.jobId),
          (err) => errors.set(err.details ?? err.message, (errors.get(err.details ?? err.message) ?? 0) + 1),
        ),
      );
    }
    const sendSecs = (performance.now() - t0) / 1000;
    await Promise.all(pending);
    await sleep(Math.max(0, (o.before + o.pause) * 1000 - (performance.now() - t0)) + 100);
    clearInterval(sampler);
    timers.forEach(clearTimeout);
    if (stopped) process.kill(kpid, "SIGCONT");
    stopped = false;
    const resumedAt = performance.now();
    const jobs = await M.waitTerminal(mesh.gw, submitted, 600_000);
    // the outboxes drain into the broker
    let drained = false;
    for (let i = 0; i < 600 && !drained; i++) {
      drained = (await outboxLen()) === 0;
      if (!drained) await sleep(500);
    }
    const drainSecs = (performance.now() - resumedAt) / 1000;
    const dead = (await redis.llen("tda:outbox-dead:scheduler")) + (await redis.llen("tda:outbox-dead:gateway")) + (await redis.llen("tda:outbox-dead:upload"));
    redis.disconnect();
    // the authoritative history of every job, and what reached the topic
    const history = new Map();
    await M.pool(submitted.length, 16, async (i) => history.set(submitted[i], await M.watchAll(mesh.gw, submitted[i])));
    const topic = await M.readTopic(mesh.kafka, `${mesh.prefix}tda_jobs`);
    let lost = 0;
    let extra = 0;
    let sameStepTwice = 0;
    let events = 0;
    const lostExamples = [];
    for (const id of submitted) {
      const want = history.get(id) ?? [];
      events += want.length;
      const got = topic.byKey.get(id) ?? [];
      const gotSeq = got.map((e) => (e.data?.$case === "job" ? e.data.value.sequence : -1));
      const wantSeq = new Set(want.map((u) => u.sequence));
      const seqCount = new Map();
      for (const s of gotSeq) seqCount.set(s, (seqCount.get(s) ?? 0) + 1);
      for (const s of wantSeq) {
        if (!seqCount.has(s)) {
          lost++;
          if (lostExamples.length < 3) lostExamples.push(`${id}#${s}`);
        }
      }
      for (const [s, n] of seqCount) {
        if (!wantSeq.has(s)) extra++;
        if (n > 1) sameStepTwice += n - 1;
      }
    }
    const byState = new Map();
    for (const j of jobs.values()) byState.set(stateName(j.state), (byState.get(stateName(j.state)) ?? 0) + 1);
    const cmd = `node bench/chaos.js kafka-pause --rate ${o.rate} --pause ${o.pause} --before ${o.before} --after ${o.after}`;
    figure(
      `Kafka SIGSTOPped ${o.pause} s under ${o.rate} jobs/s, 2 schedulers + 2 gateways (${machine()})`,
      [
        `submitted ${submitted.length} of ${total} in ${fmt(sendSecs)} s (${fmt(submitted.length / sendSecs)} jobs/s); submit errors: ${
          errors.size ? [...errors].map(([m, n]) => `${n}× ${m}`).join("; ") : "none"
        }`,
        `jobs: ${[...byState].map(([s, n]) => `${n} ${s}`).join(", ")}; ${submitted.length - jobs.size} not terminal`,
        `outbox: up to ${maxOutbox} events parked during the pause; drained ${drained ? `${fmt(drainSecs)} s after SIGCONT` : "NOT within 300 s"}; ${dead} dead-lettered`,
        `lifecycle events (WatchJob history of every job): ${events}; on ${mesh.prefix}tda_jobs: ${topic.total} messages, ${topic.copies} repeated an event_id`,
        `after de-duplication by event_id: lost ${lost}${lostExamples.length ? ` (e.g. ${lostExamples.join(", ")})` : ""}, duplicated ${sameStepTwice} (same job step under two event_ids), unexpected ${extra}   [goal: 0 lost, 0 duplicated]`,
      ],
      cmd,
    );
    return { lost, duplicated: sameStepTwice, notTerminal: submitted.length - jobs.size };
  } finally {
    if (stopped) process.kill(kpid, "SIGCONT");
    await mesh.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. An engine SIGKILLed mid-job (two engines)

// a job of some seconds on one thread: LONG_POINTS random points in [0,1]^3, Rips to H2
const LONG_POINTS = Number(process.env.CHAOS_LONG_POINTS ?? 2000);
const LONG_THRESHOLD = Number(process.env.CHAOS_LONG_THRESHOLD ?? 0.4);

async function engineKill(argv) {
  const o = flags(argv, { rounds: 3 });
  const mesh = await M.startMesh(
    { engines: 2, uploads: 1, schedulers: 1, gateways: 1 },
    { SCHEDULER_CONCURRENCY: "4", SCHEDULER_ENGINE_PROBE_MS: "500", SCHEDULER_BACKOFF_MS: "300", SCHEDULER_ATTEMPTS: "3", TDA_ENGINE_THREADS: "1" },
  );
  const engineName = (addr) => (addr.startsWith("127.0.0.1:") ? "engine" : `engine-${addr.split(":")[0].split(".")[3]}`);
  const rows = [];
  let onOther = 0;
  let onKilled = 0;
  let failed = 0;
  let rounds = 0;
  try {
    const datasetId = await M.upload(mesh.gw, M.csv(LONG_POINTS, 3, 0.77));
    for (let r = 0; r < o.rounds; r++) {
      // two jobs, one on each engine (the scheduler balances), distinct thresholds: no cache hit
      const ids = [];
      for (let k = 0; k < 2; k++)
        ids.push((await call(mesh.gw, "computeVietorisRips", M.ripsRequest(datasetId, 2, LONG_THRESHOLD + (r * 2 + k) * 1e-7))).job.jobId);
      let victim;
      for (let i = 0; i < 600 && !victim; i++) {
        const jobs = await Promise.all(ids.map((id) => call(mesh.gw, "getJob", { jobId: id }).then((x) => x.job)));
        victim = jobs.find((j) => j.state === JobState.JOB_STATE_RUNNING && j.engine);
        if (!victim) await sleep(100);
      }
      if (!victim) throw new Error("no job started running within 60 s");
      await sleep(1000); // mid-job
      const name = engineName(victim.engine);
      const pid = mesh.pid(name);
      const killedAt = performance.now();
      process.kill(pid, "SIGKILL");
      const done = await M.waitTerminal(mesh.gw, ids, 300_000);
      const j = done.get(victim.jobId);
      const secs = (performance.now() - killedAt) / 1000;
      rounds++;
      if (!j) rows.push(`round ${r + 1}: job ${victim.jobId} not terminal 300 s after the kill`);
      else {
        const where = j.engine === victim.engine ? "the killed engine (restarted?)" : engineName(j.engine);
        if (j.state === JobState.JOB_STATE_COMPLETED && j.engine !== victim.engine) onOther++;
        else if (j.state === JobState.JOB_STATE_COMPLETED) onKilled++;
        else failed++;
        rows.push(
          `round ${r + 1}: killed ${name} (pid ${pid}) 1 s into job ${victim.jobId.slice(0, 8)}: ${stateName(j.state)}${j.errorCode ? ` ${j.errorCode}` : ""} on ${where} after ${j.attempts} attempt(s), ${fmt(secs)} s after the kill`,
        );
      }
      const other = ids.find((id) => id !== victim.jobId);
      const oj = done.get(other);
      if (!oj || oj.state !== JobState.JOB_STATE_COMPLETED) {
        rows.push(`   the round's other job ${other.slice(0, 8)}: ${oj ? `${stateName(oj.state)} ${oj.errorCode}` : "not terminal"}`);
        if (!oj || oj.state !== JobState.JOB_STATE_COMPLETED) failed++;
      }
      mesh.restart("engine");
      await sleep(1500); // the scheduler's probe sees it serving again
    }
    figure(
      `engine SIGKILL mid-job, 2 engines (${LONG_POINTS} points, Rips H2 at ${LONG_THRESHOLD}, 1 thread; ${machine()})`,
      [
        ...rows,
        `jobs completed on the other engine: ${onOther} of ${rounds}; completed on the killed one after its restart: ${onKilled}; failed: ${failed}   [goal: ${rounds} of ${rounds}, 0 failed]`,
      ],
      `node bench/chaos.js engine-kill --rounds ${o.rounds}`,
    );
    return { onOther, rounds, failed };
  } finally {
    await mesh.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Fuzzed REST uploads

function rng(seed) {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0), s / 2 ** 32);
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.chance = (p) => next() < p;
  next.bytes = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
    return b;
  };
  return next;
}

/** A size: mostly small, sometimes thousands, rarely large. */
const someCount = (R) => R.pick([0, 1, 2, 3, R.int(1, 50), R.int(1, 50), R.int(1, 50), R.int(50, 500), R.int(50, 500), R.int(500, 5000)]);
const num = (R) =>
  R.pick([
    () => (R() * 10 - 5).toFixed(R.int(0, 8)),
    () => String(R.int(-1e6, 1e6)),
    () => (R() * 1e300).toExponential(),
    () => R.pick(["NaN", "inf", "-Infinity", "1e999", "0x1F", "1,5", "--1", "", " ", "1e", ".", "+-3", "١٢٣", "ｱ"]),
  ])();

function textRows(R, sep, broken) {
  const n = someCount(R);
  const d = R.pick([1, 2, 3, 3, 4, R.int(1, 40)]);
  const lines = [];
  if (R.chance(0.1)) lines.push(Array.from({ length: d }, (_, i) => `x${i}`).join(sep));
  for (let i = 0; i < n; i++) {
    const w = broken && R.chance(0.05) ? R.int(0, d + 3) : d;
    lines.push(Array.from({ length: w }, () => (broken && R.chance(0.02) ? num(R) : (R() * 2 - 1).toFixed(5))).join(sep));
  }
  return { body: Buffer.from(lines.join(R.pick(["\n", "\r\n", "\n", "\r"])) + (R.chance(0.5) ? "\n" : "")), dim: d };
}

function npy(R, broken) {
  const n = R.int(0, 1000);
  const d = R.int(1, 8);
  const dtype = broken && R.chance(0.3) ? R.pick(["<f4", ">f8", "<i4", "|u1", "<c16", "|O", "<U8", "<f2", "zz"]) : R.pick(["<f8", "<f4"]);
  let shape = `(${n}, ${d})`;
  if (broken && R.chance(0.4))
    shape = R.pick([`(1, 4294967295)`, `(4294967295, 3)`, `(${2 ** 53}, 2)`, `(-1, 3)`, `()`, `(${n},)`, `(2, 3, 4)`, `(1e9, 3)`, `('a', 3)`, `(${n}, ${d}`]);
  const fortran = broken && R.chance(0.1) ? "True" : "False";
  let header = `{'descr': '${dtype}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  if (broken && R.chance(0.05)) header = header.slice(0, R.int(0, header.length));
  const total = 10 + header.length + 1;
  const pad = (64 - (total % 64)) % 64;
  header = header + " ".repeat(pad) + "\n";
  const pre = Buffer.alloc(10);
  Buffer.from("\x93NUMPY", "latin1").copy(pre);
  pre[6] = broken && R.chance(0.05) ? R.int(0, 9) : 1;
  pre[7] = 0;
  pre.writeUInt16LE(broken && R.chance(0.05) ? R.int(0, 65535) : header.length, 8);
  const width = dtype.endsWith("4") ? 4 : 8;
  let data = Buffer.alloc(n * d * width);
  for (let i = 0; i < n * d; i++) width === 8 ? data.writeDoubleLE(R() * 2 - 1, i * 8) : data.writeFloatLE(R() * 2 - 1, i * 4);
  if (broken && R.chance(0.3)) data = data.subarray(0, R.int(0, data.length));
  if (broken && R.chance(0.05)) Buffer.from("NUMPX").copy(pre, 1);
  return { body: Buffer.concat([pre, Buffer.from(header, "latin1"), data]), dim: d };
}

function raw(R, width, broken) {
  const d = R.int(1, 6);
  const n = R.int(0, 1000);
  const b = Buffer.alloc(n * d * width);
  for (let i = 0; i < n * d; i++) width === 8 ? b.writeDoubleLE(R.chance(0.01) && broken ? NaN : R() - 0.5, i * 8) : b.writeFloatLE(R() - 0.5, i * 4);
  return {
    body: broken && R.chance(0.5) ? Buffer.concat([b, R.bytes(R.int(1, width - 1))]) : b,
    dim: broken && R.chance(0.3) ? R.pick([0, -1, 7, 10001, 2 ** 31]) : d,
  };
}

function off(R, broken) {
  const nv = R.int(0, 1000);
  const nf = R.int(0, 50);
  const declared = broken && R.chance(0.4) ? R.pick([4294967295, 2 ** 40, -5, nv + 10, "x", 1e9]) : nv;
  const lines = [R.pick(["OFF", "OFF", "COFF", "NOFF", "off", "OFF 3", ""]), `${declared} ${nf} 0`];
  for (let i = 0; i < nv; i++) lines.push(`${(R() - 0.5).toFixed(4)} ${(R() - 0.5).toFixed(4)} ${(R() - 0.5).toFixed(4)}`);
  for (let i = 0; i < nf; i++) lines.push(`3 ${R.int(0, nv)} ${R.int(0, nv)} ${R.int(0, nv + 5)}`);
  let s = lines.join("\n") + "\n";
  if (broken && R.chance(0.3)) s = s.slice(0, R.int(0, s.length));
  return { body: Buffer.from(s), dim: 3 };
}

function ply(R, broken) {
  const nv = R.int(0, 1000);
  const binary = R.chance(0.5);
  const declared = broken && R.chance(0.4) ? R.pick([4294967295, 2 ** 40, -1, nv + 100, "abc"]) : nv;
  const type = broken && R.chance(0.2) ? R.pick(["double", "uchar", "int", "list uchar int", "quux"]) : "float";
  const head = [
    "ply",
    `format ${binary ? R.pick(["binary_little_endian", "binary_big_endian"]) : "ascii"} 1.0`,
    `element vertex ${declared}`,
    `property ${type} x`,
    `property ${type} y`,
    ...(broken && R.chance(0.2) ? [] : [`property ${type} z`]),
    ...(R.chance(0.2) ? [`element face ${R.int(0, 10)}`, "property list uchar int vertex_indices"] : []),
    ...(broken && R.chance(0.1) ? [] : ["end_header"]),
  ].join("\n");
  let body;
  if (binary) {
    const b = Buffer.alloc(nv * 12);
    for (let i = 0; i < nv * 3; i++) b.writeFloatLE(R() - 0.5, i * 4);
    body = Buffer.concat([Buffer.from(head + "\n"), b]);
  } else {
    const rows = Array.from({ length: nv }, () => `${(R() - 0.5).toFixed(4)} ${(R() - 0.5).toFixed(4)} ${(R() - 0.5).toFixed(4)}`);
    body = Buffer.from(head + "\n" + rows.join("\n") + "\n");
  }
  if (broken && R.chance(0.3)) body = body.subarray(0, R.int(0, body.length));
  return { body, dim: 3 };
}

function matrix(R, kind, broken) {
  const n = R.int(0, 120);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const width = kind === "distance_matrix" ? n : kind === "lower_distance_matrix" ? i : n - i - 1;
    const w = broken && R.chance(0.05) ? R.int(0, width + 2) : width;
    rows.push(Array.from({ length: w }, () => (broken && R.chance(0.01) ? num(R) : (R() * 3).toFixed(3))).join(R.pick([",", " ", "\t"])));
  }
  return { body: Buffer.from(rows.join("\n") + "\n"), dim: 0 };
}

function json(R, broken) {
  const n = Math.min(someCount(R), 5000);
  const d = R.int(1, 5);
  let s = JSON.stringify(Array.from({ length: n }, () => Array.from({ length: d }, () => R() - 0.5)));
  if (broken)
    s = R.pick([
      () => s.slice(0, R.int(0, s.length)),
      () => "[".repeat(R.int(100, 200000)),
      () => JSON.stringify({ points: [[1, 2]] }),
      () => `[[1,2],[3,"x"],[null,4]]`,
      () => `[[1e999, 2]]`,
      () => s.replace(/,/g, ";"),
    ])();
  return { body: Buffer.from(s), dim: d };
}

const FORMATS = [
  "csv",
  "tsv",
  "whitespace",
  "json",
  "npy",
  "raw_float64",
  "raw_float32",
  "off",
  "ply",
  "distance_matrix",
  "lower_distance_matrix",
  "upper_distance_matrix",
  "auto",
];

/** One fuzzed upload: { path, query, headers, body, truncate?, multipart? }. */
function fuzzCase(R) {
  const format = R.pick(FORMATS);
  const broken = R.chance(0.7);
  let c;
  switch (format) {
    case "csv":
    case "auto":
      c = textRows(R, ",", broken);
      break;
    case "tsv":
      c = textRows(R, "\t", broken);
      break;
    case "whitespace":
      c = textRows(R, " ", broken);
      break;
    case "json":
      c = json(R, broken);
      break;
    case "npy":
      c = npy(R, broken);
      break;
    case "raw_float64":
      c = raw(R, 8, broken);
      break;
    case "raw_float32":
      c = raw(R, 4, broken);
      break;
    case "off":
      c = off(R, broken);
      break;
    case "ply":
      c = ply(R, broken);
      break;
    default:
      c = matrix(R, format, broken);
  }
  let body = c.body;
  // wrong encodings: UTF-16, a byte-order mark, stray high bytes, NULs, pure noise
  if (broken && R.chance(0.15))
    body = R.pick([
      () => Buffer.from(body.toString("latin1"), "utf16le"),
      () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]),
      () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body.toString("latin1"), "utf16le")]),
      () => Buffer.from(body.map((x) => (R.chance(0.01) ? R.int(0x80, 0xff) : x))),
      () => Buffer.from(body.map((x) => (R.chance(0.01) ? 0 : x))),
      () => R.bytes(R.int(0, 5000)),
    ])();
  if (R.chance(0.003)) body = Buffer.concat([body, Buffer.alloc(R.int(1, 6) << 20, "1,2,3\n")]); // a few MiB
  const q = new URLSearchParams();
  const fmtParam = broken && R.chance(0.05) ? R.pick(["", "xlsx", "DATA_FORMAT_NPY", "99", "-1", "CSV", "raw-float64", "%00", "a".repeat(5000)]) : format;
  if (!(R.chance(0.1) && format === "auto")) q.set("format", fmtParam);
  if (c.dim > 0 || R.chance(0.3)) q.set("dim", String(broken && R.chance(0.1) ? R.pick([0, -1, 1e6, 4294967296, "x", 1.5, 99999999999]) : c.dim));
  q.set("name", broken && R.chance(0.05) ? R.pick(["", "a".repeat(R.int(300, 20000)), "../../etc/passwd", "名前.csv", "\u0000x", "%ff"]) : `fuzz.${format}`);
  if (broken && R.chance(0.1)) q.set("total_bytes", String(R.pick([0, 1, body.length - 1, body.length + 1, 2 ** 40, 2 ** 63, -1, "x"])));
  if (broken && R.chance(0.05)) q.set("content_type", "x".repeat(R.pick([10, 300, 5000, 2 << 20])).slice(0, 60000));
  if (broken && R.chance(0.03)) {
    q.set("upload_id", R.pick(["", "nope", "a".repeat(300), "00000000-0000-0000-0000-000000000000"]));
    q.set("resume_offset", String(R.pick([0, 10, 2 ** 40, -1])));
  }
  const contentType = R.pick([
    "application/octet-stream",
    "text/csv",
    "text/plain; charset=utf-16",
    "",
    "application/x-npy",
    "image/png",
    "text/csv; charset=latin1",
  ]);
  return {
    path: R.chance(0.5) ? "/api/v1/data/upload/file" : "/api/v1/data/upload",
    query: q.toString(),
    contentType,
    body,
    // truncated: declares the full length, sends part, then closes the connection
    truncate: broken && R.chance(0.05) ? R.int(0, body.length) : undefined,
    // a declared length past what is sent, the connection left half-closed
    overDeclare: broken && R.chance(0.02) ? R.pick([1, 1000, 2 ** 40]) : 0,
    multipart: R.chance(0.1),
  };
}

function restUpload(base, fc) {
  return new Promise((resolve) => {
    let body = fc.body;
    const headers = { "x-api-key": M.API_KEY };
    if (fc.multipart) {
      const b = `----chaos${Math.random().toString(16).slice(2)}`;
      body = Buffer.concat([
        Buffer.from(
          `--${b}\r\nContent-Disposition: form-data; name="file"; filename="fuzz.bin"\r\nContent-Type: ${fc.contentType || "application/octet-stream"}\r\n\r\n`,
        ),
        body,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      headers["content-type"] = `multipart/form-data; boundary=${b}`;
    } else if (fc.contentType) headers["content-type"] = fc.contentType;
    headers["content-length"] = String(body.length + (fc.overDeclare || 0));
    const u = new URL(`${fc.path}?${fc.query}`, base);
    const req = http.request(u, { method: "POST", headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.length < 8 && chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8").slice(0, 300) }));
      res.on("error", () => resolve({ status: res.statusCode, text: "(response cut)" }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, text: err.message }));
    if (fc.truncate !== undefined) {
      req.write(body.subarray(0, fc.truncate));
      setTimeout(() => req.destroy(), 20);
      return;
    }
    if (fc.overDeclare) {
      req.write(body);
      setTimeout(() => req.destroy(), 200); // never sends the rest
      return;
    }
    req.end(body);
  });
}

async function uploadFuzz(argv) {
  const o = flags(argv, { n: 10000, conc: 16, seed: 1 });
  const mesh = await M.startMesh({ engines: 1, uploads: 1, schedulers: 1, gateways: 1, rest: true });
  try {
    const pids0 = mesh.pids();
    const R = rng(o.seed);
    const classes = new Map();
    const byFormat = new Map();
    const samples5xx = [];
    let cut = 0;
    const t0 = performance.now();
    let done = 0;
    await M.pool(o.n, o.conc, async () => {
      const fc = fuzzCase(R);
      const res = await restUpload(mesh.rest, fc);
      const cls = res.status === 0 ? (fc.truncate !== undefined || fc.overDeclare ? "cut by the client" : "no answer") : `${Math.floor(res.status / 100)}xx`;
      if (cls === "cut by the client") cut++;
      classes.set(cls, (classes.get(cls) ?? 0) + 1);
      const f = new URLSearchParams(fc.query).get("format") ?? "(none)";
      const key = FORMATS.includes(f) ? f : "(odd format)";
      const row = byFormat.get(key) ?? new Map();
      row.set(cls, (row.get(cls) ?? 0) + 1);
      byFormat.set(key, row);
      if ((res.status >= 500 || cls === "no answer") && samples5xx.length < 8)
        samples5xx.push(`${res.status} ${fc.path}?${fc.query.slice(0, 120)} (${fc.body.length} B): ${res.text}`);
      if (++done % 1000 === 0) console.log(`  ${done} uploads, ${fmt((performance.now() - t0) / 1000)} s`);
    });
    const secs = (performance.now() - t0) / 1000;
    await sleep(1000);
    const pids1 = mesh.pids();
    const changed = Object.keys(pids0).filter((n) => pids0[n] !== pids1[n] || !alive(pids1[n]));
    // the mesh still takes a good upload afterwards
    const ok = await restUpload(mesh.rest, {
      path: "/api/v1/data/upload/file",
      query: "format=csv&name=after.csv",
      contentType: "text/csv",
      body: M.csv(20, 3, 0.3),
    });
    const cmd = `node bench/chaos.js upload-fuzz --n ${o.n} --conc ${o.conc} --seed ${o.seed}`;
    const order = ["2xx", "4xx", "5xx", "cut by the client", "no answer", "1xx", "3xx"];
    const line = (m) =>
      order
        .filter((c) => m.has(c))
        .map((c) => `${c} ${m.get(c)}`)
        .join(", ");
    figure(
      `${o.n} fuzzed REST uploads, ${o.conc} at once (${fmt(o.n / secs)} uploads/s; ${machine()})`,
      [
        `by status class: ${line(classes)}   [goal: only 2xx and 4xx, apart from the ${cut} the client cut itself]`,
        ...[...byFormat].sort().map(([f, m]) => `  ${f.padEnd(22)} ${line(m)}`),
        ...samples5xx.map((s) => `  5xx/no answer: ${s}`),
        `processes: ${Object.keys(pids0).length} (${Object.keys(pids0).join(", ")}); died or restarted: ${changed.length ? changed.join(", ") : "none"}   [goal: none]`,
        `a valid upload afterwards: HTTP ${ok.status}`,
      ],
      cmd,
    );
    return { fivexx: classes.get("5xx") ?? 0, changed };
  } finally {
    await mesh.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Aborted watches

async function watchAbort(argv) {
  const o = flags(argv, { n: 500, conc: 25, rounds: 1 });
  const mesh = await M.startMesh({ engines: 1, uploads: 1, schedulers: 1, gateways: 1, rest: true }, { TDA_ENGINE_THREADS: "1" });
  try {
    // every process of the mesh (fds from /proc/<pid>/fd, RSS from /proc/<pid>/status)
    const pids = mesh.pids();
    const watched = Object.keys(pids);
    const sample = () => Object.fromEntries(watched.map((n) => [n, { fds: fds(pids[n]), rss: rss(pids[n]) }]));
    const longId = await M.upload(mesh.gw, M.csv(LONG_POINTS + 100, 3, 0.61));
    const tinyId = await M.upload(mesh.gw, M.csv(10, 3, 0.62));
    let seq = 0;
    // a job that is running (its watch stays open): a new long one whenever the last ended
    let live = (await call(mesh.gw, "computeVietorisRips", M.ripsRequest(longId, 2, LONG_THRESHOLD + 0.05))).job.jobId;
    let refreshing = false;
    const liveJob = async () => {
      if (!refreshing) {
        refreshing = true;
        const j = (await call(mesh.gw, "getJob", { jobId: live })).job;
        if (M.TERMINAL.has(j.state))
          live = (await call(mesh.gw, "computeVietorisRips", M.ripsRequest(longId, 2, LONG_THRESHOLD + 0.05 + ++seq * 1e-7))).job.jobId;
        refreshing = false;
      }
      return live;
    };
    const doneJob = (await call(mesh.gw, "computeVietorisRips", M.ripsRequest(tinyId, 1, 1))).job.jobId;
    await M.waitTerminal(mesh.gw, [doneJob]);

    const restWatch = (jobId, mode, delay) =>
      new Promise((resolve) => {
        const req = http.get(new URL(`/api/v1/tda/jobs/${jobId}/watch`, mesh.rest), { headers: { "x-api-key": M.API_KEY }, agent: false }, (res) => {
          let lines = 0;
          res.on("data", (c) => {
            lines += String(c).split("\n").length - 1;
            if (mode === "first-line" && lines > 0) req.destroy();
          });
          res.on("end", () => resolve("ended"));
          res.on("close", () => resolve("aborted"));
          if (mode === "headers") req.destroy();
          if (mode === "delay") setTimeout(() => req.destroy(), delay);
        });
        req.on("error", () => resolve("aborted"));
        if (mode === "immediate") setImmediate(() => req.destroy());
      });
    const grpcWatch = (jobId, mode, delay) =>
      new Promise((resolve) => {
        const stream = mesh.gw.watchJob({ jobId }, M.md());
        stream.on("data", () => mode === "first-line" && stream.cancel());
        stream.on("error", () => resolve("aborted"));
        stream.on("end", () => resolve("ended"));
        if (mode === "immediate") stream.cancel();
        if (mode === "delay" || mode === "headers") setTimeout(() => stream.cancel(), delay);
      });
    // warm-up: the code paths and connections exist before the first sample
    await M.pool(40, 10, async (i) => {
      const id = i % 2 ? doneJob : await liveJob();
      await (i % 4 < 2 ? restWatch(id, "delay", 300) : grpcWatch(id, "delay", 300));
    });
    await sleep(3000);
    const before = sample();
    const R = rng(7);
    const outcomes = new Map();
    const t0 = performance.now();
    // --rounds k: k rounds of --n, sampled after each: growth that stops after the first round is
    // the heap settling, growth in every round is kept per watch
    const after = [];
    for (let round = 0; round < o.rounds; round++) {
      await M.pool(o.n, o.conc, async (i) => {
        const id = R.chance(0.8) ? await liveJob() : doneJob;
        const mode = R.pick(["immediate", "headers", "first-line", "delay", "delay"]);
        const how = i % 2 ? "rest" : "grpc";
        const r = await (how === "rest" ? restWatch(id, mode, R.int(1, 800)) : grpcWatch(id, mode, R.int(1, 800)));
        outcomes.set(`${how} ${r}`, (outcomes.get(`${how} ${r}`) ?? 0) + 1);
      });
      await sleep(5000);
      after.push(sample());
    }
    const secs = (performance.now() - t0) / 1000 - 5 * o.rounds;
    // still answering: a full watch of the finished job
    const full = await M.watchAll(mesh.gw, doneJob);
    const pctOf = (a, b) => `${a >= b ? "+" : ""}${fmt((a / b - 1) * 100)} %`;
    const rows = watched.map((n) => {
      const b = before[n];
      const last = after.at(-1)[n];
      const series = after.map((x) => MiB(x[n].rss)).join(" -> ");
      const later = o.rounds > 1 ? `; rounds 2-${o.rounds}: ${pctOf(last.rss, after[0][n].rss)}` : "";
      return `${n.padEnd(10)} fds ${b.fds} -> ${after.map((x) => x[n].fds).join(" -> ")} (${last.fds - b.fds >= 0 ? "+" : ""}${last.fds - b.fds}); RSS ${MiB(b.rss)} -> ${series} MiB (${pctOf(last.rss, b.rss)}${later})`;
    });
    figure(
      `${o.rounds > 1 ? `${o.rounds} rounds of ` : ""}${o.n} aborted watches, half REST half gRPC, ${o.conc} at once, in ${fmt(secs)} s (${machine()})`,
      [
        ...rows,
        `streams: ${[...outcomes]
          .sort()
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}; a full watch afterwards: ${full.length} updates   [goal: fds unchanged, RSS flat]`,
      ],
      `node bench/chaos.js watch-abort --n ${o.n} --conc ${o.conc}${o.rounds > 1 ? ` --rounds ${o.rounds}` : ""}`,
    );
    return { before, after };
  } finally {
    await mesh.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Soak

// Job records live SOAK_RETENTION_S in the soak's mesh, so that what Redis holds reaches its
// bound within the run (the default, 7 days, would make Redis grow with every job by design).
// Its other bound: BullMQ keeps the last SCHEDULER_KEPT_JOBS completed jobs (job-submit.ts).
const SOAK_RETENTION_S = 60;
const SCHEDULER_KEPT_JOBS = 10_000;

/**
 * Follows sampled jobs while the soak runs: each is looked up until it is terminal. Looking
 * them up only after the run would find most records gone (SOAK_RETENTION_S) though the jobs
 * completed. A record that disappears before it was seen terminal counts as `expired`.
 */
function followJobs(client, conc = 8) {
  const pending = new Set();
  const states = new Map();
  let expired = 0;
  let followed = 0;
  let busy = false;
  const sweep = async () => {
    if (busy || pending.size === 0) return;
    busy = true;
    const todo = [...pending];
    await M.pool(todo.length, conc, async (i) => {
      const id = todo[i];
      const r = await call(client, "getJob", { jobId: id }).then(
        (x) => ({ job: x.job }),
        (err) => ({ err }),
      );
      if (r.job && M.TERMINAL.has(r.job.state)) {
        states.set(id, r.job.state);
        pending.delete(id);
      } else if (r.err?.code === grpc.status.NOT_FOUND) {
        expired++;
        pending.delete(id);
      }
    });
    busy = false;
  };
  const timer = setInterval(() => void sweep(), 1000);
  return {
    add: (id) => {
      followed++;
      pending.add(id);
    },
    /** Waits until every followed job was seen terminal (or expired), at most timeoutMs. */
    async finish(timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (pending.size && Date.now() < until) await sleep(500);
      clearInterval(timer);
      return { followed, states, expired, unfinished: pending.size };
    },
  };
}

async function soak(argv) {
  const o = flags(argv, { seconds: 600, rate: 100, soakSeconds: NaN, inflight: 400, sample: 2 });
  if (Number.isFinite(o.soakSeconds)) o.seconds = o.soakSeconds;
  // every Node process of the mesh loads bench/mem-probe.js (its heap by space, external
  // memory, collections), written to probeDir; read back below to say what the RSS is made of
  const probeDir = mkdtempSync(path.join(os.tmpdir(), "tda-soak-probe-"));
  const mesh = await M.startMesh(
    { engines: 1, uploads: 1, schedulers: 1, gateways: 1, rest: true },
    {
      SCHEDULER_CONCURRENCY: "16",
      JOB_RETENTION_SECONDS: String(SOAK_RETENTION_S),
      TDA_ENGINE_THREADS: "1",
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${path.join(__dirname, "mem-probe.js")}`.trim(),
      TDA_MEM_PROBE_DIR: probeDir,
    },
  );
  try {
    const procs = { ...mesh.pids() };
    const kp = kafkaPid();
    // the broker too: the Kafka of deploy/local serves this run (other runs on it add to its RSS)
    if (kp && alive(kp)) procs.kafka = kp;
    const datasets = [];
    for (let i = 0; i < 8; i++) datasets.push(await M.upload(mesh.gw, M.csv(8 + i, 3, 0.1 + i / 100)));
    const samples = [];
    // Redis's own figure beside its RSS: used_memory is what it holds (keys, values, buffers)
    const redisClient = new (require("ioredis"))(mesh.redis.url);
    let redisUsed = NaN;
    const redisTimer = setInterval(() => {
      redisClient.info("memory").then(
        (t) => (redisUsed = Number(/used_memory:(\d+)/.exec(t)?.[1] ?? NaN)),
        () => (redisUsed = NaN),
      );
    }, o.sample * 1000);
    const take = () =>
      samples.push({
        at: Date.now(),
        rss: { ...Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, rss(p)])), "redis used_memory": redisUsed },
      });
    take();
    const followed = followJobs(mesh.gw);
    let sent = 0;
    let ok = 0;
    let skipped = 0;
    let inflight = 0;
    const errors = new Map();
    const lat = [];
    const t0 = performance.now();
    const at0 = Date.now();
    const sampler = setInterval(take, o.sample * 1000);
    // The warm-up lasts until Redis holds all it keeps at this rate: the records of the last
    // SOAK_RETENTION_S and BullMQ's last SCHEDULER_KEPT_JOBS jobs (100 s at 100 jobs/s), and
    // 20 s more; at most a third of the run, at least 60 s (or a tenth of a short run).
    const fill = Math.max(SOAK_RETENTION_S, SCHEDULER_KEPT_JOBS / o.rate) + 20;
    const warm = Math.min(Math.max(60, fill), o.seconds / 3, Math.max(o.seconds / 10, fill)) * 1000;
    // the growth windows: the first `span` ms after the warm-up, the last `span` ms of submitting
    const span = Math.min(60, o.seconds / 5) * 1000;
    let warmSample;
    setTimeout(() => (warmSample = samples.length), warm);
    const total = Math.round(o.rate * o.seconds);
    const pending = new Set();
    const restSubmit = (body) =>
      new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request(
          new URL("/api/v1/tda/compute/vietoris-rips", mesh.rest),
          { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), "x-api-key": M.API_KEY } },
          (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () =>
              res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString()).job.job_id) : reject(new Error(`HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end(data);
      });
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / o.rate - performance.now();
      if (wait > 1) await sleep(wait);
      if (inflight >= o.inflight) {
        skipped++;
        continue;
      }
      inflight++;
      sent++;
      const ds = datasets[i % datasets.length];
      const threshold = i % 3 === 0 ? 1 : 1 + i * 1e-7; // a third repeat (result-cache hits)
      const s0 = performance.now();
      const p = (
        i % 10 === 9
          ? restSubmit({ dataset_id: ds, max_dim: 1, threshold, threads: 1 })
          : call(mesh.gw, "computeVietorisRips", M.ripsRequest(ds, 1, threshold)).then((r) => r.job.jobId)
      ).then(
        (id) => {
          ok++;
          lat.push(performance.now() - s0);
          if (i % 50 === 0) followed.add(id);
        },
        (err) => {
          const k = String(err.details ?? err.message).slice(0, 100);
          errors.set(k, (errors.get(k) ?? 0) + 1);
        },
      );
      p.finally(() => {
        inflight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await Promise.all(pending);
    const atEnd = Date.now();
    const secs = (performance.now() - t0) / 1000;
    // the sampled jobs all end
    const seen = await followed.finish(120_000);
    clearInterval(sampler);
    take();
    clearInterval(redisTimer);
    redisClient.disconnect();
    const completed = [...seen.states.values()].filter((st) => st === JobState.JOB_STATE_COMPLETED).length;
    const notCompleted = seen.followed - completed;
    const first = samples[Math.min(warmSample ?? 1, samples.length - 1)];
    const last = samples.at(-1);
    const start = samples[0];
    const series = [...Object.keys(procs), "redis used_memory"];
    const rows = series.map((n) => {
      const growth = (last.rss[n] / first.rss[n] - 1) * 100;
      const peak = Math.max(
        ...samples
          .slice(warmSample ?? 1)
          .map((s) => s.rss[n])
          .filter(Number.isFinite),
      );
      return `${n.padEnd(10)} at start ${MiB(start.rss[n])}, after warm-up ${MiB(first.rss[n])}, last ${MiB(last.rss[n])} MiB (peak ${MiB(peak)}): ${sign(growth)} %${growth >= 10 ? "  <-- over 10 %" : ""}`;
    });
    // The robust figure: a collector's sawtooth puts one sample anywhere between its trough and
    // its peak, so compare windows, not samples: the floor (minimum) and the ceiling (maximum)
    // of the RSS in the first `span` after the warm-up against those of the last `span` of
    // submitting. Memory kept raises the floor (and the ceiling with it); more headroom taken
    // raises the ceiling. Either over 10 % misses the goal.
    const w1 = [at0 + warm, at0 + warm + span];
    const w2 = [atEnd - span, atEnd];
    const inW = (w, x) => x.at >= w[0] && x.at <= w[1];
    const range = (xs) => (xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN]);
    const windowRows = series.map((n) => {
      const a = range(
        samples
          .filter((x) => inW(w1, x))
          .map((x) => x.rss[n])
          .filter(Number.isFinite),
      );
      const b = range(
        samples
          .filter((x) => inW(w2, x))
          .map((x) => x.rss[n])
          .filter(Number.isFinite),
      );
      const floor = (b[0] / a[0] - 1) * 100;
      const ceil = (b[1] / a[1] - 1) * 100;
      const over = [floor >= 10 && "floor", ceil >= 10 && "ceiling"].filter(Boolean);
      return `${n.padEnd(10)} ${MiB(a[0])}–${MiB(a[1])} -> ${MiB(b[0])}–${MiB(b[1])} MiB: floor ${sign(floor)} %, ceiling ${sign(ceil)} %${over.length ? `  <-- ${over.join(" and ")} over 10 %` : ""}`;
    });
    const probeRows = probeReport(probeDir, procs, w1, w2);
    const now = mesh.pids();
    const changed = Object.keys(now).filter((n) => now[n] !== procs[n] || !alive(now[n]));
    rows.push(`processes died or restarted: ${changed.length ? changed.join(", ") : "none"}   [goal: none]`);
    lat.sort((a, b) => a - b);
    figure(
      `soak: ${o.seconds} s at a target of ${o.rate} jobs/s (${machine()})`,
      [
        `submitted ${ok} (${fmt(ok / secs)} jobs/s achieved${ok / secs < o.rate * 0.95 ? `, below the ${o.rate} target: ${skipped} skipped at ${o.inflight} in flight` : ""}); submit p50 ${fmt(pct(lat, 50), 0)} ms, p99 ${fmt(pct(lat, 99), 0)} ms; errors: ${
          errors.size ? [...errors].map(([m, n]) => `${n}× ${m}`).join("; ") : "none"
        }`,
        `sampled jobs (every 50th, followed while the run goes on): ${completed} of ${seen.followed} completed${
          notCompleted
            ? ` (${seen.expired} expired before they were seen ending, ${seen.unfinished} unfinished 120 s after the last submit, ${seen.states.size - completed} failed or cancelled)`
            : ""
        }`,
        warm / 1000 >= fill
          ? `warm-up ${fmt(warm / 1000, 0)} s: until Redis holds all it keeps at this rate (job records ${SOAK_RETENTION_S} s, BullMQ's last ${SCHEDULER_KEPT_JOBS} jobs), + 20 s`
          : `warm-up ${fmt(warm / 1000, 0)} s, cut short by the run's length: Redis fills to what it keeps in ${fmt(fill, 0)} s at this rate, so its growth here is that filling`,
        `RSS, one sample against one (the first after a ${fmt(warm / 1000, 0)} s warm-up against the last, ${samples.length} samples every ${o.sample} s; goal: growth < 10 %):`,
        ...rows.map((r) => `  ${r}`),
        `RSS by window, min–max of the first ${fmt(span / 1000, 0)} s after the warm-up -> of the last ${fmt(span / 1000, 0)} s of submitting (goal: floor and ceiling both < 10 %):`,
        ...windowRows.map((r) => `  ${r}`),
        `Node processes, what the RSS is made of (bench/mem-probe.js; min–max in each window, MiB):`,
        ...probeRows.map((r) => `  ${r}`),
      ],
      `node bench/chaos.js soak --seconds ${o.seconds} --rate ${o.rate}`,
    );
    return { rows, windowRows };
  } finally {
    await mesh.stop();
    if (!process.env.KEEP_CHAOS_LOGS) rmSync(probeDir, { recursive: true, force: true });
    else console.log(`memory probes kept in ${probeDir}`);
  }
}

const sign = (x) => `${x >= 0 ? "+" : ""}${fmt(x)}`;

/** Rows of what each probed Node process's memory is made of, window w1 against window w2. */
function probeReport(dir, procs, w1, w2) {
  const rows = [];
  for (const [n, pid] of Object.entries(procs)) {
    let lines;
    try {
      lines = readFileSync(path.join(dir, `${pid}.jsonl`), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    } catch {
      continue; // not a Node process
    }
    const fields = {
      rss: (x) => x.rss,
      heapTotal: (x) => x.heapTotal,
      heapUsed: (x) => x.heapUsed,
      "live after major GC": (x) => x.liveAfterMajor,
      "new space": (x) => x.spaces.new?.[0],
      "old space": (x) => x.spaces.old?.[0],
      "code+large": (x) =>
        (x.spaces.code?.[0] ?? 0) + (x.spaces.large_object?.[0] ?? 0) + (x.spaces.new_large_object?.[0] ?? 0) + (x.spaces.code_large_object?.[0] ?? 0),
      external: (x) => x.external,
      arrayBuffers: (x) => x.arrayBuffers,
      "anon RSS": (x) => x.anon,
      "file RSS": (x) => x.file,
      "malloc [heap]": (x) => x.malloc,
    };
    const a = lines.filter((x) => x.at >= w1[0] && x.at <= w1[1]);
    const b = lines.filter((x) => x.at >= w2[0] && x.at <= w2[1]);
    const mm = (xs, f) => {
      const v = xs.map(f).filter((y) => Number.isFinite(y));
      return v.length ? `${MiB(Math.min(...v))}–${MiB(Math.max(...v))}` : "n/a";
    };
    const gcs = (xs, k) => xs.reduce((s, x) => s + x[k], 0);
    rows.push(
      `${n.padEnd(10)} ${Object.entries(fields)
        .map(([k, f]) => `${k} ${mm(a, f)} -> ${mm(b, f)}`)
        .join(", ")}; collections major/minor ${gcs(a, "major")}/${gcs(a, "minor")} -> ${gcs(b, "major")}/${gcs(b, "minor")}`,
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

const SCENARIOS = { "kafka-pause": kafkaPause, "engine-kill": engineKill, "upload-fuzz": uploadFuzz, "watch-abort": watchAbort, soak };

async function main() {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || !(name in SCENARIOS || name === "all")) {
    console.error(`usage: node bench/chaos.js <${[...Object.keys(SCENARIOS), "all"].join("|")}> [flags]`);
    process.exit(2);
  }
  if (name === "all") {
    for (const [n, fn] of Object.entries(SCENARIOS)) await fn(n === "soak" ? rest : []);
  } else await SCENARIOS[name](rest);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
