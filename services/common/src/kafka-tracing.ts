import { context, propagation, trace, SpanKind, SpanStatusCode, type Context, type Link, type Span } from "@opentelemetry/api";
import { spansExported, tracer } from "./tracing";

// Kafka spans (OpenTelemetry messaging conventions): a PRODUCER span per produced
// event, whose context travels in the record's headers (W3C traceparent), and a
// CONSUMER span per processed record, a child of that producer span and linked to it.

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** The trace context carried in a Kafka record's headers (kafkajs IHeaders). */
export function contextFromKafkaHeaders(headers: Record<string, HeaderValue> | undefined, base: Context = context.active()): Context {
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) carrier[k.toLowerCase()] = first.toString();
  }
  return propagation.extract(base, carrier);
}

export interface ProducerSpanInput {
  topic: string;
  key: string;
  eventId: string;
  eventType: string;
}

/**
 * Starts and ends the PRODUCER span of one event ("<topic> publish", child of
 * `parent`) and returns the context to inject into the record's headers.
 * A process that exports no spans skips it: the record carries `parent`'s
 * context, and the consumers' spans hang from that span instead.
 */
export function producerSpan(input: ProducerSpanInput, parent: Context): Context {
  if (!spansExported()) return parent;
  const span = tracer().startSpan(
    `${input.topic} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": input.topic,
        "messaging.kafka.message.key": input.key,
        "messaging.message.id": input.eventId,
        "tda.event_type": input.eventType,
      },
    },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  span.end();
  return ctx;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  message: { key?: Buffer | null; offset: string; headers?: Record<string, HeaderValue> };
}

/**
 * Runs `fn` in the CONSUMER span of one record ("<topic> process"): a child of the
 * producer span found in the record's headers, with a link to it; failures are
 * recorded on the span.
 */
export async function inConsumerSpan<T>(rec: ConsumedRecord, consumerGroup: string, fn: (span: Span, ctx: Context) => Promise<T>): Promise<T> {
  const producer = contextFromKafkaHeaders(rec.message.headers);
  const producerSpan = trace.getSpanContext(producer);
  const links: Link[] = producerSpan ? [{ context: producerSpan }] : [];
  const span = tracer().startSpan(
    `${rec.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": rec.topic,
        "messaging.consumer.group.name": consumerGroup,
        "messaging.destination.partition.id": String(rec.partition),
        "messaging.kafka.offset": Number(rec.message.offset),
        ...(rec.message.key ? { "messaging.kafka.message.key": rec.message.key.toString() } : {}),
      },
    },
    producer,
  );
  const ctx = trace.setSpan(producer, span);
  try {
    return await context.with(ctx, () => fn(span, ctx));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    throw err;
  } finally {
    span.end();
  }
}
