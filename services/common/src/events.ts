import type { Redis } from "ioredis";
import { context, type Context } from "@opentelemetry/api";
import { createEnvelopeEncoder, type OutboxEntry, type PublishInput } from "./event-envelope";
import { createKafka, createKafkaSink, type OutboxSink } from "./kafka";
import type { Logger } from "./logger";
import { createOutboxAppender } from "./outbox-appender";
import { createOutboxRelay, type OutboxMetrics, type OutboxStatus } from "./outbox-relay";

// Lifecycle events go to Kafka through a Redis outbox: `publish` resolves once
// the event is durable in Redis (outbox-appender); a relay drains the outbox
// to Kafka in order (outbox-relay: idempotent producer, acks=all, fenced lock,
// dead-letter list), so a Kafka outage delays events but loses none, and an
// event the broker refuses is set aside instead of holding up the rest. The
// envelope encoder (event-envelope) bounds what reaches Kafka. Consumers
// de-duplicate by `event_id`.

export * from "./event-envelope";
export { createKafka, createKafkaSink, brokerRefusal, type OutboxSink, type SinkMessage } from "./kafka";
export type { OutboxMetrics, OutboxStatus } from "./outbox-relay";

export interface EventBus {
  /** Durable once resolved; returns the event id. Throws EventTooLargeError for an event over the size bound. */
  publish(input: PublishInput, ctx?: Context): Promise<string>;
  /** The Redis list the relay drains (one per source). */
  readonly outboxKey: string;
  /** Records the broker refused (or whose topic it lacks), kept for inspection. */
  readonly deadLetterKey: string;
  /** The largest envelope (bytes) an event may have. */
  readonly maxEventBytes: number;
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
  /** Pending records, the oldest one's age, and whether the outbox is stalled. */
  status(): Promise<OutboxStatus>;
  close(): Promise<void>;
}

/** What the event bus reports to the service's metrics. */
export interface EventBusMetrics extends OutboxMetrics {
  observeEvent(input: PublishInput): void;
}

export interface EventBusOptions {
  source: string;
  brokers: string[];
  topicPrefix: string;
  redis: Redis;
  log: Logger;
  metrics?: EventBusMetrics;
  /** Where records go (default: the Kafka brokers); tests may wrap the real sink. */
  sink?: OutboxSink;
  /** Largest envelope in bytes (default 900 KiB, under Kafka's default 1 MiB message limit). */
  maxEventBytes?: number;
  /** Most records sent to Kafka in one batch (default 2000)... */
  batchSize?: number;
  /** ...and most bytes of outbox records in one batch (default 768 KiB; at least one record). */
  maxBatchBytes?: number;
  /** Wait before a drain so that events close together share one Kafka request (default 20 ms). */
  lingerMs?: number;
  /** Outbox lock lifetime (default 15 s). */
  lockTtlMs?: number;
  /** The outbox counts as stalled when its oldest record is older than this (default 30 s). */
  stallAfterMs?: number;
}

export function createEventBus(opts: EventBusOptions): EventBus {
  const { source, redis, log, metrics } = opts;
  const listKey = `tda:outbox:${source}`;
  const deadKey = `tda:outbox-dead:${source}`;
  const encoder = createEnvelopeEncoder({ source, topicPrefix: opts.topicPrefix, maxEventBytes: opts.maxEventBytes });
  const appender = createOutboxAppender(redis, listKey);
  const relay = createOutboxRelay({
    source,
    redis,
    log,
    metrics,
    encoder,
    sink: opts.sink ?? createKafkaSink(createKafka(`tda-${source}`, opts.brokers, log)),
    listKey,
    lockKey: `tda:outbox-lock:${source}`,
    deadKey,
    batchSize: opts.batchSize,
    maxBatchBytes: opts.maxBatchBytes,
    lingerMs: opts.lingerMs,
    lockTtlMs: opts.lockTtlMs,
    stallAfterMs: opts.stallAfterMs,
  });

  function encode(input: PublishInput, ctx: Context = context.active()): OutboxEntry {
    const entry = encoder.encode(input, ctx);
    metrics?.observeEvent(input);
    return entry;
  }

  return {
    outboxKey: listKey,
    deadLetterKey: deadKey,
    maxEventBytes: encoder.maxEventBytes,
    encode,
    relay: () => relay.wake(),
    async publish(input, ctx = context.active()) {
      const { eventId, record } = encode(input, ctx);
      await appender.append(record);
      relay.wake();
      return eventId;
    },
    flush: (timeoutMs) => relay.flush(timeoutMs),
    status: () => relay.status(),
    close: () => relay.close(),
  };
}
