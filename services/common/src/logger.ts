import pino from "pino";
import { context, isSpanContextValid, trace } from "@opentelemetry/api";

export type Logger = pino.Logger;

/**
 * `trace_id`/`span_id` of the active span (the request being served), so that every
 * line logged inside a request can be found from its trace; nothing outside one.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const sc = trace.getSpan(context.active())?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

export function createLogger(service: string, level = "info"): Logger {
  return pino({ name: service, level, base: { service }, mixin: traceFields });
}
