package io.tdamesh.flink.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.tdamesh.flink.records.RawRecord;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

/** Every record read gets a CONSUMER span under (and linked to) the producer span in its traceparent. */
class DecodeEnvelopeTracingTest {
  private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String PRODUCER_SPAN = "00f067aa0ba902b7";

  private static RawRecord record(String traceparent, byte[] value) {
    RawRecord r = new RawRecord();
    r.key = "tenant/stream".getBytes(StandardCharsets.UTF_8);
    r.value = value;
    r.traceparent = traceparent;
    r.partition = 2;
    r.offset = 41;
    return r;
  }

  @Test
  void consumerSpansContinueTheProducersTrace() throws Exception {
    InMemorySpanExporter exported = InMemorySpanExporter.create();
    SdkTracerProvider provider = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exported)).build();
    DecodeEnvelope fn = new DecodeEnvelope("tda_events", "tda-stream-features").withTracer(provider.get("test"));
    try (OneInputStreamOperatorTestHarness<RawRecord, ?> h = ProcessFunctionTestHarnesses.forProcessFunction(fn)) {
      h.processElement(record("00-" + TRACE + "-" + PRODUCER_SPAN + "-01", new byte[] {1, 2, 3}), 0);
      h.processElement(record("", null), 0);
    }
    List<SpanData> spans = exported.getFinishedSpanItems();
    assertEquals(2, spans.size());

    SpanData linked = spans.get(0);
    assertEquals("tda_events process", linked.getName());
    assertEquals(SpanKind.CONSUMER, linked.getKind());
    assertEquals(TRACE, linked.getTraceId());
    assertEquals(PRODUCER_SPAN, linked.getParentSpanId());
    assertEquals(1, linked.getLinks().size());
    assertEquals(PRODUCER_SPAN, linked.getLinks().get(0).getSpanContext().getSpanId());
    assertEquals("tda-stream-features", linked.getAttributes().get(io.opentelemetry.api.common.AttributeKey.stringKey("messaging.consumer.group.name")));
    assertEquals(41L, linked.getAttributes().get(io.opentelemetry.api.common.AttributeKey.longKey("messaging.kafka.offset")));
    // the value was no envelope: the record went to tda_errors and its span says so
    assertEquals(StatusCode.ERROR, linked.getStatus().getStatusCode());

    SpanData root = spans.get(1);
    assertFalse(root.getParentSpanContext().isValid());
    assertEquals(0, root.getLinks().size());
  }
}
