import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { createKafka, createLogger, decodeDetails, ensureTopicsFromFile, pbGateway } from "@tda/common";
import { api, gatewayClient, md } from "../helpers/client";
import { collectEvents } from "../helpers/kafka-events";
import { TOPICS_FILE } from "../helpers/kafka-broker";
import { freePort, KAFKA_BROKERS, ROOT, startMesh, startProcess, waitForHttp, type Mesh, type Proc } from "../helpers/mesh";

// The live stream end to end: the real mesh (engine, services, gateway) and the Flink job
// running from its jar in a MiniCluster (as deploy/local starts it), on topics of their own.
// Configure and publish through the gateway; GetStreamStatus then shows the job, its last
// checkpoint and lag, and the windows it emitted, learned from tda_stream_features.

jest.setTimeout(240_000);

const PREFIX = `e2es${Date.now().toString(36)}_`;
let mesh: Mesh;
let flink: Proc;
let work: string;
let gw: ReturnType<typeof api>;
let client: pbGateway.TdaServiceClient;
const ACME = md("key-acme");
const UMBRELLA = md("key-umbrella");

beforeAll(async () => {
  const log = createLogger("e2e-stream", "warn");
  await ensureTopicsFromFile(createKafka("e2e-stream", KAFKA_BROKERS.split(","), log), TOPICS_FILE, PREFIX);
  const restPort = await freePort();
  work = mkdtempSync(join(tmpdir(), "tda-flink-e2e-"));
  mesh = await startMesh({
    redisDb: 13,
    env: { KAFKA_TOPIC_PREFIX: PREFIX },
    gatewayEnv: { GATEWAY_API_KEYS: "key-acme:acme,key-umbrella:umbrella", FLINK_REST_URL: `http://127.0.0.1:${restPort}`, GATEWAY_STREAM_STATUS_TTL_MS: "0" },
  });
  flink = startProcess(
    "flink",
    "java",
    ["-Xmx768m", "-cp", `${ROOT}/flink/target/tda-flink-job.jar:${ROOT}/flink/target/lib/*`, "io.tdamesh.flink.StreamFeaturesJob"],
    {
      FLINK_LOCAL: "true",
      FLINK_REST_PORT: String(restPort),
      FLINK_CHECKPOINT_DIR: join(work, "checkpoints"),
      FLINK_CHECKPOINT_INTERVAL_MS: "500",
      KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: PREFIX,
      ENGINE_ADDRESSES: mesh.engines.join(","),
    },
    mesh.logDir,
  );
  await waitForHttp(`http://127.0.0.1:${restPort}/jobs/overview`, 120_000);
  client = gatewayClient(mesh.gateway);
  gw = api(client);
});

afterAll(async () => {
  await flink?.stop();
  client?.close();
  await mesh?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what} (${(last as Error)?.message ?? "condition not met"})`);
}

/** n evenly spaced points on a circle of radius r. */
function circle(n: number, r: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    v.push(r * Math.cos(a), r * Math.sin(a));
  }
  return v;
}

it("refuses a bad configuration with every problem named", async () => {
  const err = (await gw
    .configureStream({ streamId: "s1", config: { window: { $case: "count", value: { size: 1, slide: 5 } }, maxDim: 3, noiseLevel: -1 } }, ACME)
    .catch((e: ServiceError) => e)) as ServiceError;
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  const fields = decodeDetails(err).badRequest?.fieldViolations.map((v) => v.field).sort();
  expect(fields).toEqual(["config.count.size", "config.count.slide", "config.max_dim", "config.noise_level"]);
});

it("windows each tenant's stream apart and reports the pipeline in GetStreamStatus", async () => {
  const conf = await gw.configureStream({ streamId: "s1", config: { window: { $case: "count", value: { size: 16, slide: 16 } }, maxDim: 1, bettiScale: 0.5, noiseLevel: 0 } }, ACME);
  expect(conf.config?.window).toEqual({ $case: "count", value: { size: 16, slide: 16 } });
  // umbrella keeps the defaults (256/64): its 64 points make no window
  const ring = circle(16, 1); // every window: 16 points 0.39 apart on the unit circle
  const pts = [...ring, ...ring, ...ring, ...ring];
  for (let i = 0; i < 4; i++) {
    await gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: pts.slice(32 * i, 32 * i + 32) }, ACME);
    await gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: pts.slice(32 * i, 32 * i + 32) }, UMBRELLA);
  }
  const st = await until("4 windows in acme's status", async () => {
    const s = await gw.getStreamStatus({ streamId: "s1" }, ACME);
    return s.windowsEmitted >= 4 && s.job?.consumerLag === 0 ? s : undefined;
  });
  expect(st.windowsEmitted).toBe(4);
  expect(st.job?.state).toBe("RUNNING");
  expect(st.job?.lastCheckpointId).toBeGreaterThan(0);
  expect(st.job?.lastCheckpointTime?.seconds).toBeGreaterThan(0);
  expect(st.lastFeatures).toMatchObject({ tenant: "acme", streamId: "s1", windowSeq: 3, points: 16, dim: 2 });
  expect(st.lastFeatures?.dimensions.map((d) => d.betti)).toEqual([1, 1]); // 16 points on a circle at scale 0.5
  expect(st.config?.window?.$case).toBe("count");
  expect(st.featuresTopic).toBe(`${PREFIX}tda_stream_features`);

  const other = await gw.getStreamStatus({ streamId: "s1" }, UMBRELLA);
  expect(other.windowsEmitted).toBe(0);
  expect(other.pointsPublished).toBe(64);
  expect(other.config?.window).toEqual({ $case: "count", value: { size: 256, slide: 64 } });

  // on tda_events: key tenant/stream, tenant in the payload
  const events = await collectEvents(KAFKA_BROKERS, `${PREFIX}tda_events`);
  expect([...events.byKey.keys()].sort()).toEqual(["acme/s1", "umbrella/s1"]);
  const first = events.byKey.get("umbrella/s1")![0]!;
  expect(first.data?.$case === "streamPoints" && first.data.value.tenant).toBe("umbrella");
  const cfg = events.byKey.get("acme/s1")![0]!;
  expect(cfg.eventType).toBe("stream.config");
});
