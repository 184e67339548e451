package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.OutputRecord;
import io.tdamesh.flink.records.WindowDiagram;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import tda.events.v1.Events.EventEnvelope;
import tda.events.v1.Events.StreamAlertData;
import tda.events.v1.Events.StreamFeaturesData;

/**
 * Turns a scored window into its stream.features record, and a stream.alert record when the
 * change score reaches the stream's alert level while the previous window's score was below it
 * (a rising edge: one alert per change, not one per window while it lasts). Keyed by
 * tenant/stream. A window the engine refused becomes an error record on tda_errors.
 */
public class FeatureEmitter extends KeyedProcessFunction<String, WindowDiagram, OutputRecord> {
  public static final String FEATURES_EVENT = "stream.features";
  public static final String ALERT_EVENT = "stream.alert";

  private transient ValueState<Double> lastScore;
  private transient Counter emitted;
  private transient Counter alerts;

  @Override
  public void open(OpenContext ctx) {
    lastScore = getRuntimeContext().getState(new ValueStateDescriptor<>("lastScore", Types.DOUBLE));
    emitted = getRuntimeContext().getMetricGroup().counter("windowsEmitted");
    alerts = getRuntimeContext().getMetricGroup().counter("alertsEmitted");
  }

  @Override
  public void processElement(WindowDiagram w, Context ctx, Collector<OutputRecord> out) throws Exception {
    if (w.failure != null) {
      out.collect(Envelopes.error("computation", w.key, "WINDOW_REFUSED",
          "window " + w.seq + " of stream " + w.streamId + " was refused by the engine: " + w.failure, w.traceparent));
      return;
    }
    String tp = TraceContext.child(w.traceparent);
    StreamFeaturesData features = features(w);
    out.collect(new OutputRecord(OutputRecord.FEATURES_TOPIC, w.key,
        Envelopes.envelope(FEATURES_EVENT, w.key, tp).setStreamFeatures(features).build().toByteArray(), tp));
    emitted.inc();
    if (Double.isNaN(w.bottleneck)) return;
    Double prev = lastScore.value();
    lastScore.update(w.bottleneck);
    double level = w.settings.alertLevel;
    if (w.settings.hasAlertLevel() && w.bottleneck >= level && (prev == null || prev < level)) {
      StreamAlertData alert = StreamAlertData.newBuilder()
          .setTenant(w.tenant).setStreamId(w.streamId).setWindowSeq(w.seq)
          .setChangeScore(w.bottleneck).setWassersteinDistance(w.wasserstein)
          .setAlertLevel(level).setPreviousScore(prev == null ? 0 : prev)
          .build();
      String atp = TraceContext.child(w.traceparent);
      EventEnvelope env = Envelopes.envelope(ALERT_EVENT, w.key, atp).setStreamAlert(alert).build();
      out.collect(new OutputRecord(OutputRecord.FEATURES_TOPIC, w.key, env.toByteArray(), atp));
      alerts.inc();
    }
  }

  static StreamFeaturesData features(WindowDiagram w) {
    double scale = w.settings.effectiveBettiScale();
    StreamFeaturesData.Builder f = StreamFeaturesData.newBuilder()
        .setTenant(w.tenant).setStreamId(w.streamId).setWindowSeq(w.seq)
        .setWindowStartMs(w.startMs).setWindowEndMs(w.endMs)
        .setPoints(w.points).setDim(w.dim)
        .setBettiScale(scale)
        .setEngineSeconds(w.engineSeconds)
        .setLatePoints(w.latePoints);
    if (w.completedByPublishedAtMs > 0) f.setCompletedByPublishedAt(Envelopes.timestamp(w.completedByPublishedAtMs));
    for (int k = 0; k < w.diagram.dims(); k++) f.addDimensions(Features.of(w.diagram, k, scale, w.settings.noiseLevel));
    if (!Double.isNaN(w.bottleneck)) f.setBottleneckDistance(w.bottleneck);
    // unset when only the bottleneck distance was asked (windows past the engine's Wasserstein limit)
    if (!Double.isNaN(w.bottleneck) && !Double.isNaN(w.wasserstein)) f.setWassersteinDistance(w.wasserstein);
    return f.build();
  }
}
