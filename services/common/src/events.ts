import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Admin, type Producer } from "kafkajs";
import type { Redis } from "ioredis";
import { context, type Context } from "@opentelemetry/api";
import { EventEnvelope } from "./gen/tda/events/v1/events";
import { injectCarrier } from "./tracing";
import { producerSpan } from "./kafka-tracing";
import type { Logger } from "./logger";
import { currentMetrics } from "./metrics";

// Lifecycle events go to Kafka through a Redis outbox: `publish` resolves once
// the event is durable in Redis; a relay drains the outbox to Kafka in order
// (idempotent producer, acks=all), so a Kafka outage delays events but loses
// none. Consumers de-duplicate by `event_id`.

export const TOPIC_NAMES = ["tda_jobs", "tda_results", "tda_events", "tda_uploads", "tda_errors", "tda_stream_features"] as const;
export type TopicName = (typeof TOPIC_NAMES)[number];

export const SCHEMA_VERSION = 1;

export type EnvelopeData = NonNullable<EventEnvelope["data"]>;

export interface PublishInput {
  topic: TopicName;
  /** job_id or upload_id: the Kafka message key. */
  key: string;
  eventType: string;
  data: EnvelopeData;
  headers?: Record<string, string>;
}

/** An event ready for the outbox (see EventBus.encode). */
export interface OutboxEntry {
  eventId: string;
  /** The record to append (RPUSH) to `EventBus.outboxKey`. */
  record: string;
}

export interface EventBus {
  /** Durable once resolved; returns the event id. */
  publish(input: PublishInput, ctx?: Context): Promise<string>;
  /** The Redis list the relay drains (one per source). */
  readonly outboxKey: string;
  /**
   * Builds an event's outbox record without storing it, for callers that append
   * it themselves atomically with their own writes (MULTI or a Lua script, RPUSH
   * to `outboxKey`); they call `relay()` once it is stored.
   */
  encode(input: PublishInput, ctx?: Context): OutboxEntry;
  /** Wakes the relay up after records were appended to the outbox directly. */
  relay(): void;
  /** Waits until the outbox is drained (or the timeout passes); true when drained. */
  flush(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

interface OutboxRecord {
  topic: string;
  key: string;
  value: string; // base64 protobuf envelope
  headers: Record<string, string>;
}

export interface EventBusOptions {
  source: string;
  brokers: string[];
  topicPrefix: string;
  redis: Redis;
  log: Logger;
  /** Most records sent to Kafka in one batch (default 2000)... */
  batchSize?: number;
  /** ...and most bytes of outbox records in one batch (default 768 KiB; at least one record). */
  maxBatchBytes?: number;
  /** Wait before a drain so that events close together share one Kafka request (default 20 ms). */
  lingerMs?: number;
}

export function createKafka(clientId: string, brokers: string[], log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      if (level <= logLevel.ERROR) log.warn({ kafka: rest }, `kafka: ${message}`);
      else log.debug({ kafka: rest }, `kafka: ${message}`);
    },
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

export function createEventBus(opts: EventBusOptions): EventBus {
  const { source, redis, log } = opts;
  const listKey = `tda:outbox:${source}`;
  const lockKey = `tda:outbox-lock:${source}`;
  const lockToken = randomUUID();
  const batchSize = opts.batchSize ?? 2000;
  const maxBatchBytes = opts.maxBatchBytes ?? 768 * 1024;
  const lingerMs = opts.lingerMs ?? 20;
  const kafka = createKafka(`tda-${source}`, opts.brokers, log);
  const deadKey = `tda:outbox-dead:${source}`;
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  let topicCache: { names: Set<string>; at: number } | undefined;
  let connected = false;
  let closed = false;
  let draining: Promise<void> | undefined;
  let backoffMs = 0;
  let timer: NodeJS.Timeout | undefined;

  async function ensureProducer(): Promise<Producer> {
    if (!producer) producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    if (!connected) {
      await producer.connect();
      connected = true;
    }
    return producer;
  }

  /** Topics the broker has, cached for 30 s (refreshed when a record names another). */
  async function knownTopics(wanted: Iterable<string>): Promise<Set<string>> {
    const stale = !topicCache || Date.now() - topicCache.at > 30000 || [...wanted].some((t) => !topicCache!.names.has(t));
    if (stale) {
      if (!admin) {
        admin = kafka.admin();
        await admin.connect();
      }
      topicCache = { names: new Set(await admin.listTopics()), at: Date.now() };
    }
    return topicCache!.names;
  }

  const UNLOCK_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

  /** Relays the outbox to Kafka while holding the lock; false when another instance holds it. */
  async function drainOnce(): Promise<boolean> {
    // take the lock and read the first batch in one round trip (the read is
    // only used when the lock is ours)
    const first = await redis.pipeline().set(lockKey, lockToken, "PX", 15000, "NX").get(lockKey).lrange(listKey, 0, batchSize - 1).exec();
    const step = (i: number): unknown => {
      const [err, v] = first?.[i] ?? [null, null];
      if (err) throw err;
      return v;
    };
    if (step(0) === null && step(1) !== lockToken) return false;
    let all = step(2) as string[];
    let empty = false;
    try {
      while (all.length > 0) {
        // keep a batch well under Kafka's default 1 MB per record batch
        let bytes = 0;
        let cut = 0;
        while (cut < all.length && (cut === 0 || bytes + all[cut]!.length <= maxBatchBytes)) bytes += all[cut++]!.length;
        const raw = cut === all.length ? all : all.slice(0, cut);
        const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
        const records = raw.map((r) => JSON.parse(r) as OutboxRecord);
        const topics = await knownTopics(new Set(records.map((r) => r.topic)));
        for (const [i, rec] of records.entries()) {
          if (!topics.has(rec.topic)) {
            // A record for a topic the broker does not have would block every
            // later event: park it in the dead-letter list instead.
            log.error({ topic: rec.topic, key: rec.key }, "event relay: unknown topic, record moved to the dead-letter list");
            await redis.rpush(deadKey, raw[i]!);
            continue;
          }
          const list = byTopic.get(rec.topic) ?? [];
          list.push({ key: rec.key, value: Buffer.from(rec.value, "base64"), headers: rec.headers });
          byTopic.set(rec.topic, list);
        }
        const p = await ensureProducer();
        if (byTopic.size > 0) await p.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        // drop what Kafka acknowledged, extend our lock and read on: one round trip
        const next = await redis.pipeline().ltrim(listKey, raw.length, -1).pexpire(lockKey, 15000).lrange(listKey, 0, batchSize - 1).exec();
        const failed = next?.find(([e]) => e)?.[0];
        if (failed) throw failed;
        all = (next?.[2]?.[1] as string[]) ?? [];
      }
      empty = true;
    } finally {
      // release only our own lock; and whether records came in meanwhile
      const last = await redis.pipeline().eval(UNLOCK_LUA, 1, lockKey, lockToken).llen(listKey).exec();
      pendingAfterDrain = empty && Number(last?.[1]?.[1] ?? 0) > 0;
    }
    return true;
  }

  let pendingAfterDrain = false;

  function kick(): void {
    if (closed || draining) return;
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    let gotLock = true;
    pendingAfterDrain = false;
    draining = (async () => {
      try {
        gotLock = await drainOnce();
        backoffMs = 0;
      } catch (err) {
        connected = false;
        const a = admin;
        admin = undefined;
        topicCache = undefined;
        void a?.disconnect().catch(() => undefined);
        backoffMs = Math.min(backoffMs === 0 ? 200 : backoffMs * 2, 5000);
        currentMetrics()?.kafkaProduceErrors.inc();
        log.warn({ err: (err as Error).message, backoffMs }, "event relay: kafka send failed, will retry");
      } finally {
        draining = undefined;
      }
    })();
    void draining.then(() => {
      if (closed) return;
      if (backoffMs > 0) schedule(backoffMs);
      else if (!gotLock) schedule(250); // another instance is relaying
      else if (pendingAfterDrain || wanted) soon();
    }).catch(() => schedule(1000));
  }

  // Records appended while a drain runs, or in the few milliseconds before one
  // starts, go out in the same Kafka request (a producer's linger): under load
  // this turns one request per event into one per batch.
  let wanted = false;
  function soon(): void {
    wanted = false;
    if (closed || draining || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, lingerMs);
  }

  function wake(): void {
    if (backoffMs > 0) return;
    if (draining) wanted = true;
    else soon();
  }

  function schedule(ms: number): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, ms);
  }

