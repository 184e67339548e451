package io.tdamesh.flink.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tdamesh.flink.records.Diagram;
import io.tdamesh.flink.records.OutputRecord;
import io.tdamesh.flink.records.StreamSettings;
import io.tdamesh.flink.records.WindowDiagram;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import tda.events.v1.Events.EventEnvelope;

/**
 * The change-score steps in Flink's keyed operator test harness: pairing each window with the
 * stream's previous diagram (keyed state, across a snapshot), and the alert rule of
 * FeatureEmitter — an alert on the rising edge only (score reaches the level while the previous
 * score was below it), none without an alert level, none for a window without a score.
 */
class ChangeAlertTest {
  private static Diagram diagram(double... h1Deaths) {
    double[][] b = {{0}, new double[h1Deaths.length]};
    double[][] d = {{Double.POSITIVE_INFINITY}, h1Deaths.clone()};
    return new Diagram(b, d);
  }

  private static WindowDiagram window(String stream, long seq, Diagram diagram, StreamSettings s) {
    WindowDiagram w = new WindowDiagram();
    w.tenant = "t";
    w.streamId = stream;
    w.key = "t/" + stream;
    w.seq = seq;
    w.points = 8;
    w.dim = 2;
    w.settings = s;
    w.diagram = diagram;
    return w;
  }

  private static StreamSettings alertAt(double level) {
    StreamSettings s = StreamSettings.defaults();
    s.alertLevel = level;
    return s;
  }

