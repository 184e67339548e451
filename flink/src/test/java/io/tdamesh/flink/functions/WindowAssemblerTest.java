package io.tdamesh.flink.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tdamesh.flink.records.OutputRecord;
import io.tdamesh.flink.records.StreamInput;
import io.tdamesh.flink.records.StreamSettings;
import io.tdamesh.flink.records.WindowPoints;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.junit.jupiter.api.Test;
import tda.events.v1.Events.EventEnvelope;

/** The windowing operator in Flink's keyed operator test harness (state, snapshots, side output). */
class WindowAssemblerTest {
  private static KeyedOneInputStreamOperatorTestHarness<String, StreamInput, WindowPoints> harness() throws Exception {
    var h = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new WindowAssembler()), in -> in.key, Types.STRING);
    h.open();
    return h;
  }

  private static StreamInput config(String stream, StreamSettings s) {
    StreamInput in = new StreamInput();
    in.tenant = "t";
    in.streamId = stream;
    in.key = StreamInput.keyOf("t", stream);
    in.settings = s;
    return in;
  }

  /** `rows` 1-D points numbered from `first`, at event time `ts`. */
  private static StreamInput points(String stream, int first, int rows, long ts) {
    StreamInput in = config(stream, null);
    in.dim = 1;
    in.coords = new double[rows];
    for (int i = 0; i < rows; i++) in.coords[i] = first + i;
    in.eventTimeMs = ts;
    return in;
  }

  private static List<WindowPoints> output(KeyedOneInputStreamOperatorTestHarness<String, StreamInput, WindowPoints> h) {
    List<WindowPoints> out = new ArrayList<>();
    for (Object o : h.getOutput()) if (o instanceof StreamRecord<?> r) out.add((WindowPoints) r.getValue());
    return out;
  }

  private static double[] range(int from, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) v[i] = from + i;
    return v;
  }

  @Test
  void countWindowsSlideOverBatchesOfAnySize() throws Exception {
    var h = harness();
    StreamSettings s = StreamSettings.defaults();
    s.size = 5;
    s.slide = 2;
    h.processElement(config("a", s), 0);
    int[] batches = {3, 1, 7, 2, 4}; // 17 points: windows start at 0,2,...,12
    int at = 0;
    for (int n : batches) {
      h.processElement(points("a", at, n, 1000 + at), 0);
      at += n;
    }
    List<WindowPoints> out = output(h);
    assertEquals(7, out.size());
    for (int k = 0; k < out.size(); k++) {
      assertEquals(k, out.get(k).seq);
      assertArrayEquals(range(2 * k, 5), out.get(k).coords);
    }
    h.close();
  }

  @Test
  void countWindowStateSurvivesASnapshotAndRestore() throws Exception {
    var h = harness();
    StreamSettings s = StreamSettings.defaults();
    s.size = 4;
    s.slide = 4;
    h.processElement(config("a", s), 0);
    h.processElement(points("a", 0, 6, 1), 0);
    OperatorSubtaskState snap = h.snapshot(1, 1);
    h.close();
    var restored = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new WindowAssembler()), (StreamInput in) -> in.key, Types.STRING);
    restored.initializeState(snap);
    restored.open();
    restored.processElement(points("a", 6, 6, 2), 0);
    List<WindowPoints> out = output(restored);
    assertEquals(2, out.size()); // windows 1 and 2 (points 4..7, 8..11)
    assertEquals(1, out.get(0).seq);
    assertArrayEquals(range(4, 4), out.get(0).coords);
    assertArrayEquals(range(8, 4), out.get(1).coords);
    restored.close();
  }

  @Test
  void timeWindowsFireAfterWatermarkAndLatenessAndDropLatePoints() throws Exception {
    var h = harness();
    StreamSettings s = StreamSettings.defaults();
    s.timeWindow = true;
    s.sizeMs = 1000;
    s.slideMs = 500;
    s.watermarkDelayMs = 200;
    s.allowedLatenessMs = 300;
    h.processElement(config("a", s), 0);
    h.processElement(points("a", 0, 2, 10_100), 0);
    h.processElement(points("a", 2, 2, 10_600), 0);
    h.processElement(points("a", 4, 1, 10_400), 0); // out of order, not late
    // horizon = max - 200 - 300; window [10000, 11000) fires when max >= 11500
    h.processElement(points("a", 5, 1, 11_400), 0);
    assertTrue(output(h).stream().allMatch(w -> w.endMs <= 10_900), "no window past the horizon yet");
    h.processElement(points("a", 6, 1, 11_500), 0);
    List<WindowPoints> out = output(h);
    WindowPoints w = out.get(out.size() - 1);
    assertEquals(10_000, w.startMs);
    assertEquals(11_000, w.endMs);
    assertEquals(20, w.seq);
    assertEquals(5, w.count()); // 10100 (2), 10400 (1), 10600 (2), in event-time order
    assertArrayEquals(new double[] {0, 1, 4, 2, 3}, w.coords);
    // watermark 11300, minus lateness 300: a point at 10_999 is late
    int before = output(h).size();
    h.processElement(points("a", 100, 3, 10_999), 0);
    assertEquals(before, output(h).size());
    h.processElement(points("a", 7, 1, 12_100), 0); // fires [10500, 11500)
    out = output(h);
    WindowPoints next = out.get(out.size() - 1);
    assertEquals(10_500, next.startMs);
    assertEquals(3, next.latePoints);
    assertArrayEquals(new double[] {2, 3, 5}, next.coords); // 10600 (2), 11400 (1); the late batch is gone
    h.close();
  }

  @Test
  void aBatchOfAnotherDimIsReportedAndDropped() throws Exception {
    var h = harness();
    h.processElement(points("a", 0, 3, 1), 0);
    StreamInput two = points("a", 0, 2, 2);
    two.dim = 2;
    h.processElement(two, 0);
    var errors = h.getSideOutput(DecodeEnvelope.ERRORS);
    assertEquals(1, errors.size());
    OutputRecord r = errors.peek().getValue();
    assertEquals(OutputRecord.ERRORS_TOPIC, r.topic);
    EventEnvelope env = EventEnvelope.parseFrom(r.value);
    assertTrue(env.getError().getMessage().contains("dim"), env.getError().getMessage());
    h.close();
  }
}
