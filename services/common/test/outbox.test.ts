import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { Kafka, logLevel, type Admin, type Consumer } from "kafkajs";
import { status } from "@grpc/grpc-js";
import {
  createEventBus,
  createKafka,
  createKafkaSink,
  createLogger,
  createMetrics,
  EventTooLargeError,
  outboxCheck,
  pbEvents,
  type EventBus,
  type OutboxSink,
  type PublishInput,
} from "../src";

// The outbox against a real Redis and a real Kafka broker (REDIS_URL,
// KAFKA_BROKERS): oversized events are bounded or refused at publish, what the
// broker refuses is dead-lettered without holding up the events behind it, a
// stalled outbox shows in status, metrics and health, and a relay whose lock
// expired during a slow send cannot trim records it did not send.

jest.setTimeout(120_000);

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6390";
const BROKERS = (process.env.KAFKA_BROKERS || "127.0.0.1:9192").split(",");
const log = createLogger("outbox-test", process.env.TEST_LOG_LEVEL ?? "silent");
/** Topics of this run only; tda_events refuses records over 64 KiB (a broker-side limit to hit). */
const PREFIX = `outbox-test-${randomBytes(4).toString("hex")}.`;
const SMALL_TOPIC_LIMIT = 64 * 1024;

let redis: IORedis;
let kafka: Kafka;
let admin: Admin;
const consumers: Consumer[] = [];
const buses: EventBus[] = [];
const redises: IORedis[] = [];

beforeAll(async () => {
  redis = new IORedis(REDIS_URL);
  kafka = new Kafka({ clientId: "outbox-test", brokers: BROKERS, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: `${PREFIX}tda_events`, numPartitions: 1, configEntries: [{ name: "max.message.bytes", value: String(SMALL_TOPIC_LIMIT) }] },
      { topic: `${PREFIX}tda_errors`, numPartitions: 1 },
      { topic: `${PREFIX}tda_uploads`, numPartitions: 1 },
    ],
  });
});

afterAll(async () => {
  for (const c of consumers) await c.disconnect().catch(() => undefined);
  for (const b of buses) await b.close().catch(() => undefined);
  for (const r of redises) r.disconnect();
  await admin?.deleteTopics({ topics: [`${PREFIX}tda_events`, `${PREFIX}tda_errors`, `${PREFIX}tda_uploads`] }).catch(() => undefined);
  await admin?.disconnect();
  redis?.disconnect();
});

function bus(source: string, extra: Partial<Parameters<typeof createEventBus>[0]> = {}): EventBus {
  const r = new IORedis(REDIS_URL);
  redises.push(r);
  const b = createEventBus({ source, brokers: BROKERS, topicPrefix: PREFIX, redis: r, log, lingerMs: 0, ...extra });
  buses.push(b);
  return b;
}

const streamEvent = (tag: string, bytes = 16): PublishInput => ({
  topic: "tda_events",
  key: "tenant/s",
  eventType: "stream.points",
  data: { $case: "streamPoints", value: { streamId: tag, dim: 1, points: Buffer.alloc(bytes), eventTime: undefined, tenant: "tenant" } },
});

