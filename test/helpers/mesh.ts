import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, mkdirSync, rmSync, existsSync, createWriteStream, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import IORedis from "ioredis";
import { waitForHealthy, type MeshTls } from "@tda/common";

// Starts the real mesh for a test suite: the C++ engine and the three TS
// services as separate processes on free loopback ports, against the Redis and
// Kafka that the test run started (REDIS_URL, KAFKA_BROKERS).

export const ROOT = resolve(__dirname, "../..");
export const ENGINE_BIN = join(ROOT, "engine-cpp/build/tda-engine");
export const FIXTURES = join(ROOT, "test/fixtures");
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";

// Ports are drawn below the kernel's ephemeral range: a port that listen(0)
// hands out lies inside that range, where any outgoing connection (the services'
// Redis and Kafka clients, other suites' meshes) may take it as its local port
// between the probe and the process binding it; a mesh then never becomes
// healthy. Below the range only listeners compete, and each port is probed.
const EPHEMERAL_LOW = ((): number => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isFinite(low) && low > 12000 ? low : 32768;
  } catch {
    return 32768;
  }
})();
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10000 + Math.floor(Math.random() * (EPHEMERAL_LOW - 10000));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port below ${EPHEMERAL_LOW} after 200 tries`);
}

/** The last `lines` lines of a log file ("" when it cannot be read). */
export function logTail(file: string, lines = 12): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** How it was started (used by restartProcess). */
  spec?: { cmd: string; args: string[]; env: Record<string, string>; logDir: string };
}

export function startProcess(name: string, cmd: string, args: string[], env: Record<string, string>, logDir: string): Proc {
  const logFile = join(logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: "a" });
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return {
    name,
    child,
    logFile,
    spec: { cmd, args, env, logDir },
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
  /** Base URL of the REST proxy (tda-rest), when started with `rest: true`. */
  rest?: string;
  /** /metrics URLs of the TS services and of each engine (each on its own free port). */
  metrics: { gateway: string; upload: string; scheduler: string; engines: string[] };
  procs: Proc[];
  /** TDA_MESH_KEY of this mesh (signs the tenant on internal hops). */
  meshKey: string;
  dataDir: string;
  logDir: string;
  /** With `tls: true`: the certificates' directory and a mesh peer's identity (the gateway's) for the test's own calls to internal ports. */
  tls?: { dir: string; peer: MeshTls };
  stop(): Promise<void>;
}

export interface MeshOptions {
  engines?: number;
  env?: Record<string, string>;
  /** Redis logical database of this mesh, emptied at start (isolates suites from each other and from a dev mesh on db 0). */
  redisDb?: number;
  /** A Redis of the suite's own (e.g. startPrivateRedis()) instead of a logical database of the shared one; emptied at start. */
  redisUrl?: string;
  /** Also start the REST proxy (build/bin/tda-rest) in front of the gateway. */
  rest?: boolean;
  /** Extra environment of the gateway process only (e.g. API keys, JWT keys). */
  gatewayEnv?: Record<string, string>;
  /** Extra environment of the engine processes only (e.g. TDA_ENGINE_MEMORY_LIMIT). */
  engineEnv?: Record<string, string>;
  /** Extra environment of the scheduler process only, applied last (e.g. ENGINE_ADDRESSES naming engines the test started). */
  schedulerEnv?: Record<string, string>;
  /**
   * Tracing for every process (TS services, engines, REST proxy): spans are exported
   * to this OTLP/gRPC endpoint (e.g. a Jaeger started by the suite); the REST proxy's
   * trace route reads `traceQueryUrl`.
   */
  tracing?: { otlpEndpoint: string; traceQueryUrl?: string };
  /** Mutual TLS between the mesh processes, with certificates made by deploy/local/make-certs.sh. */
  tls?: boolean;
}

/** Makes the mesh's certificates in `dir` (deploy/local/make-certs.sh) and reads a process kind's identity. */
export function makeMeshCerts(dir: string): { env(kind: string): Record<string, string>; identity(kind: string): MeshTls } {
  const r = spawnSync("bash", [join(ROOT, "deploy/local/make-certs.sh"), dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`make-certs.sh failed: ${r.stderr}`);
  const env = (kind: string) => ({ TDA_TLS_CA: join(dir, "ca.crt"), TDA_TLS_CERT: join(dir, `${kind}.crt`), TDA_TLS_KEY: join(dir, `${kind}.key`) });
  return {
    env,
    identity: (kind) => ({
      ca: readFileSync(join(dir, "ca.crt")),
      cert: readFileSync(join(dir, `${kind}.crt`)),
      key: readFileSync(join(dir, `${kind}.key`)),
      caPath: join(dir, "ca.crt"),
    }),
  };
}

export const REST_BIN = join(ROOT, "build/bin/tda-rest");

/** A gateway given no API keys or JWT keys runs with authentication explicitly off (it refuses to start otherwise). */
export function authOffUnlessKeyed(gatewayEnv: Record<string, string> = {}): Record<string, string> {
  return gatewayEnv.GATEWAY_API_KEYS || gatewayEnv.GATEWAY_JWT_PUBLIC_KEYS ? {} : { GATEWAY_AUTH_DISABLED: "true" };
}

/** Polls `url` until it answers (any HTTP status). */
export async function waitForHttp(url: string, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
}

/** `url` (e.g. a private redis-server of the suite), emptied first. */
export async function emptiedRedis(url: string): Promise<string> {
  const r = new IORedis(url, { maxRetriesPerRequest: 3 });
  try {
    await r.flushdb();
  } finally {
    r.disconnect();
  }
  return url;
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
  if (opts.rest && !existsSync(REST_BIN)) throw new Error(`REST proxy binary missing: ${REST_BIN} (run gateway/rest/build.sh)`);
  const work = mkdtempSync(join(tmpdir(), "tda-mesh-test-"));
  const dataDir = join(work, "data");
  const logDir = join(work, "logs");
  mkdirSync(logDir, { recursive: true });
  const procs: Proc[] = [];
  const redisUrl = opts.redisUrl ? await emptiedRedis(opts.redisUrl) : await freshRedisDb(opts.redisDb ?? 9);
  const tracing: Record<string, string> = opts.tracing ? { OTEL_EXPORTER_OTLP_ENDPOINT: opts.tracing.otlpEndpoint } : {};
  // the mesh's shared key: the gateway signs the tenant for upload and scheduler with it
  const meshKey = opts.env?.TDA_MESH_KEY ?? randomBytes(32).toString("hex");
  const certs = opts.tls ? makeMeshCerts(join(work, "tls")) : undefined;
  const tlsEnv = (kind: string): Record<string, string> => certs?.env(kind) ?? {};
  const peer = certs?.identity("gateway");
  const common = { REDIS_URL: redisUrl, KAFKA_BROKERS, TDA_DATA_DIR: dataDir, LOG_LEVEL: "info", TDA_MESH_KEY: meshKey, ...tracing, ...(opts.env ?? {}) };
  try {
    const engines: string[] = [];
    const engineMetrics: string[] = [];
    for (let i = 0; i < (opts.engines ?? 1); i++) {
      const [port, mport] = [await freePort(), await freePort()];
      procs.push(
        startProcess(
          `engine-${i}`,
          ENGINE_BIN,
          ["serve", "--port", String(port), "--threads", "2"],
          { TDA_ENGINE_METRICS_PORT: String(mport), ...tracing, ...tlsEnv("engine"), ...(opts.engineEnv ?? {}) },
          logDir,
        ),
      );
      engines.push(`127.0.0.1:${port}`);
      engineMetrics.push(`http://127.0.0.1:${mport}/metrics`);
    }
    const [up, sp, gp] = [await freePort(), await freePort(), await freePort()];
    const upload = `127.0.0.1:${up}`;
    const scheduler = `127.0.0.1:${sp}`;
    const gateway = `127.0.0.1:${gp}`;
    // Metrics servers on free ports too, so meshes of parallel suites never collide.
    const [um, sm, gm] = [await freePort(), await freePort(), await freePort()];
    const metrics = {
      gateway: `http://127.0.0.1:${gm}/metrics`,
      upload: `http://127.0.0.1:${um}/metrics`,
      scheduler: `http://127.0.0.1:${sm}/metrics`,
      engines: engineMetrics,
    };
    const node = process.execPath;
    procs.push(
      startProcess(
        "upload",
        node,
        [join(ROOT, "services/upload/dist/main.js")],
        { ...common, ...tlsEnv("upload"), UPLOAD_PORT: String(up), UPLOAD_METRICS_PORT: String(um) },
        logDir,
      ),
    );
    procs.push(
      startProcess(
        "scheduler",
        node,
        [join(ROOT, "services/scheduler/dist/main.js")],
        {
          ...common,
          ...tlsEnv("scheduler"),
          SCHEDULER_PORT: String(sp),
          SCHEDULER_METRICS_PORT: String(sm),
          UPLOAD_ADDRESS: upload,
          ENGINE_ADDRESSES: engines.join(","),
          ...(opts.schedulerEnv ?? {}),
        },
        logDir,
      ),
    );
    procs.push(
      startProcess(
        "gateway",
        node,
        [join(ROOT, "gateway/dist/main.js")],
        {
          ...common,
          ...tlsEnv("gateway"),
          GATEWAY_PORT: String(gp),
          GATEWAY_METRICS_PORT: String(gm),
          UPLOAD_ADDRESS: upload,
          SCHEDULER_ADDRESS: scheduler,
          ...authOffUnlessKeyed(opts.gatewayEnv),
          ...(opts.gatewayEnv ?? {}),
        },
        logDir,
      ),
    );
    let rest: string | undefined;
    if (opts.rest) {
      const rp = await freePort();
      rest = `http://127.0.0.1:${rp}`;
      procs.push(
        startProcess(
          "rest",
          REST_BIN,
          [],
          {
            REST_HOST: "127.0.0.1",
            REST_PORT: String(rp),
            GATEWAY_ADDRESS: gateway,
            UPLOAD_ADDRESS: upload,
            SCHEDULER_ADDRESS: scheduler,
            ENGINE_ADDRESSES: engines.join(","),
            REST_LOG_LEVEL: "info",
            ...tracing,
            ...(opts.tracing?.traceQueryUrl ? { REST_TRACE_QUERY_URL: opts.tracing.traceQueryUrl } : {}),
          },
          logDir,
        ),
      );
    }
    for (const e of engines) await waitForHealthy(e, "", 30000, peer);
    await waitForHealthy(upload, "", 30000, peer);
    await waitForHealthy(scheduler, "", 30000, peer);
    await waitForHealthy(gateway, "", 30000); // (the public port: no client certificate)
    if (rest) await waitForHttp(`${rest}/openapi.json`, 30000);
    return {
      gateway,
      upload,
      scheduler,
      engines,
      rest,
      metrics,
      procs,
      meshKey,
      dataDir,
      logDir,
      tls: certs && peer ? { dir: join(work, "tls"), peer } : undefined,
      async stop() {
        for (const p of [...procs].reverse()) await p.stop();
        if (!process.env.KEEP_TEST_LOGS) rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    // (which processes had already exited, before the kill below ends the rest)
    const exited = procs.map((p) => (p.child.exitCode !== null || p.child.signalCode !== null ? ` (exited: ${p.child.exitCode ?? p.child.signalCode})` : ""));
    for (const p of procs) await p.stop("SIGKILL");
    const logs = procs.map((p, i) => `--- ${p.name}${exited[i]}: ${p.logFile}\n${logTail(p.logFile)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/**
 * Starts the mesh process `name` (e.g. "scheduler", "engine-1") again with the
 * same command, environment and port, after it was stopped or killed; the new
 * process replaces the old one in `mesh.procs` (so mesh.stop() stops it) and
 * its output is appended to the same log file. Resolves once it is healthy.
 */
export async function restartProcess(mesh: Mesh, name: string, healthTimeoutMs = 60000): Promise<Proc> {
  const i = mesh.procs.findIndex((p) => p.name === name);
  const old = mesh.procs[i];
  if (!old?.spec) throw new Error(`no restartable process named ${name}`);
  await old.stop("SIGKILL");
  const { cmd, args, env, logDir } = old.spec;
  const fresh = startProcess(name, cmd, args, env, logDir);
  mesh.procs[i] = fresh;
  const address =
    name === "scheduler"
      ? mesh.scheduler
      : name === "upload"
        ? mesh.upload
        : name === "gateway"
          ? mesh.gateway
          : name.startsWith("engine-")
            ? mesh.engines[Number(name.slice(7))]
            : undefined;
  if (address) await waitForHealthy(address, "", healthTimeoutMs, name === "gateway" ? undefined : mesh.tls?.peer);
  return fresh;
}

/** The process of the mesh named `name` ("engine-0", "scheduler", ...). */
export function procOf(mesh: Mesh, name: string): Proc {
  const p = mesh.procs.find((x) => x.name === name);
  if (!p) throw new Error(`no process named ${name}`);
  return p;
}
