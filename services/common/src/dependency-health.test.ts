import IORedis from "ioredis";
import type { Server } from "@grpc/grpc-js";
import type { HealthImplementation } from "grpc-health-check";
import { createLogger } from "./logger";
import { addHealth, bind, createServer, shutdown } from "./grpc";
import { checkHealth, createHealthClient } from "./health-client";
import { createDependencyMonitor, redisCheck } from "./dependency-health";

const log = createLogger("test", "silent");

let server: Server;
let health: HealthImplementation;
let client: ReturnType<typeof createHealthClient>;

beforeAll(async () => {
  server = createServer();
  health = addHealth(server, ["tda.x.v1.X"]);
  const port = await bind(server, "127.0.0.1", 0);
  client = createHealthClient(`127.0.0.1:${port}`);
});

afterAll(async () => {
  client.close();
  await shutdown(server, 1000);
});

/** What a caller of the standard health check sees. */
async function statusOf(_h: HealthImplementation, name: string): Promise<string> {
  return (await checkHealth(client, name, 2000)) ? "SERVING" : "NOT_SERVING";
}

test("the service status follows its dependencies down and back up", async () => {
  let up = true;
  const monitor = createDependencyMonitor({
    health,
    names: ["", "tda.x.v1.X"],
    checks: [{ name: "dep", check: async () => up }],
    pollMs: 10_000,
    timeoutMs: 200,
    log,
  });
  await monitor.start();
  expect(await statusOf(health, "tda.x.v1.X")).toBe("SERVING");
  up = false;
  expect(await monitor.poll()).toBe(false);
  expect(await statusOf(health, "")).toBe("NOT_SERVING");
  expect(monitor.snapshot()).toEqual({ dep: false });
  // each dependency's own state is published under "dependency/<name>" (for Health/List)
  expect(await statusOf(health, "dependency/dep")).toBe("NOT_SERVING");
  up = true;
  expect(await monitor.poll()).toBe(true);
  expect(await statusOf(health, "")).toBe("SERVING");
  expect(await statusOf(health, "dependency/dep")).toBe("SERVING");
  // A check that hangs counts as down after the timeout.
  const hanging = createDependencyMonitor({
    health,
    names: [""],
    checks: [{ name: "slow", check: () => new Promise<boolean>(() => undefined) }],
    pollMs: 10_000,
    timeoutMs: 100,
    log,
  });
  expect(await hanging.poll()).toBe(false);
  await hanging.close();
  await monitor.close();
  expect(await statusOf(health, "")).toBe("NOT_SERVING");
});

test("redisCheck: true against the test run's Redis, false against a closed port", async () => {
  const good = new IORedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6390", { lazyConnect: false });
  const bad = new IORedis("redis://127.0.0.1:1", { lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  bad.on("error", () => undefined);
  try {
    await new Promise((r) => good.once("ready", r));
    expect(await redisCheck(good).check()).toBe(true);
    expect(await redisCheck(bad).check()).toBe(false);
  } finally {
    good.disconnect();
    bad.disconnect();
  }
});
