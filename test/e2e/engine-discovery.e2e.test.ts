import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, waitForHealthy } from "@tda/common";
import { createEnginePool, createEngineResolver } from "@tda/scheduler";
import { ENGINE_BIN, freePort, startMesh, startProcess, type Mesh, type Proc } from "../helpers/mesh";
import { startTestDnsServer, type TestDnsServer } from "../helpers/dns-server";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-redis";
import { gatewayClient, type Gateway } from "../helpers/client";
import { JobState, NO_METRICS_PORTS, submitRips, uploadCloud, waitTerminal } from "../helpers/jobs";

// Engines scale out behind one name: real engine processes on 127.0.0.2-5 (one
// port), a real DNS server on loopback that the test edits while the scheduler
// runs, and the real scheduler resolving the name through it (as it resolves a
// Kubernetes headless Service): jobs spread over every engine, and engines that
// leave or join the name are picked up without a restart.

jest.setTimeout(240_000);

const NAME = "engines.tda.test";
const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];

let dns: TestDnsServer;
let port: number;
let logDir: string;
const engines = new Map<string, Proc>();
let privateRedis: PrivateRedis | undefined;
let mesh: Mesh | undefined;
let gw: Gateway;
let cloud: string;

async function startEngine(host: string): Promise<void> {
  const p = startProcess(`engine-${host}`, ENGINE_BIN, ["serve", "--host", host, "--port", String(port), "--threads", "1"], {}, logDir);
  engines.set(host, p);
  await waitForHealthy(`${host}:${port}`, "", 30_000);
}

const at = (hosts: string[]) => hosts.map((h) => `${h}:${port}`).sort();

/** Submits `n` distinct jobs (no result cache hit) and returns the engines that ran them. */
async function runJobs(n: number, salt: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await submitRips(gw, cloud, { maxDim: 2, threshold: 0.45 + salt + i * 1e-4 })).jobId);
  const done = await waitTerminal(gw, ids, 180_000);
  expect(done.map((j) => JobState[j.state])).toEqual(ids.map(() => "JOB_STATE_COMPLETED"));
  return done.map((j) => j.engine);
}

beforeAll(async () => {
  dns = await startTestDnsServer();
  port = await freePort();
  logDir = mkdtempSync(join(tmpdir(), "tda-discovery-"));
  for (const h of HOSTS) await startEngine(h);
  dns.set(NAME, { a: HOSTS.slice(0, 3) });
  dns.set(`_grpc._tcp.${NAME}`, { srv: HOSTS.slice(0, 2).map((h, i) => ({ target: `e${i}.${NAME}`, port })) });
  HOSTS.forEach((h, i) => dns.set(`e${i}.${NAME}`, { a: [h] }));
  privateRedis = await startPrivateRedis();
  mesh = await startMesh({
    engines: 0,
    redisUrl: privateRedis.url,
    env: { ...NO_METRICS_PORTS, SCHEDULER_ENGINE_PROBE_MS: "500" },
    schedulerEnv: { ENGINE_ADDRESSES: `${NAME}:${port}`, ENGINE_DNS_SERVERS: dns.address, ENGINE_DISCOVERY_MS: "300", SCHEDULER_CONCURRENCY: "6" },
  });
  gw = gatewayClient(mesh.gateway);
  cloud = await uploadCloud(gw, 160, 3, 0.25);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
  for (const p of engines.values()) await p.stop();
  await privateRedis?.stop();
  await dns?.close();
  if (!process.env.KEEP_TEST_LOGS && logDir) rmSync(logDir, { recursive: true, force: true });
});

test("the pool finds every engine behind an A name and an SRV name, and follows changes", async () => {
  const log = createLogger("test", "silent");
  const resolver = createEngineResolver([dns.address]);
  const byA = createEnginePool([`${NAME}:${port}`], 3_600_000, log, { resolver, refreshMs: 3_600_000 });
  const bySrv = createEnginePool([`srv:_grpc._tcp.${NAME}`], 3_600_000, log, { resolver, refreshMs: 3_600_000 });
  try {
    await byA.probe();
    await bySrv.probe();
    expect(byA.engines().map((e) => [e.address, e.healthy])).toEqual(at(HOSTS.slice(0, 3)).map((a) => [a, true]));
    expect(bySrv.engines().map((e) => e.address)).toEqual(at(HOSTS.slice(0, 2)));
    // least outstanding across every engine behind the name
    const picked = Array.from({ length: 6 }, () => byA.acquire());
    expect(byA.engines().map((e) => e.outstanding)).toEqual([2, 2, 2]);
    // an engine leaves while it has calls: not picked again, dropped once they end
    dns.set(NAME, { a: HOSTS.slice(1, 4) });
    await byA.probe();
    expect(byA.engines().map((e) => e.address)).toEqual(at(HOSTS.slice(1, 4)));
    for (let i = 0; i < 2; i++) expect(byA.acquire().address).toBe(`${HOSTS[3]}:${port}`);
    for (const e of picked) byA.release(e);
    // a name that no longer exists empties the pool: acquire says so (retryable) instead of calling a stale address
    dns.set(NAME, undefined);
    await byA.probe();
    expect(byA.engines()).toEqual([]);
    expect(() => byA.acquire()).toThrow(/no engine/);
  } finally {
    dns.set(NAME, { a: HOSTS.slice(0, 3) });
    byA.close();
    bySrv.close();
  }
});

test("the scheduler spreads jobs over every engine behind the name", async () => {
  const used = await runJobs(9, 0);
  expect([...new Set(used)].sort()).toEqual(at(HOSTS.slice(0, 3)));
});

test("an engine leaving the name and one joining are picked up without a restart", async () => {
  const scheduler = mesh!.procs.find((p) => p.name === "scheduler")!;
  const pid = scheduler.child.pid;
  dns.set(NAME, { a: HOSTS.slice(1, 4) });
  await engines.get(HOSTS[0]!)!.stop();
  // a few refresh intervals (300 ms) and health probes (500 ms)
  await new Promise((r) => setTimeout(r, 2000));
  const used = await runJobs(9, 0.01);
  expect(new Set(used).has(`${HOSTS[0]}:${port}`)).toBe(false);
  expect([...new Set(used)].sort()).toEqual(at(HOSTS.slice(1, 4)));
  expect(scheduler.child.pid).toBe(pid);
  expect(scheduler.child.exitCode).toBeNull();
});
