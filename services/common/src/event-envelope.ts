import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { context, type Context } from "@opentelemetry/api";
import { EventEnvelope } from "./gen/tda/events/v1/events";
import { TdaError } from "./errors";
import { injectCarrier } from "./tracing";
import { producerSpan } from "./kafka-tracing";

// The envelope encoder: a PublishInput becomes one outbox record (the Kafka
// topic, key, headers and the protobuf envelope), bounded so that the broker
// can take it: every string of the payload and of the headers is cut to
// `maxFieldChars`, and an envelope over `maxEventBytes` is refused here, at the
// caller, instead of being refused by Kafka later in front of every other event.

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

/** An event ready for the outbox. */
export interface OutboxEntry {
  eventId: string;
  /** The record to append (RPUSH) to the outbox list. */
  record: string;
}

/** An outbox record (JSON in the Redis list). */
export interface OutboxRecord {
  topic: string;
  key: string;
  /** base64 protobuf envelope */
  value: string;
  headers: Record<string, string>;
}

/**
 * Kafka's default `message.max.bytes` is 1 MiB (+12 bytes); the envelope stays
 * well under it so that key, headers and the batch framing fit beside it.
 */
export const DEFAULT_MAX_EVENT_BYTES = 900 * 1024;
/** Longest string of an event payload or header (error messages, names, content types). */
export const DEFAULT_MAX_FIELD_CHARS = 4096;
/** Longest message key. */
export const MAX_KEY_CHARS = 512;

export interface EnvelopeEncoderOptions {
  source: string;
  topicPrefix: string;
  maxEventBytes?: number;
  maxFieldChars?: number;
}

export interface EnvelopeEncoder {
  readonly maxEventBytes: number;
  /** Throws EventTooLargeError when the envelope would pass `maxEventBytes`. */
  encode(input: PublishInput, ctx?: Context): OutboxEntry;
}

/** An event too large for the broker: refused at publish (RESOURCE_EXHAUSTED, reason EVENT_TOO_LARGE). */
export class EventTooLargeError extends TdaError {
  constructor(eventType: string, bytes: number, max: number) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, `the ${eventType} event would be ${bytes} bytes, more than the ${max} bytes an event may hold`, {
      reason: "EVENT_TOO_LARGE",
      metadata: { bytes: String(bytes), max_bytes: String(max) },
    });
    this.name = "EventTooLargeError";
  }
}

/** `s` cut to `max` characters (marked as cut), or `s` itself. */
export function boundString(s: string, max: number): string {
  if (s.length <= max) return s;
  const marker = `…[${s.length - max} more chars cut]`;
  return s.slice(0, Math.max(0, max - marker.length)) + marker;
}

/**
 * `v` with every string in it cut to `max` characters; the same object when
 * nothing had to be cut (the common case costs one walk, no copy).
 */
export function boundStrings<T>(v: T, max: number): T {
  if (typeof v === "string") return boundString(v, max) as T;
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x: unknown, i) => {
      const b = boundStrings(x, max);
      if (b !== x) (out ??= [...v])[i] = b;
    });
    return (out ?? v) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const b = boundStrings(x, max);
    if (b !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = b;
  }
  return (out ?? v) as T;
}

export function createEnvelopeEncoder(opts: EnvelopeEncoderOptions): EnvelopeEncoder {
  const maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const maxField = opts.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  return {
    maxEventBytes,
    encode(input, ctx = context.active()) {
      const eventId = randomUUID();
      const key = boundString(input.key, MAX_KEY_CHARS);
      // the event's PRODUCER span; its context travels in the record's headers
      const sent = producerSpan({ topic: opts.topicPrefix + input.topic, key, eventId, eventType: input.eventType }, ctx);
      let envelope: EventEnvelope = {
        schemaVersion: SCHEMA_VERSION,
        eventId,
        timestamp: nowTimestamp(),
        eventType: boundString(input.eventType, 128),
        source: opts.source,
        correlationId: key,
        headers: { ...injectCarrier(sent), ...(input.headers ?? {}) },
        data: input.data,
      };
      let bytes = EventEnvelope.encode(envelope).finish();
      // every string of the event is inside these bytes, and a string has no
      // more characters than UTF-8 bytes: an envelope within the field bound
      // has no field to cut (the common case: no walk over the payload)
      if (bytes.length > maxField) {
        envelope = { ...envelope, headers: boundStrings(envelope.headers, maxField), data: boundStrings(envelope.data, maxField) };
        bytes = EventEnvelope.encode(envelope).finish();
      }
      const headers = envelope.headers;
      if (bytes.length > maxEventBytes) throw new EventTooLargeError(envelope.eventType, bytes.length, maxEventBytes);
      const rec: OutboxRecord = {
        topic: opts.topicPrefix + input.topic,
        key,
        value: Buffer.from(bytes).toString("base64"),
        headers: { ...headers, "event-id": eventId, "event-type": envelope.eventType, "content-type": "application/x-protobuf" },
      };
      return { eventId, record: JSON.stringify(rec) };
    },
  };
}

export function nowTimestamp(ms = Date.now()): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function timestampMs(ts: { seconds: number; nanos: number } | undefined): number {
  return ts ? ts.seconds * 1000 + Math.floor(ts.nanos / 1e6) : 0;
}
