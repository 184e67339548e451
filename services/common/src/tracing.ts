import { context, propagation, trace, SpanKind, SpanStatusCode, type Context, type Span, type TextMapGetter } from "@opentelemetry/api";
import { NodeTracerProvider, BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Metadata } from "@grpc/grpc-js";

// Tracing bootstrap and explicit W3C context propagation over gRPC metadata
// and Kafka headers (auto-instrumentation is not relied upon).

let provider: NodeTracerProvider | undefined;
let exporting = false;

/** Installs the global tracer provider once. Spans are exported over OTLP when an endpoint is set. */
export function initTracing(serviceName: string, otlpEndpoint: string | undefined, extra: SpanProcessor[] = []): void {
  if (provider) return;
  const spanProcessors: SpanProcessor[] = [...extra];
  if (otlpEndpoint) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint })));
  exporting = spanProcessors.length > 0;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    spanProcessors,
  });
  provider.register();
}

/**
 * Whether this process hands its spans to a processor (an OTLP exporter or
 * one given to initTracing). Without one, the spans it records are dropped
 * when they end: a span whose only use is to be exported can be skipped.
 */
export function spansExported(): boolean {
  return exporting;
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}

export function tracer(name = "tda-mesh") {
  return trace.getTracer(name);
}

/** Carrier with the W3C `traceparent` (and `tracestate`) of `ctx`. */
export function injectCarrier(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const v = md.get(key);
    return v.length === 0 ? undefined : v.map((x) => x.toString());
  },
};

export function contextFromMetadata(md: Metadata): Context {
  return propagation.extract(context.active(), md, metadataGetter);
}

export function contextFromCarrier(carrier: Record<string, string | undefined>): Context {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(carrier)) if (v !== undefined) clean[k] = v;
  return propagation.extract(context.active(), clean);
}

/** Adds the active trace context to outgoing gRPC metadata. */
export function metadataWithTrace(md: Metadata, ctx: Context = context.active()): Metadata {
  for (const [k, v] of Object.entries(injectCarrier(ctx))) md.set(k, v);
  return md;
}

/** Runs `fn` inside a new span (child of `parent`), recording failures. */
export async function inSpan<T>(
  name: string,
  parent: Context,
  kind: SpanKind,
  fn: (span: Span, ctx: Context) => Promise<T>,
  attributes: Record<string, string | number | boolean> = {},
): Promise<T> {
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
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

export function traceIdOf(ctx: Context): string {
  return trace.getSpanContext(ctx)?.traceId ?? "";
}

export { SpanKind, context, trace };
