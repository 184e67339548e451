"use strict";
// What the REST benches share: one JSON request to tda-rest, a job's NDJSON watch stream
// followed to its terminal update, and a mesh with the REST proxy started for the bench.
const http = require("node:http");
const path = require("node:path");
const { freePort, start, startRedis } = require("./proc-util");

const ROOT = path.resolve(__dirname, "..");

/** One JSON request; rejects on an HTTP status >= 300 with the body's start. */
function request(base, method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(p, base), { method, headers: { ...(body ? { "content-length": Buffer.byteLength(body) } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode >= 300) return reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 300)}`));
        resolve(text ? JSON.parse(text) : {});
      });
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Follows the job's NDJSON watch stream until a terminal update; resolves with every update, each with `receivedAt` (performance.now()). */
function watchJob(base, jobId) {
  return new Promise((resolve, reject) => {
    const updates = [];
    const req = http.get(new URL(`/api/v1/tda/jobs/${jobId}/watch`, base), (res) => {
      let buf = "";
      res.on("data", (c) => {
        buf += c.toString("utf8");
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line);
          if (msg.error) return reject(new Error(JSON.stringify(msg.error)));
          const u = msg.result?.update ?? msg.result ?? msg;
          updates.push({ ...u, receivedAt: performance.now() });
          if (/COMPLETED|FAILED|CANCELLED/.test(String(u.state))) {
            req.destroy();
            return resolve(updates);
          }
        }
      });
      res.on("error", reject);
    });
    req.on("error", (e) => (e.code === "ECONNRESET" ? undefined : reject(e)));
  });
}

/**
 * A mesh on free loopback ports for one bench: a redis-server of its own (in `work`), one
 * engine with `threads` threads, upload, scheduler, gateway (authentication off) and the
 * REST proxy, against the Kafka at `kafkaBrokers`; logs in `work`. Resolves once all answer
 * their health checks, with the REST base URL, the engine's pid and stop().
 */
async function startRestMesh(work, { threads, kafkaBrokers }) {
  const common = require(path.join(ROOT, "services/common/dist/index.js"));
  const procs = [];
  const redis = await startRedis(work, work);
  procs.push(redis);
  const [ep, up, sp, gp, rp] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    REDIS_URL: redis.url,
    KAFKA_BROKERS: kafkaBrokers,
    TDA_DATA_DIR: path.join(work, "data"),
    LOG_LEVEL: "warn",
    GATEWAY_METRICS_PORT: "0",
    UPLOAD_METRICS_PORT: "0",
    SCHEDULER_METRICS_PORT: "0",
    GATEWAY_AUTH_DISABLED: "true",
  };
  const node = process.execPath;
  const engine = start("engine", path.join(ROOT, "engine-cpp/build/tda-engine"), ["serve", "--port", String(ep), "--threads", String(threads)], {}, work);
  procs.push(engine);
  procs.push(start("upload", node, [path.join(ROOT, "services/upload/dist/main.js")], { ...env, UPLOAD_PORT: String(up) }, work));
  const addrs = { UPLOAD_ADDRESS: `127.0.0.1:${up}`, SCHEDULER_ADDRESS: `127.0.0.1:${sp}`, ENGINE_ADDRESSES: `127.0.0.1:${ep}` };
  procs.push(start("scheduler", node, [path.join(ROOT, "services/scheduler/dist/main.js")], { ...env, ...addrs, SCHEDULER_PORT: String(sp) }, work));
  procs.push(start("gateway", node, [path.join(ROOT, "gateway/dist/main.js")], { ...env, ...addrs, GATEWAY_PORT: String(gp) }, work));
  procs.push(
    start(
      "rest",
      path.join(ROOT, "build/bin/tda-rest"),
      [],
      { REST_HOST: "127.0.0.1", REST_PORT: String(rp), GATEWAY_ADDRESS: `127.0.0.1:${gp}`, ...addrs, REST_LOG_LEVEL: "warn" },
      work,
    ),
  );
  const base = `http://127.0.0.1:${rp}`;
  const stop = async () => {
    for (const p of [...procs].reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill("SIGTERM");
      await new Promise((res) => {
        const t = setTimeout(() => (p.child.kill("SIGKILL"), res()), 8000);
        p.child.once("exit", () => (clearTimeout(t), res()));
      });
    }
  };
  try {
    for (const a of [ep, up, sp, gp]) await common.waitForHealthy(`127.0.0.1:${a}`, "", 60000);
    for (let i = 0; ; i++) {
      try {
        await request(base, "GET", "/health");
        break;
      } catch (e) {
        if (i > 150) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, enginePid: engine.child.pid, stop };
}

module.exports = { request, watchJob, startRestMesh };
