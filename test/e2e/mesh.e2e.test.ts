import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { decodeDetails, inConsumerSpan, pbEvents, pbJobs, pbUpload } from "@tda/common";
import { startMesh, FIXTURES, KAFKA_BROKERS, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, uploadBytes, uploadFile, watchJob, type Gateway } from "../helpers/client";
import { barcodeOf, runRipser } from "../helpers/barcodes";
import { endOffsets, type PartitionOffset } from "../helpers/kafka-events";

// The whole mesh, end to end: gateway -> upload -> scheduler -> engine, with
// real Redis, Kafka and engine processes. The reference is Debian's ripser,
// run on the same file in the same test.

jest.setTimeout(180_000);

let mesh: Mesh;
let gw: Gateway;

beforeAll(async () => {
  mesh = await startMesh();
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
});

/**
 * The event types of job `jobId` on tda_jobs from the offsets `from` (taken
 * before the submit: reading from the beginning scanned every event earlier
 * runs left in the topic, which on a broker that benchmarks also fed outlasted
 * the read's timeout), in order, until `until` says so.
 */
async function readJobEvents(jobId: string, from: PartitionOffset[], until: (types: string[]) => boolean, timeoutMs = 30000): Promise<string[]> {
  const kafka = new Kafka({ clientId: "e2e-reader", brokers: KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `e2e-${jobId}` });
  const types: string[] = [];
  const seen = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic: "tda_jobs", fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; saw ${types.join(",")}`)), timeoutMs);
      void consumer.run({
        // a CONSUMER span per record, linked to the event's producer span (no-op without a tracer)
        eachMessage: async ({ topic, partition, message }) =>
          inConsumerSpan({ topic, partition, message }, `e2e-${jobId}`, async () => {
            if (message.key?.toString() !== jobId || !message.value) return;
            const env = pbEvents.EventEnvelope.decode(message.value);
            if (seen.has(env.eventId)) return;
            seen.add(env.eventId);
            expect(message.headers?.traceparent?.toString()).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
            types.push(env.eventType);
            if (until(types)) {
              clearTimeout(timer);
              resolve();
            }
          }),
      });
      for (const p of from) consumer.seek({ topic: "tda_jobs", ...p });
    });
  } finally {
    await consumer.disconnect();
  }
  return types;
}

test("sphere_3_192 through the gateway equals ripser's barcode, and tda_jobs has the lifecycle in order", async () => {
  const file = join(FIXTURES, "sphere_3_192_points.dat");
  const up = await uploadFile(gw, file, pbUpload.DataFormat.DATA_FORMAT_WHITESPACE);
  expect(up.dataset?.n).toBe(192);
  expect(up.dataset?.dim).toBe(3);

  const from = await endOffsets(KAFKA_BROKERS, "tda_jobs");
  const submitted = await api(gw).computeVietorisRips({
    datasetId: up.dataset!.datasetId,
    maxDim: 2,
    modulus: 0,
    priority: 0,
    idempotencyKey: "",
    deadlineSeconds: 0,
    threads: 0,
  });
  const jobId = submitted.job!.jobId;
  const updates = await watchJob(gw, jobId);
  expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);

  const res = await api(gw).getResult({ jobId });
  const ours = barcodeOf(res.result!.diagrams);
  const ref = runRipser(["--format", "point-cloud", "--dim", "2", file]);
  expect([...ours.keys()].sort()).toEqual([0, 1, 2]);
  for (const d of [0, 1, 2]) expect(ours.get(d)).toEqual(ref.get(d));
  expect(res.result!.bettiNumbers[0]).toBe(1);

  const types = await readJobEvents(jobId, from, (t) => t.includes("job.completed"));
  const idx = ["job.submitted", "job.started", "job.completed"].map((t) => types.indexOf(t));
  expect(idx.every((i) => i >= 0)).toBe(true);
  expect(idx).toEqual([...idx].sort((a, b) => a - b));
});

test("a malformed CSV upload gets INVALID_ARGUMENT naming the line, and nothing is stored", async () => {
  const before = await api(gw).listDatasets({ pageSize: 1000, pageToken: "" });
  const ragged = Buffer.from("1.5,2,3\n4,5,6\n7,8\n9,10,11\n");
  const err1 = (await uploadBytes(gw, "ragged.csv", pbUpload.DataFormat.DATA_FORMAT_CSV, ragged).catch((e: ServiceError) => e)) as ServiceError;
  expect(err1.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  expect(err1.details).toMatch(/line 3/);
  expect(decodeDetails(err1).badRequest?.fieldViolations.length).toBeGreaterThan(0);

  const nan = Buffer.from("1,2,3\n4,5,6\n7,8,9\n1,nan,2\n");
  const err2 = (await uploadBytes(gw, "nan.csv", pbUpload.DataFormat.DATA_FORMAT_CSV, nan).catch((e: ServiceError) => e)) as ServiceError;
  expect(err2.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  expect(err2.details).toMatch(/line 4/);

  const after = await api(gw).listDatasets({ pageSize: 1000, pageToken: "" });
  expect(after.datasets.map((d) => d.datasetId).sort()).toEqual(before.datasets.map((d) => d.datasetId).sort());
  const { readdirSync, existsSync } = await import("node:fs");
  const tmp = join(mesh.dataDir, "tmp");
  expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
});