  // Outbox appends: the records of all publish calls made while one RPUSH is
  // on its way go out together in the next RPUSH, in call order. Under load this
  // turns many round trips into one; a lone publish still costs one RPUSH.
  let pending: { recs: string[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | undefined;
  let pushing = false;

  function append(rec: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!pending) pending = { recs: [], waiters: [] };
      pending.recs.push(rec);
      pending.waiters.push({ resolve, reject });
      if (!pushing) void pushPending();
    });
  }

  async function pushPending(): Promise<void> {
    pushing = true;
    try {
      while (pending) {
        const batch = pending;
        pending = undefined;
        try {
          await redis.rpush(listKey, ...batch.recs);
          for (const w of batch.waiters) w.resolve();
        } catch (err) {
          for (const w of batch.waiters) w.reject(err);
        }
      }
    } finally {
      pushing = false;
    }
  }

  // Periodic sweep: picks up events left by a previous process.
  const sweep = setInterval(() => kick(), 1000);
  sweep.unref();
  kick();

  function encode(input: PublishInput, ctx: Context = context.active()): OutboxEntry {
    const eventId = randomUUID();
    // the event's PRODUCER span; its context travels in the record's headers
    const sent = producerSpan({ topic: opts.topicPrefix + input.topic, key: input.key, eventId, eventType: input.eventType }, ctx);
    const headers = { ...injectCarrier(sent), ...(input.headers ?? {}) };
    const envelope: EventEnvelope = {
      schemaVersion: SCHEMA_VERSION,
      eventId,
      timestamp: nowTimestamp(),
      eventType: input.eventType,
      source,
      correlationId: input.key,
      headers,
      data: input.data,
    };
    const rec: OutboxRecord = {
      topic: opts.topicPrefix + input.topic,
      key: input.key,
      value: Buffer.from(EventEnvelope.encode(envelope).finish()).toString("base64"),
      headers: { ...headers, "event-id": eventId, "event-type": input.eventType, "content-type": "application/x-protobuf" },
    };
    currentMetrics()?.observeEvent(input);
    return { eventId, record: JSON.stringify(rec) };
  }

  return {
    outboxKey: listKey,
    encode,
    relay() {
      wake();
    },
    async publish(input, ctx = context.active()) {
      const { eventId, record } = encode(input, ctx);
      await append(record);
      wake();
      return eventId;
    },
    async flush(timeoutMs = 10000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if ((await redis.llen(listKey)) === 0 && !draining) return true;
        kick();
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      if (timer) clearTimeout(timer);
      if (draining) await draining.catch(() => undefined);
      if (producer && connected) await producer.disconnect().catch(() => undefined);
      if (admin) await admin.disconnect().catch(() => undefined);
    },
  };
}

export function nowTimestamp(ms = Date.now()): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function timestampMs(ts: { seconds: number; nanos: number } | undefined): number {
  return ts ? ts.seconds * 1000 + Math.floor(ts.nanos / 1e6) : 0;
}
