import { status as GrpcStatus, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { channelOptions, decodeDetails, insecure, pbEngine, waitForHealthy } from "@tda/common";
import { ENGINE_BIN, freePort, startProcess, type Proc } from "../helpers/mesh";

// The engine as a hostile caller sees it: streams that never send anything
// give their slot back after the (short) idle-input timeout, and one caller
// address cannot hold more than its share of the engine's Compute calls.

jest.setTimeout(60_000);

let engine: Proc;
let address: string;
let logDir: string;
let client: pbEngine.EngineServiceClient;

beforeAll(async () => {
  logDir = mkdtempSync(join(tmpdir(), "tda-engine-callers-"));
  const port = await freePort();
  address = `127.0.0.1:${port}`;
  // default idle timeout (10 s); at most 2 open calls per caller
  engine = startProcess("engine", ENGINE_BIN, ["serve", "--port", String(port), "--threads", "1", "--max-calls-per-caller", "2"], {}, logDir);
  await waitForHealthy(address, "", 30_000);
  client = new pbEngine.EngineServiceClient(address, insecure(), channelOptions);
});

afterAll(async () => {
  client?.close();
  await engine?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

type Call = ClientDuplexStream<pbEngine.ComputeRequest, pbEngine.ComputeResponse>;

/** Opens a Compute stream that sends nothing; resolves with how it ended. */
function idleCall(): { call: Call; ended: Promise<{ err: ServiceError; afterMs: number }> } {
  const t0 = Date.now();
  const call = client.compute() as Call;
  const ended = new Promise<{ err: ServiceError; afterMs: number }>((resolve) => {
    call.on("data", () => undefined);
    call.on("error", (err: ServiceError) => resolve({ err, afterMs: Date.now() - t0 }));
  });
  return { call, ended };
}

test("a third open call from one caller is refused (TOO_MANY_CALLS); idle calls end after the 10 s idle-input timeout and free their share", async () => {
  const a = idleCall();
  const b = idleCall();
  await new Promise((r) => setTimeout(r, 300)); // both registered
  const c = await idleCall().ended;
  expect([c.err.code, decodeDetails(c.err).errorInfo?.reason]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, "TOO_MANY_CALLS"]);
  expect(c.afterMs).toBeLessThan(5_000);

  for (const e of await Promise.all([a.ended, b.ended])) {
    expect([e.err.code, decodeDetails(e.err).errorInfo?.reason]).toEqual([GrpcStatus.DEADLINE_EXCEEDED, "INPUT_STALLED"]);
    expect(e.afterMs).toBeGreaterThan(9_000);
    expect(e.afterMs).toBeLessThan(20_000); // was 120 s
  }
  // their share is free again: a new call is taken (and ends idle in its turn)
  const d = idleCall();
  const early = await Promise.race([d.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000))]);
  expect(early).toBeUndefined();
  d.call.cancel();
});
