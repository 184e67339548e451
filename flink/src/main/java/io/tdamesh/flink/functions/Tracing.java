package io.tdamesh.flink.functions;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.util.concurrent.TimeUnit;

/**
 * The job's spans: a CONSUMER span per record read from Kafka ("<topic> process"), a child of
 * the producer span whose W3C traceparent the record carries and linked to it. Spans are
 * exported over OTLP/gRPC (in batches, off the record path) when OTEL_EXPORTER_OTLP_ENDPOINT
 * is set in the TaskManager's environment; otherwise the tracer makes no spans at all.
 */
public final class Tracing {
  public static final String SERVICE_NAME = "flink-stream-features";
  private static Tracer tracer;

  private Tracing() {}

  /** The process's tracer (one per TaskManager JVM), set up on first use. */
  public static synchronized Tracer tracer() {
    if (tracer == null) {
      String endpoint = System.getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
      if (endpoint == null || endpoint.isBlank()) {
        tracer = OpenTelemetry.noop().getTracer("tda-flink");
      } else {
        SdkTracerProvider provider = SdkTracerProvider.builder()
            .setResource(Resource.getDefault().merge(Resource.create(
                Attributes.of(AttributeKey.stringKey("service.name"), SERVICE_NAME))))
            .addSpanProcessor(BatchSpanProcessor.builder(
                OtlpGrpcSpanExporter.builder().setEndpoint(endpoint.trim()).build()).build())
            .build();
        OpenTelemetrySdk sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> provider.shutdown().join(5, TimeUnit.SECONDS)));
        tracer = sdk.getTracer("tda-flink");
      }
    }
    return tracer;
  }

  /** The producer's span context in a W3C traceparent, or an invalid one. */
  public static SpanContext remoteParent(String traceparent) {
    if (!TraceContext.valid(traceparent)) return SpanContext.getInvalid();
    return SpanContext.createFromRemoteParent(
        traceparent.substring(3, 35), traceparent.substring(36, 52),
        TraceFlags.fromHex(traceparent, 53), TraceState.getDefault());
  }

  /** Starts the CONSUMER span of one record; the caller ends it. */
  public static Span consumerSpan(Tracer tracer, String topic, String group, int partition, long offset, String traceparent) {
    SpanContext producer = remoteParent(traceparent);
    var builder = tracer.spanBuilder(topic + " process")
        .setSpanKind(SpanKind.CONSUMER)
        .setAttribute("messaging.system", "kafka")
        .setAttribute("messaging.operation.type", "process")
        .setAttribute("messaging.destination.name", topic)
        .setAttribute("messaging.consumer.group.name", group)
        .setAttribute("messaging.destination.partition.id", Integer.toString(partition))
        .setAttribute("messaging.kafka.offset", offset);
    if (producer.isValid()) {
      builder.setParent(Context.root().with(Span.wrap(producer))).addLink(producer);
    } else {
      builder.setNoParent();
    }
    return builder.startSpan();
  }
}
