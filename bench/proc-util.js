"use strict";
// Process and load helpers shared by the bench scripts (Linux /proc).
const { spawn } = require("node:child_process");
const { createWriteStream, readFileSync } = require("node:fs");
const net = require("node:net");
const path = require("node:path");

/** A free TCP port on the loopback interface. */
function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ=100
  } catch {
    return NaN;
  }
}

// The children still running: killed when this process exits, however it
// exits (a bench that throws, or whose stdout was a pipe closed early, would
// otherwise leave its services running and loading the machine).
const live = new Set();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts `cmd` with `env` added, its stdout and stderr in `<logDir>/<name>.log`. */
function start(name, cmd, args, env, logDir) {
  const out = createWriteStream(path.join(logDir, `${name}.log`));
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  return { name, child };
}

/** Starts a redis-server of its own (no persistence) on a free port; resolves once it answers. */
async function startRedis(dir, logDir) {
  const IORedis = require("ioredis");
  const port = await freePort();
  const proc = start("redis", "redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir], {}, logDir);
  const url = `redis://127.0.0.1:${port}/0`;
  for (let i = 0; ; i++) {
    const probe = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    const ok = await probe
      .connect()
      .then(() => probe.ping())
      .then(
        () => true,
        () => false,
      );
    probe.disconnect();
    if (ok) return { ...proc, url };
    if (i > 100 || proc.child.exitCode !== null) {
      proc.child.kill("SIGKILL");
      throw new Error("redis-server did not start");
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The pid of the Kafka broker deploy/local started (its pid file), or 0. */
function kafkaPid() {
  try {
    const dir = process.env.TDA_PID_DIR ?? path.join(process.env.TDA_RUN_DIR ?? path.join(__dirname, "..", ".run"), "pids");
    return Number(readFileSync(path.join(dir, "kafka.pid"), "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

/** Element `p` % of the way through ascending `sorted` (NaN when empty). */
function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Closed loop: `fn()` `n` times, `conc` at once; resolves with the seconds it took. */
async function closedLoop(n, conc, fn) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        next++;
        await fn();
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

/**
 * Open loop: starts `fn()` `rate` times a second for `seconds`, whatever the
 * earlier calls do; resolves once all settled with how many were started and
 * the seconds the starting took.
 */
async function openLoop(rate, seconds, fn) {
  const pending = [];
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((res) => setTimeout(res, wait));
    pending.push(fn());
  }
  const sendSecs = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  return { total, sendSecs };
}

module.exports = { freePort, cpuSeconds, start, startRedis, kafkaPid, pct, closedLoop, openLoop };
