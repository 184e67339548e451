import { randomBytes } from "node:crypto";
import { Kafka, logLevel, type Admin, type Consumer } from "kafkajs";
import { status } from "@grpc/grpc-js";
import { inConsumerSpan, pbEvents, pbUpload } from "@tda/common";
import { cleanupTenants, expectGrpcError, newTenant, startService, upload, useRedis, type RedisHandle, type ServiceHandle } from "./helpers";

// Upload events as a consumer sees them on the real Kafka (KAFKA_BROKERS,
// default 127.0.0.1:9192): started -> validated -> completed for a good upload,
// started -> failed for a bad one, keyed by upload id, in order.

jest.setTimeout(150_000);

const BROKERS = process.env.KAFKA_BROKERS || "127.0.0.1:9192";
const TOPIC = "tda_uploads";
const F = pbUpload.DataFormat;

let rh: RedisHandle;
let svc: ServiceHandle;
let kafka: Kafka;
let admin: Admin;
let consumer: Consumer | undefined;

beforeAll(async () => {
  rh = await useRedis();
  kafka = new Kafka({ clientId: "upload-events-test", brokers: BROKERS.split(","), logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  if (!(await admin.listTopics()).includes(TOPIC)) await admin.createTopics({ topics: [{ topic: TOPIC }], waitForLeaders: true });
  svc = await startService({ KAFKA_BROKERS: BROKERS });
});

afterAll(async () => {
  await consumer?.disconnect();
  await admin?.disconnect();
  await svc?.stop();
  if (rh) await cleanupTenants(rh.redis);
  await rh?.stop();
});

/** Events per key for `keys` (the keys are unique to this run, so reading the topic from its start is safe). */
async function collect(keys: Set<string>, done: (m: Map<string, string[]>) => boolean): Promise<Map<string, pbEvents.EventEnvelope[]>> {
  const envs = new Map<string, pbEvents.EventEnvelope[]>();
  const types = new Map<string, string[]>();
  consumer = kafka.consumer({ groupId: `upload-events-test-${randomBytes(6).toString("hex")}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    // generous: on a freshly started broker the first consumer group takes a while to form
    const timer = setTimeout(() => reject(new Error(`events seen: ${JSON.stringify([...types])}`)), 100_000);
    consumer!
      .run({
        // a CONSUMER span per record, linked to the event's producer span (no-op without a tracer)
        eachMessage: async ({ topic, partition, message }) =>
          inConsumerSpan({ topic, partition, message }, "upload-events-test", async () => {
            const key = message.key?.toString() ?? "";
            if (!keys.has(key) || !message.value) return;
            const env = pbEvents.EventEnvelope.decode(message.value);
            envs.set(key, [...(envs.get(key) ?? []), env]);
            types.set(key, [...(types.get(key) ?? []), env.eventType]);
            if (done(types)) {
              clearTimeout(timer);
              resolve();
            }
          }),
      })
      .catch(reject);
  });
  return envs;
}

describe("upload events on Kafka", () => {
  it("publishes started, validated, completed for an upload and failed for a bad one", async () => {
    const tenant = newTenant();
    const good = await upload(svc.client, tenant, { name: "ev.csv", format: F.DATA_FORMAT_CSV }, ["1,2\n", "3,4\n5,6\n"]);
    const badId = `bad-${randomBytes(6).toString("hex")}`;
    const err = await expectGrpcError(upload(svc.client, tenant, { name: "bad.csv", format: F.DATA_FORMAT_CSV, uploadId: badId }, ["1,2\n3\n"]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);

    const settled = (t: string[] | undefined) => !!t && (t.includes("upload.completed") || t.includes("upload.failed"));
    const envs = await collect(new Set([good.uploadId, badId]), (m) => settled(m.get(good.uploadId)) && settled(m.get(badId)));

    const ok = envs.get(good.uploadId)!.filter((e) => e.eventType !== "upload.progress");
    expect(ok.map((e) => e.eventType)).toEqual(["upload.started", "upload.validated", "upload.completed"]);
    const done = ok[2]!.data;
    expect(done?.$case).toBe("upload");
    if (done?.$case === "upload") {
      expect([done.value.uploadId, done.value.owner, done.value.datasetId, done.value.pointCount, done.value.dimension, done.value.bytes]).toEqual([
        good.uploadId,
        tenant,
        good.dataset!.datasetId,
        3,
        2,
        12,
      ]);
      expect(done.value.sha256).toBe(good.dataset!.sha256);
    }

    const bad = envs.get(badId)!.filter((e) => e.eventType !== "upload.progress");
    expect(bad.map((e) => e.eventType)).toEqual(["upload.started", "upload.failed"]);
    const failed = bad[1]!.data;
    if (failed?.$case !== "upload") throw new Error("failed event without upload data");
    expect(failed.value.errorMessage).toContain("line 2: expected 2 values, got 1");
    expect(failed.value.errorCode).toBe("INVALID_ARGUMENT");
  });
});
