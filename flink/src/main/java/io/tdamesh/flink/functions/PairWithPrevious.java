package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.Diagram;
import io.tdamesh.flink.records.WindowDiagram;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Attaches the stream's previous diagram to each window (keyed by tenant/stream; windows arrive
 * in order), so the change score can be computed next. A window the engine refused passes
 * through and leaves the previous diagram as it was.
 */
public class PairWithPrevious extends KeyedProcessFunction<String, WindowDiagram, WindowDiagram> {
  private transient ValueState<Diagram> previous;

  @Override
  public void open(OpenContext ctx) {
    previous = getRuntimeContext().getState(new ValueStateDescriptor<>("previousDiagram", Diagram.class));
  }

  @Override
  public void processElement(WindowDiagram w, Context ctx, Collector<WindowDiagram> out) throws Exception {
    if (w.failure == null) {
      Diagram prev = previous.value();
      // a diagram of another max_dim is no fair comparison: start over
      w.previous = prev != null && prev.dims() == w.diagram.dims() ? prev : null;
      previous.update(w.diagram);
    }
    out.collect(w);
  }
}
