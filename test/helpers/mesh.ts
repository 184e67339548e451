import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, mkdirSync, rmSync, existsSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import IORedis from "ioredis";
import { waitForHealthy } from "@tda/common";

// Starts the real mesh for a test suite: the C++ engine and the three TS
// services as separate processes on free loopback ports, against the Redis and
// Kafka that the test run started (REDIS_URL, KAFKA_BROKERS).

export const ROOT = resolve(__dirname, "../..");
export const ENGINE_BIN = join(ROOT, "engine-cpp/build/tda-engine");
export const FIXTURES = join(ROOT, "test/fixtures");
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startProcess(name: string, cmd: string, args: string[], env: Record<string, string>, logDir: string): Proc {
  const logFile = join(logDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return {
    name,
    child,
    logFile,
    stop: (signal = "SIGTERM") =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        const t = setTimeout(() => child.kill("SIGKILL"), 8000);
        child.once("exit", () => {
          clearTimeout(t);
          res();
        });
        child.kill(signal);
      }),
  };
}

export interface Mesh {
  gateway: string;
  upload: string;
  scheduler: string;
  engines: string[];
  procs: Proc[];
  dataDir: string;
  logDir: string;
  stop(): Promise<void>;
}

export interface MeshOptions {
  engines?: number;
  env?: Record<string, string>;
  /** Redis logical database of this mesh, emptied at start (isolates suites from each other and from a dev mesh on db 0). */
  redisDb?: number;
}

/** REDIS_URL pointing at logical database `db`, emptied first. */
export async function freshRedisDb(db: number): Promise<string> {
  const u = new URL(REDIS_URL);
  u.pathname = `/${db}`;
  const r = new IORedis(u.toString(), { maxRetriesPerRequest: 3 });
  try {
    await r.flushdb();
  } finally {
    r.disconnect();
  }
  return u.toString();
}

/** Starts engine(s), upload, scheduler and gateway; resolves once all answer health checks. */
export async function startMesh(opts: MeshOptions = {}): Promise<Mesh> {
  if (!existsSync(ENGINE_BIN)) throw new Error(`engine binary missing: ${ENGINE_BIN} (run the build first)`);
  const work = mkdtempSync(join(tmpdir(), "tda-mesh-test-"));
  const dataDir = join(work, "data");
  const logDir = join(work, "logs");
  mkdirSync(logDir, { recursive: true });
  const procs: Proc[] = [];
  const redisUrl = await freshRedisDb(opts.redisDb ?? 9);
  const common = { REDIS_URL: redisUrl, KAFKA_BROKERS, TDA_DATA_DIR: dataDir, LOG_LEVEL: "info", ...(opts.env ?? {}) };
  try {
    const engines: string[] = [];
    for (let i = 0; i < (opts.engines ?? 1); i++) {
      const port = await freePort();
      procs.push(startProcess(`engine-${i}`, ENGINE_BIN, ["serve", "--port", String(port), "--threads", "2"], {}, logDir));
      engines.push(`127.0.0.1:${port}`);
    }
    const [up, sp, gp] = [await freePort(), await freePort(), await freePort()];
    const upload = `127.0.0.1:${up}`;
    const scheduler = `127.0.0.1:${sp}`;
    const gateway = `127.0.0.1:${gp}`;
    const node = process.execPath;
    procs.push(startProcess("upload", node, [join(ROOT, "services/upload/dist/main.js")], { ...common, UPLOAD_PORT: String(up) }, logDir));
    procs.push(startProcess("scheduler", node, [join(ROOT, "services/scheduler/dist/main.js")], { ...common, SCHEDULER_PORT: String(sp), UPLOAD_ADDRESS: upload, ENGINE_ADDRESSES: engines.join(",") }, logDir));
    procs.push(startProcess("gateway", node, [join(ROOT, "gateway/dist/main.js")], { ...common, GATEWAY_PORT: String(gp), UPLOAD_ADDRESS: upload, SCHEDULER_ADDRESS: scheduler }, logDir));
    for (const e of engines) await waitForHealthy(e, "", 30000);
    await waitForHealthy(upload, "", 30000);
    await waitForHealthy(scheduler, "", 30000);
    await waitForHealthy(gateway, "", 30000);
    return {
      gateway, upload, scheduler, engines, procs, dataDir, logDir,
      async stop() {
        for (const p of [...procs].reverse()) await p.stop();
        if (!process.env.KEEP_TEST_LOGS) rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const p of procs) await p.stop("SIGKILL");
    const logs = procs.map((p) => `--- ${p.name}: ${p.logFile}`).join("\n");
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}