/** Reads `topic` from its start until `done` holds for the envelopes seen. */
async function read(topic: string, done: (envs: pbEvents.EventEnvelope[]) => boolean, timeoutMs = 90_000): Promise<pbEvents.EventEnvelope[]> {
  const envs: pbEvents.EventEnvelope[] = [];
  const consumer = kafka.consumer({ groupId: `outbox-test-${randomBytes(6).toString("hex")}` });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: PREFIX + topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${topic}: saw ${envs.map((e) => e.eventType).join(",")}`)), timeoutMs);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          envs.push(pbEvents.EventEnvelope.decode(message.value));
          if (done(envs)) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.stop();
  return envs;
}

const tagOf = (e: pbEvents.EventEnvelope): string => (e.data?.$case === "streamPoints" ? e.data.value.streamId : "");

test("an event the broker refuses is dead-lettered, reported on tda_errors and counted; the events behind it still arrive", async () => {
  const metrics = createMetrics("outbox-test", { defaults: false });
  const source = `dead-${randomBytes(4).toString("hex")}`;
  const b = bus(source, { metrics });
  metrics.trackOutbox(source, () => b.status());
  const before = await b.publish(streamEvent("before"));
  const big = await b.publish(streamEvent("big", 200 * 1024)); // under the event bound, over this topic's limit
  const after = await b.publish(streamEvent("after"));

  const envs = await read("tda_events", (es) => es.some((e) => tagOf(e) === "after"));
  expect(envs.map((e) => e.eventId)).toEqual([before, after]);
  expect(await b.flush(20_000)).toBe(true);

  const dead = await redis.lrange(b.deadLetterKey, 0, -1);
  expect(dead.map((d) => (JSON.parse(d) as { headers: Record<string, string> }).headers["event-id"])).toEqual([big]);
  const errors = await read("tda_errors", (es) => es.length > 0);
  expect(errors[0]!.eventType).toBe("error.system");
  const err = errors[0]!.data;
  if (err?.$case !== "error") throw new Error("no error payload");
  expect(err.value.errorCode).toBe("EVENT_DEAD_LETTERED");
  expect(err.value.message).toContain(big);
  expect(err.value.message).toContain("MESSAGE_TOO_LARGE");
  const text = await metrics.text();
  expect(text).toMatch(/tda_events_dead_lettered_total\{reason="MESSAGE_TOO_LARGE",service="outbox-test"\} 1/);
  expect(text).toMatch(new RegExp(`tda_outbox_pending_events\\{source="${source}",service="outbox-test"\\} 0`));
  await redis.del(b.deadLetterKey);
});

test("fields are bounded before they reach an event, and an event over the bound is refused at publish (RESOURCE_EXHAUSTED)", async () => {
  const b = bus(`bound-${randomBytes(4).toString("hex")}`);
  // a 2 MB content type (an upload header field) is cut, and the event goes out
  const id = await b.publish({
    topic: "tda_uploads",
    key: "up-1",
    eventType: "upload.started",
    data: {
      $case: "upload",
      value: {
        uploadId: "up-1",
        owner: "t",
        datasetId: "",
        filename: "f.csv",
        format: "csv",
        bytes: 0,
        contentType: "x".repeat(2_000_000),
        sha256: "",
        pointCount: 0,
        dimension: 0,
        errorMessage: "",
        errorCode: "",
        minBounds: [],
        maxBounds: [],
      },
    },
  });
  const envs = await read("tda_uploads", (es) => es.some((e) => e.eventId === id));
  const up = envs.find((e) => e.eventId === id)!.data;
  if (up?.$case !== "upload") throw new Error("no upload payload");
  expect(up.value.contentType.length).toBeLessThanOrEqual(4096);
  expect(up.value.contentType).toMatch(/more chars cut\]$/);
  expect(await b.flush(20_000)).toBe(true);

  // 2.7 MiB of points cannot be one event: refused before anything is stored
  let thrown: unknown;
  await b.publish(streamEvent("huge", 2.7 * 1024 * 1024)).catch((e: unknown) => (thrown = e));
  expect(thrown).toBeInstanceOf(EventTooLargeError);
  expect((thrown as EventTooLargeError).code).toBe(status.RESOURCE_EXHAUSTED);
  expect(await redis.llen(b.outboxKey)).toBe(0);
});

test("an outbox that cannot reach Kafka shows as stalled in status, metrics and health", async () => {
  const metrics = createMetrics("outbox-test", { defaults: false });
  const source = `stall-${randomBytes(4).toString("hex")}`;
  // a broker address nobody listens on: every send fails
  const b = bus(source, { brokers: ["127.0.0.1:1"], metrics, stallAfterMs: 300 });
  metrics.trackOutbox(source, () => b.status());
  const check = outboxCheck(b);
  await b.publish(streamEvent("stuck"));
  expect((await b.status()).stalled).toBe(false);
  expect(await check.check()).toBe(true);
  await new Promise((r) => setTimeout(r, 600));
  const st = await b.status();
  expect(st).toMatchObject({ pending: 1, stalled: true });
  expect(st.oldestAgeMs).toBeGreaterThan(300);
  expect(await check.check()).toBe(false);
  expect(await metrics.text()).toMatch(new RegExp(`tda_outbox_stalled\\{source="${source}",service="outbox-test"\\} 1`));
  await b.close();
  await redis.del(b.outboxKey);
});

test("two relays: one whose lock expired during a slow send cannot trim records the other appended after draining", async () => {
  const metrics = createMetrics("outbox-test", { defaults: false });
  const source = `fence-${randomBytes(4).toString("hex")}`;
  // relay A: the real Kafka sink, its first send held until we let it go (a slow broker)
  const real = createKafkaSink(createKafka("outbox-test-a", BROKERS, log));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inSend = new Promise<void>((r) => (entered = r));
  let first = true;
  const slow: OutboxSink = {
    ...real,
    async send(msgs) {
      if (first) {
        first = false;
        entered();
        await held;
      }
      return real.send(msgs);
    },
  };
  const a = bus(source, { sink: slow, lockTtlMs: 300, metrics });
  const firstIds: string[] = [];
  for (let i = 0; i < 5; i++) firstIds.push(await a.publish(streamEvent(`r${i}`)));
  await inSend; // A holds r0..r4 in its send
  await new Promise((r) => setTimeout(r, 500)); // ...and its lock expires

  // relay B takes the outbox over, sends r0..r4, trims them and stops
  const b = bus(source);
  expect(await b.flush(30_000)).toBe(true);
  await b.close();
  // new records arrive while A still waits on its send
  const later: string[] = [];
  const pipe = redis.pipeline();
  for (let i = 5; i < 10; i++) {
    const e = a.encode(streamEvent(`r${i}`));
    later.push(e.eventId);
    pipe.rpush(a.outboxKey, e.record);
  }
  await pipe.exec();

  release(); // A's send completes; its trim must be refused
  const want = new Set([...firstIds, ...later]);
  const envs = await read("tda_events", (es) => [...want].every((id) => es.some((e) => e.eventId === id)), 60_000);
  // every record arrived (r0..r4 possibly twice: consumers de-duplicate by event_id)
  expect([...want].filter((id) => !envs.some((e) => e.eventId === id))).toEqual([]);
  expect(await a.flush(20_000)).toBe(true);
  expect(await metrics.text()).toMatch(/tda_outbox_fenced_off_total\{service="outbox-test"\} 1/);
});
