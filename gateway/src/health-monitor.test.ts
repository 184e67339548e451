import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { checkHealth, createHealthClient, createLogger } from "@tda/common";
import { createHealthMonitor, type HealthMonitor } from "./health-monitor";

// Real gRPC health servers play the upstreams; the monitor must follow them
// down and back up, and the gateway's own health service must say so.

const log = createLogger("gateway-test", "silent");

interface Upstream {
  health: HealthImplementation;
  server: Server;
  port: number;
}

async function startUpstream(port = 0): Promise<Upstream> {
  const server = new Server();
  const health = new HealthImplementation({ "": "SERVING" });
  health.addToServer(server);
  const bound = await new Promise<number>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { health, server, port: bound };
}

async function eventually(fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

describe("health monitor", () => {
  let a: Upstream;
  let b: Upstream;
  let gatewayServer: Server;
  let gatewayHealth: HealthImplementation;
  let gatewayAddress: string;
  let monitor: HealthMonitor;

  beforeAll(async () => {
    a = await startUpstream();
    b = await startUpstream();
    gatewayServer = new Server();
    gatewayHealth = new HealthImplementation({ "": "SERVING", "tda.gateway.v1.TdaService": "SERVING" });
    gatewayHealth.addToServer(gatewayServer);
    const gp = await new Promise<number>((res, rej) =>
      gatewayServer.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    gatewayAddress = `127.0.0.1:${gp}`;
    monitor = createHealthMonitor({
      health: gatewayHealth,
      names: ["", "tda.gateway.v1.TdaService"],
      upstreams: [
        { name: "upload", address: `127.0.0.1:${a.port}` },
        { name: "scheduler", address: `127.0.0.1:${b.port}` },
      ],
      pollMs: 200,
      timeoutMs: 500,
      log,
    });
  });

  afterAll(() => {
    monitor.stop();
    for (const s of [a.server, b.server, gatewayServer]) s.forceShutdown();
  });

  const gatewayServing = async (service = ""): Promise<boolean> => {
    const c = createHealthClient(gatewayAddress);
    try {
      return await checkHealth(c, service, 1000);
    } finally {
      c.close();
    }
  };

  it("does not claim SERVING before the first poll, and does after it when both upstreams serve", async () => {
    expect(await gatewayServing()).toBe(false);
    await monitor.start();
    expect(await gatewayServing()).toBe(true);
    expect(await gatewayServing("tda.gateway.v1.TdaService")).toBe(true);
    expect(monitor.snapshot()).toEqual({ upload: "SERVING", scheduler: "SERVING" });
  });

  it("goes NOT_SERVING when an upstream reports NOT_SERVING, and back when it recovers", async () => {
    b.health.setStatus("", "NOT_SERVING");
    await eventually(async () => !(await gatewayServing()));
    expect(await gatewayServing("tda.gateway.v1.TdaService")).toBe(false);
    b.health.setStatus("", "SERVING");
    await eventually(() => gatewayServing());
  });

  it("goes NOT_SERVING when an upstream process is gone, and back when it listens again", async () => {
    const port = a.port;
    a.server.forceShutdown();
    await eventually(async () => !(await gatewayServing()));
    expect(monitor.snapshot().upload).toBe("NOT_SERVING");
    a = await startUpstream(port);
    await eventually(() => gatewayServing(), 30_000);
    expect(monitor.snapshot().upload).toBe("SERVING");
  });

  it("reports NOT_SERVING for good once stopped", async () => {
    monitor.stop();
    expect(await gatewayServing()).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
    expect(await gatewayServing()).toBe(false);
  });
});
