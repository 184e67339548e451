package io.tdamesh.flink.functions;

import com.google.protobuf.InvalidProtocolBufferException;
import io.tdamesh.flink.records.OutputRecord;
import io.tdamesh.flink.records.RawRecord;
import io.tdamesh.flink.records.StreamInput;
import io.tdamesh.flink.records.StreamSettings;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import tda.events.v1.Events.EventEnvelope;
import tda.events.v1.Events.StreamConfigData;
import tda.events.v1.Events.StreamPointsData;

/**
 * Decodes tda_events records. Point batches and configurations go on; anything malformed or of
 * an unknown type goes to the error output (tda_errors) with the reason, and never fails the job.
 */
public class DecodeEnvelope extends ProcessFunction<RawRecord, StreamInput> {
  public static final OutputTag<OutputRecord> ERRORS = new OutputTag<>("errors") {};
  public static final String POINTS_EVENT = "stream.points";
  public static final String CONFIG_EVENT = "stream.config";
  public static final int MAX_DIM = 4096;
  public static final int MAX_NAME = 256;

  private final String topic;
  private final String group;
  private transient Counter rejected;
  private transient io.opentelemetry.api.trace.Tracer tracer;

  public DecodeEnvelope() {
    this("tda_events", "tda-stream-features");
  }

  /** `topic` and `group` name the records' source in their CONSUMER spans. */
  public DecodeEnvelope(String topic, String group) {
    this.topic = topic;
    this.group = group;
  }

  /** Tests pass a tracer of their own; by default the process's (Tracing.tracer()). */
  DecodeEnvelope withTracer(io.opentelemetry.api.trace.Tracer t) {
    this.tracer = t;
    return this;
  }

  @Override
  public void open(org.apache.flink.api.common.functions.OpenContext ctx) {
    rejected = getRuntimeContext().getMetricGroup().counter("rejectedRecords");
  }

  @Override
  public void processElement(RawRecord raw, Context ctx, Collector<StreamInput> out) {
    String key = raw.key == null ? "" : new String(raw.key, StandardCharsets.UTF_8);
    if (tracer == null) tracer = Tracing.tracer();
    // the record's CONSUMER span: child of (and linked to) the span that produced it
    io.opentelemetry.api.trace.Span span = Tracing.consumerSpan(tracer, topic, group, raw.partition, raw.offset, raw.traceparent);
    try {
      out.collect(decode(raw, key));
    } catch (Rejected r) {
      if (rejected != null) rejected.inc();
      span.setStatus(io.opentelemetry.api.trace.StatusCode.ERROR, r.code);
      String where = " (tda_events partition " + raw.partition + " offset " + raw.offset + ")";
      ctx.output(ERRORS, Envelopes.error("validation", key, r.code, r.getMessage() + where, raw.traceparent));
    } finally {
      span.end();
    }
  }

  /** The record as a StreamInput, or Rejected with a code and reason. */
  static StreamInput decode(RawRecord raw, String key) throws Rejected {
    if (raw.value == null) throw new Rejected("MALFORMED_RECORD", "record has no value");
    EventEnvelope env;
    try {
      env = EventEnvelope.parseFrom(raw.value);
    } catch (InvalidProtocolBufferException e) {
      throw new Rejected("MALFORMED_RECORD", "value is not a tda.events.v1.EventEnvelope");
    }
    if (env.getEventType().isEmpty()) throw new Rejected("MALFORMED_RECORD", "envelope without event_type");
    switch (env.getEventType()) {
      case POINTS_EVENT:
        if (!env.hasStreamPoints()) throw new Rejected("MALFORMED_RECORD", "stream.points without stream_points data");
        return points(env, key, raw.traceparent);
      case CONFIG_EVENT:
        if (!env.hasStreamConfig()) throw new Rejected("MALFORMED_RECORD", "stream.config without stream_config data");
        return config(env, key, raw.traceparent);
      default:
        throw new Rejected("UNKNOWN_EVENT_TYPE", "unknown event type '" + clip(env.getEventType()) + "'");
    }
  }

  private static StreamInput points(EventEnvelope env, String key, String traceparent) throws Rejected {
    StreamPointsData p = env.getStreamPoints();
    StreamInput in = base(p.getTenant(), p.getStreamId(), key, env, traceparent);
    int dim = p.getDim();
    if (dim < 1 || dim > MAX_DIM) throw new Rejected("INVALID_ARGUMENT", "dim must be in 1.." + MAX_DIM);
    int bytes = p.getPoints().size();
    if (bytes == 0 || bytes % (8L * dim) != 0) throw new Rejected("INVALID_ARGUMENT", "points must be a non-empty whole number of " + dim + "-dimensional float64 rows");
    double[] coords = new double[bytes / 8];
    ByteBuffer buf = p.getPoints().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < coords.length; i++) {
      coords[i] = buf.getDouble();
      if (!Double.isFinite(coords[i])) throw new Rejected("INVALID_ARGUMENT", "points must be finite");
    }
    in.dim = dim;
    in.coords = coords;
    in.eventTimeMs = p.hasEventTime() ? Envelopes.millis(p.getEventTime()) : in.publishedAtMs;
    return in;
  }

  private static StreamInput config(EventEnvelope env, String key, String traceparent) throws Rejected {
    StreamConfigData c = env.getStreamConfig();
    StreamInput in = base(c.getTenant(), c.getStreamId(), key, env, traceparent);
    try {
      in.settings = StreamSettings.fromProto(c.getConfig());
    } catch (IllegalArgumentException e) {
      throw new Rejected("INVALID_ARGUMENT", "invalid stream configuration: " + e.getMessage());
    }
    return in;
  }

  private static StreamInput base(String tenant, String streamId, String key, EventEnvelope env, String traceparent) throws Rejected {
    if (tenant.isEmpty() || tenant.length() > MAX_NAME) throw new Rejected("INVALID_ARGUMENT", "tenant must be 1.." + MAX_NAME + " characters");
    if (streamId.isEmpty() || streamId.length() > MAX_NAME) throw new Rejected("INVALID_ARGUMENT", "stream_id must be 1.." + MAX_NAME + " characters");
    String expected = StreamInput.keyOf(tenant, streamId);
    if (!expected.equals(key)) throw new Rejected("INVALID_ARGUMENT", "record key '" + clip(key) + "' is not tenant/stream_id of its payload");
    StreamInput in = new StreamInput();
    in.key = expected;
    in.tenant = tenant;
    in.streamId = streamId;
    in.publishedAtMs = env.hasTimestamp() ? Envelopes.millis(env.getTimestamp()) : 0;
    String tp = env.getHeadersOrDefault("traceparent", traceparent);
    in.traceparent = TraceContext.valid(tp) ? tp : "";
    return in;
  }

  private static String clip(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  /** A record the job cannot use: error code and reason. */
  public static final class Rejected extends Exception {
    private static final long serialVersionUID = 1L;
    public final String code;

    public Rejected(String code, String message) {
      super(message);
      this.code = code;
    }
  }
}
