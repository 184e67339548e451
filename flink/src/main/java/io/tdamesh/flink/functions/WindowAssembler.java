package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.StreamInput;
import io.tdamesh.flink.records.StreamSettings;
import io.tdamesh.flink.records.WindowBuffer;
import io.tdamesh.flink.records.WindowPoints;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Windows one stream (keyed by tenant/stream) as its settings say: count windows of `size`
 * points every `slide` points, or event-time windows over the stream's own clock. The stream's
 * watermark is its largest event time minus the watermark delay; a time window fires once the
 * watermark passes its end by the allowed lateness, and points older than watermark minus
 * lateness are late: counted (metric latePoints) and dropped. Everything is driven by the
 * stream's records (no processing time), so a replay from a checkpoint emits the same windows.
 */
public class WindowAssembler extends KeyedProcessFunction<String, StreamInput, WindowPoints> {
  /** Most points one window sends to the engine (the rest of a time window is cut off). */
  public static final int MAX_WINDOW_POINTS = StreamSettings.MAX_COUNT_WINDOW;

  private transient ValueState<StreamSettings> settings;
  private transient ValueState<WindowBuffer> buffer;
  private transient MapState<Long, double[]> byTime;
  private transient Counter late;
  private transient Counter windows;

  @Override
  public void open(OpenContext ctx) {
    settings = getRuntimeContext().getState(new ValueStateDescriptor<>("settings", StreamSettings.class));
    buffer = getRuntimeContext().getState(new ValueStateDescriptor<>("buffer", WindowBuffer.class));
    byTime = getRuntimeContext().getMapState(new MapStateDescriptor<>("byTime", Types.LONG, PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    late = getRuntimeContext().getMetricGroup().counter("latePoints");
    windows = getRuntimeContext().getMetricGroup().counter("windowsAssembled");
  }

  @Override
  public void processElement(StreamInput in, Context ctx, Collector<WindowPoints> out) throws Exception {
    StreamSettings s = settings.value();
    if (s == null) s = StreamSettings.defaults();
    if (in.isConfig()) {
      if (!in.settings.sameWindow(s)) reset();
      settings.update(in.settings);
      return;
    }
    WindowBuffer b = buffer.value();
    if (b == null) b = new WindowBuffer();
    if (b.started && b.dim != in.dim) {
      ctx.output(DecodeEnvelope.ERRORS, Envelopes.error("validation", in.key, "INVALID_ARGUMENT",
          "stream " + in.streamId + " has dim " + b.dim + ", a batch of dim " + in.dim + " was dropped", in.traceparent));
      return;
    }
    b.dim = in.dim;
    b.lastPublishedAtMs = in.publishedAtMs;
    b.lastTraceparent = in.traceparent;
    if (s.timeWindow) addTimed(s, b, in, out);
    else addCounted(s, b, in, out);
    buffer.update(b);
  }

  private void reset() throws Exception {
    WindowBuffer b = buffer.value();
    if (b == null) return;
    WindowBuffer fresh = new WindowBuffer();
    fresh.nextSeq = 0;
    fresh.latePoints = b.latePoints;
    buffer.update(fresh);
    byTime.clear();
  }

  // ---- count windows ----------------------------------------------------------------

  private void addCounted(StreamSettings s, WindowBuffer b, StreamInput in, Collector<WindowPoints> out) {
    b.started = true;
    int dim = b.dim;
    int rows = in.count();
    int at = 0;
    while (at < rows) {
      long windowEnd = b.nextSeq * s.slide + s.size; // points needed for the next window
      int take = (int) Math.min(rows - at, windowEnd - b.n);
      append(b, in.coords, at * dim, take * dim);
      at += take;
      b.n += take;
      b.lastEventTimeMs = in.eventTimeMs;
      if (b.n == windowEnd) {
        emitCounted(s, b, in, out);
      }
    }
  }

  private static void append(WindowBuffer b, double[] src, int from, int len) {
    if (b.used + len > b.coords.length) b.coords = Arrays.copyOf(b.coords, Math.max(b.coords.length * 2, b.used + len));
    System.arraycopy(src, from, b.coords, b.used, len);
    b.used += len;
  }

  private void emitCounted(StreamSettings s, WindowBuffer b, StreamInput in, Collector<WindowPoints> out) {
    int dim = b.dim;
    long start = b.nextSeq * s.slide;
    int off = (int) (start - b.base) * dim;
    WindowPoints w = window(in, b, s, b.nextSeq);
    w.coords = Arrays.copyOfRange(b.coords, off, off + s.size * dim);
    w.startMs = b.lastEventTimeMs;
    w.endMs = b.lastEventTimeMs;
    out.collect(w);
    windows.inc();
    b.nextSeq++;
    // drop the points no later window needs
    long keepFrom = b.nextSeq * s.slide;
    int drop = (int) (Math.min(keepFrom, b.n) - b.base) * dim;
    System.arraycopy(b.coords, drop, b.coords, 0, b.used - drop);
    b.used -= drop;
    b.base += drop / dim;
  }

  // ---- event-time windows --------------------------------------------------------------

  private void addTimed(StreamSettings s, WindowBuffer b, StreamInput in, Collector<WindowPoints> out) throws Exception {
    long ts = in.eventTimeMs;
    if (b.started) {
      long watermark = b.maxEventTimeMs - s.watermarkDelayMs;
      if (ts < watermark - s.allowedLatenessMs) {
        b.latePoints += in.count();
        late.inc(in.count());
        return;
      }
    } else {
      b.started = true;
      // the first window that holds ts
      b.nextSeq = Math.max(0, Math.floorDiv(ts - s.sizeMs, s.slideMs) + 1);
    }
    double[] have = byTime.get(ts);
    if (have == null) byTime.put(ts, in.coords);
    else {
      double[] both = Arrays.copyOf(have, have.length + in.coords.length);
      System.arraycopy(in.coords, 0, both, have.length, in.coords.length);
      byTime.put(ts, both);
    }
    b.maxEventTimeMs = Math.max(b.maxEventTimeMs, ts);
    fireTimed(s, b, in, out);
  }

  /** Fires every window whose end the watermark has passed by the allowed lateness. */
  private void fireTimed(StreamSettings s, WindowBuffer b, StreamInput in, Collector<WindowPoints> out) throws Exception {
    long horizon = b.maxEventTimeMs - s.watermarkDelayMs - s.allowedLatenessMs;
    while (b.nextSeq * s.slideMs + s.sizeMs <= horizon) {
      long start = b.nextSeq * s.slideMs;
      long end = start + s.sizeMs;
      List<Map.Entry<Long, double[]>> inside = new ArrayList<>();
      long earliest = Long.MAX_VALUE;
      for (Map.Entry<Long, double[]> e : byTime.entries()) {
        if (e.getKey() >= start && e.getKey() < end) inside.add(e);
        earliest = Math.min(earliest, e.getKey());
      }
      if (!inside.isEmpty()) {
        inside.sort(Map.Entry.comparingByKey());
        out.collect(timedWindow(s, b, in, start, end, inside));
        windows.inc();
        b.nextSeq++;
      } else if (earliest == Long.MAX_VALUE || earliest >= end) {
        // jump over empty windows to the first that can hold the earliest point
        long next = earliest == Long.MAX_VALUE ? b.nextSeq + 1 : Math.floorDiv(earliest - s.sizeMs, s.slideMs) + 1;
        b.nextSeq = Math.max(b.nextSeq + 1, next);
      } else {
        b.nextSeq++;
      }
      long keepFrom = b.nextSeq * s.slideMs;
      Iterator<Long> it = byTime.keys().iterator();
      List<Long> old = new ArrayList<>();
      while (it.hasNext()) {
        long k = it.next();
        if (k < keepFrom) old.add(k);
      }
      for (long k : old) byTime.remove(k);
    }
  }

  private WindowPoints timedWindow(StreamSettings s, WindowBuffer b, StreamInput in, long start, long end, List<Map.Entry<Long, double[]>> inside) {
    int total = 0;
    for (Map.Entry<Long, double[]> e : inside) total += e.getValue().length;
    int cap = MAX_WINDOW_POINTS * b.dim;
    double[] coords = new double[Math.min(total, cap)];
    int at = 0;
    for (Map.Entry<Long, double[]> e : inside) {
      int len = Math.min(e.getValue().length, coords.length - at);
      System.arraycopy(e.getValue(), 0, coords, at, len);
      at += len;
      if (at == coords.length) break;
    }
    WindowPoints w = window(in, b, s, Math.floorDiv(start, s.slideMs));
    w.coords = coords;
    w.startMs = start;
    w.endMs = end;
    return w;
  }

  private static WindowPoints window(StreamInput in, WindowBuffer b, StreamSettings s, long seq) {
    WindowPoints w = new WindowPoints();
    w.key = in.key;
    w.tenant = in.tenant;
    w.streamId = in.streamId;
    w.seq = seq;
    w.dim = b.dim;
    w.settings = s;
    w.completedByPublishedAtMs = b.lastPublishedAtMs;
    w.traceparent = b.lastTraceparent;
    w.latePoints = b.latePoints;
    return w;
  }
}