  private static <O> List<O> values(KeyedOneInputStreamOperatorTestHarness<String, WindowDiagram, O> h) {
    List<O> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord<?> r) {
        @SuppressWarnings("unchecked")
        O v = (O) r.getValue();
        out.add(v);
      }
    }
    return out;
  }

  /** The pairing operator, restored from `snap` when not null, opened. */
  private static KeyedOneInputStreamOperatorTestHarness<String, WindowDiagram, WindowDiagram> pairing(OperatorSubtaskState snap) throws Exception {
    var h = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new PairWithPrevious()), (WindowDiagram w) -> w.key, Types.STRING);
    if (snap != null) h.initializeState(snap);
    h.open();
    return h;
  }

  private static KeyedOneInputStreamOperatorTestHarness<String, WindowDiagram, OutputRecord> emitter(OperatorSubtaskState snap) throws Exception {
    var h = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new FeatureEmitter()), (WindowDiagram w) -> w.key, Types.STRING);
    if (snap != null) h.initializeState(snap);
    h.open();
    return h;
  }

  @Test
  void pairsEachWindowWithItsStreamsPreviousDiagramAcrossASnapshot() throws Exception {
    Diagram a = diagram(1.0);
    Diagram b = diagram(2.0);
    Diagram other = diagram(5.0);
    OperatorSubtaskState snap;
    try (var h = pairing(null)) {
      h.processElement(window("s", 0, a, StreamSettings.defaults()), 0);
      h.processElement(window("o", 0, other, StreamSettings.defaults()), 0);
      snap = h.snapshot(1, 1);
    }
    try (var h = pairing(snap)) {
      h.processElement(window("s", 1, b, StreamSettings.defaults()), 0);
      WindowDiagram refused = window("s", 2, null, StreamSettings.defaults());
      refused.failure = "INVALID_ARGUMENT: no";
      h.processElement(refused, 0);
      h.processElement(window("s", 3, a, StreamSettings.defaults()), 0);
      List<WindowDiagram> out = values(h);
      assertEquals(3, out.size());
      assertEquals(1.0, out.get(0).previous.deaths[1][0]); // s's own previous, not o's, restored from the snapshot
      assertNull(out.get(1).previous); // the refused window passes through untouched
      assertEquals(2.0, out.get(2).previous.deaths[1][0]); // and did not replace the previous diagram
    }
  }

  @Test
  void startsOverWhenTheHomologyDimensionsChange() throws Exception {
    try (var h = pairing(null)) {
      h.processElement(window("s", 0, diagram(1.0), StreamSettings.defaults()), 0);
      Diagram h0only = new Diagram(new double[][] {{0}}, new double[][] {{Double.POSITIVE_INFINITY}});
      h.processElement(window("s", 1, h0only, StreamSettings.defaults()), 0);
      h.processElement(window("s", 2, new Diagram(new double[][] {{0}}, new double[][] {{Double.POSITIVE_INFINITY}}), StreamSettings.defaults()), 0);
      List<WindowDiagram> out = values(h);
      assertNull(out.get(0).previous);
      assertNull(out.get(1).previous);
      assertEquals(1, out.get(2).previous.dims()); // then compares H0 with H0 again
    }
  }

  private static WindowDiagram scored(long seq, double bottleneck, StreamSettings s) {
    WindowDiagram w = window("s", seq, diagram(1.0), s);
    w.bottleneck = bottleneck;
    w.wasserstein = 2 * bottleneck;
    return w;
  }

  private static List<EventEnvelope> envelopes(KeyedOneInputStreamOperatorTestHarness<String, WindowDiagram, OutputRecord> h) throws Exception {
    List<EventEnvelope> out = new ArrayList<>();
    for (OutputRecord r : values(h)) out.add(EventEnvelope.parseFrom(r.value));
    return out;
  }

  @Test
  void raisesOneAlertPerRisingEdgeAndKeepsTheLastScoreAcrossASnapshot() throws Exception {
    StreamSettings s = alertAt(0.5);
    OperatorSubtaskState snap;
    List<EventEnvelope> first;
    try (var h = emitter(null)) {
      h.processElement(scored(0, Double.NaN, s), 0); // first window: no score, no alert
      h.processElement(scored(1, 0.1, s), 0);
      h.processElement(scored(2, 0.7, s), 0); // rises past the level: alert
      h.processElement(scored(3, 0.9, s), 0); // still above: no second alert
      first = envelopes(h);
      snap = h.snapshot(1, 1);
    }
    assertEquals(List.of("stream.features", "stream.features", "stream.features", "stream.alert", "stream.features"),
        first.stream().map(EventEnvelope::getEventType).toList());
    assertFalse(first.get(0).getStreamFeatures().hasBottleneckDistance());
    assertEquals(0.1, first.get(1).getStreamFeatures().getBottleneckDistance());
    assertEquals(0.2, first.get(1).getStreamFeatures().getWassersteinDistance());
    var alert = first.get(3).getStreamAlert();
    assertEquals(2, alert.getWindowSeq());
    assertEquals(0.7, alert.getChangeScore());
    assertEquals(1.4, alert.getWassersteinDistance());
    assertEquals(0.5, alert.getAlertLevel());
    assertEquals(0.1, alert.getPreviousScore());
    assertEquals("t/s", first.get(3).getCorrelationId());

    try (var h = emitter(snap)) {
      h.processElement(scored(4, 0.8, s), 0); // the restored last score (0.9) is above: no alert
      h.processElement(scored(5, 0.2, s), 0);
      h.processElement(scored(6, 0.5, s), 0); // reaches the level again: alert (at the level counts)
      List<String> types = envelopes(h).stream().map(EventEnvelope::getEventType).toList();
      assertEquals(List.of("stream.features", "stream.features", "stream.features", "stream.alert"), types);
      assertEquals(6, envelopes(h).get(3).getStreamAlert().getWindowSeq());
    }
  }

  @Test
  void raisesNoAlertWithoutAnAlertLevel() throws Exception {
    try (var h = emitter(null)) {
      for (int i = 0; i < 4; i++) h.processElement(scored(i, i * 10.0, StreamSettings.defaults()), 0);
      assertTrue(envelopes(h).stream().allMatch(e -> e.getEventType().equals("stream.features")));
      assertEquals(4, envelopes(h).size());
    }
  }
}
