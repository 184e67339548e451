package io.tdamesh.flink.functions;

import com.google.protobuf.Timestamp;
import io.tdamesh.flink.records.OutputRecord;
import java.util.UUID;
import tda.events.v1.Events.ErrorEventData;
import tda.events.v1.Events.EventEnvelope;

/** Builds the job's output envelopes (tda.events.v1, schema 1, source "flink"). */
public final class Envelopes {
  public static final String SOURCE = "flink";
  public static final int SCHEMA_VERSION = 1;

  private Envelopes() {}

  public static EventEnvelope.Builder envelope(String eventType, String correlationId, String traceparent) {
    long now = System.currentTimeMillis();
    EventEnvelope.Builder b = EventEnvelope.newBuilder()
        .setSchemaVersion(SCHEMA_VERSION)
        .setEventId(UUID.randomUUID().toString())
        .setTimestamp(timestamp(now))
        .setEventType(eventType)
        .setSource(SOURCE)
        .setCorrelationId(correlationId);
    if (!traceparent.isEmpty()) b.putHeaders("traceparent", traceparent);
    return b;
  }

  public static Timestamp timestamp(long ms) {
    return Timestamp.newBuilder().setSeconds(Math.floorDiv(ms, 1000)).setNanos((int) Math.floorMod(ms, 1000) * 1_000_000).build();
  }

  public static long millis(Timestamp t) {
    return t.getSeconds() * 1000 + t.getNanos() / 1_000_000;
  }

  /** An error.validation (or other kind) record for tda_errors. */
  public static OutputRecord error(String kind, String key, String code, String message, String parentTrace) {
    String tp = TraceContext.child(parentTrace);
    EventEnvelope env = envelope("error." + kind, key, tp)
        .setError(ErrorEventData.newBuilder().setErrorCode(code).setMessage(message).setRetryable(false))
        .build();
    return new OutputRecord(OutputRecord.ERRORS_TOPIC, key, env.toByteArray(), tp);
  }
}
