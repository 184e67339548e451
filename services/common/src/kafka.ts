import { Kafka, logLevel, type Admin, type Producer } from "kafkajs";
import type { Logger } from "./logger";

// kafkajs stays behind this file and the outbox sink below: a client with the
// service's logger, and the one producer path the outbox relay uses.

export function createKafka(clientId: string, brokers: string[], log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.warn({ kafka: rest }, `kafka: ${message}`);
        else log.debug({ kafka: rest }, `kafka: ${message}`);
      },
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

export interface SinkMessage {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** Where the outbox relay sends its records. */
export interface OutboxSink {
  /** Sends the messages; resolves once the broker acknowledged every one (acks=all). */
  send(messages: SinkMessage[]): Promise<void>;
  /** The topics the broker has among `wanted` (cached; refreshed when one is missing). */
  knownTopics(wanted: Iterable<string>): Promise<Set<string>>;
  /** Drops connections after a failure (the next send reconnects). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * The broker's refusal of the records themselves (too large, invalid): sending
 * them again cannot succeed. Returns the Kafka error type, or undefined for a
 * failure worth retrying (broker down, leader moving, timeouts).
 */
export function brokerRefusal(err: unknown): string | undefined {
  const refused = new Set([
    "MESSAGE_TOO_LARGE",
    "RECORD_LIST_TOO_LARGE",
    "INVALID_RECORD",
    "CORRUPT_MESSAGE",
    "INVALID_TIMESTAMP",
    "INVALID_TOPIC_EXCEPTION",
    "POLICY_VIOLATION",
  ]);
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string" && refused.has(type)) return type;
    const next = (e as { cause?: unknown }).cause;
    if (next === e) break;
    e = next;
  }
  return undefined;
}

export function createKafkaSink(kafka: Kafka): OutboxSink {
  let producer: Producer | undefined;
  let connected = false;
  let admin: Admin | undefined;
  let topicCache: { names: Set<string>; at: number } | undefined;

  return {
    async send(messages) {
      if (messages.length === 0) return;
      producer ??= kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      if (!connected) {
        await producer.connect();
        connected = true;
      }
      const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
      for (const m of messages) {
        const list = byTopic.get(m.topic) ?? [];
        list.push({ key: m.key, value: m.value, headers: m.headers });
        byTopic.set(m.topic, list);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
    },
    async knownTopics(wanted) {
      const stale = !topicCache || Date.now() - topicCache.at > 30000 || [...wanted].some((t) => !topicCache!.names.has(t));
      if (stale) {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        topicCache = { names: new Set(await admin.listTopics()), at: Date.now() };
      }
      return topicCache!.names;
    },
    reset() {
      connected = false;
      const a = admin;
      admin = undefined;
      topicCache = undefined;
      void a?.disconnect().catch(() => undefined);
    },
    async close() {
      if (producer && connected) await producer.disconnect().catch(() => undefined);
      connected = false;
      if (admin) await admin.disconnect().catch(() => undefined);
      admin = undefined;
    },
  };
}
