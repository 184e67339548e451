package io.tdamesh.flink.records;

import java.util.ArrayList;
import java.util.List;
import tda.common.v1.Common.Interval;
import tda.common.v1.Common.PersistenceDiagram;
import tda.common.v1.Common.PersistenceResult;

/** A persistence diagram: births[d][i], deaths[d][i] per dimension d (death may be +inf). */
public class Diagram {
  public double[][] births;
  public double[][] deaths;

  public Diagram() {}

  public Diagram(double[][] births, double[][] deaths) {
    this.births = births;
    this.deaths = deaths;
  }

  public int dims() {
    return births == null ? 0 : births.length;
  }

  /** The engine's result as a diagram with dimensions 0..maxDim (missing ones empty). */
  public static Diagram fromResult(PersistenceResult r, int maxDim) {
    double[][] b = new double[maxDim + 1][];
    double[][] d = new double[maxDim + 1][];
    for (int k = 0; k <= maxDim; k++) {
      b[k] = new double[0];
      d[k] = new double[0];
    }
    for (PersistenceDiagram pd : r.getDiagramsList()) {
      int k = pd.getDimension();
      if (k > maxDim) continue;
      int n = pd.getIntervalsCount();
      b[k] = new double[n];
      d[k] = new double[n];
      for (int i = 0; i < n; i++) {
        Interval iv = pd.getIntervals(i);
        b[k][i] = iv.getBirth();
        d[k][i] = iv.getDeath();
      }
    }
    return new Diagram(b, d);
  }

  /** The diagram as the proto's per-dimension list. */
  public List<PersistenceDiagram> toProto() {
    List<PersistenceDiagram> out = new ArrayList<>(dims());
    for (int k = 0; k < dims(); k++) {
      PersistenceDiagram.Builder pd = PersistenceDiagram.newBuilder().setDimension(k);
      for (int i = 0; i < births[k].length; i++) {
        pd.addIntervals(Interval.newBuilder().setBirth(births[k][i]).setDeath(deaths[k][i]));
      }
      out.add(pd.build());
    }
    return out;
  }
}
