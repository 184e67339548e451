package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.Diagram;
import tda.common.v1.Stream.DimensionFeatures;

/** Topological features of a diagram (pure functions, no I/O). */
public final class Features {
  private Features() {}

  /** Features of dimension k: Betti at `scale`, bars above `noise`, totals over finite bars, entropy. */
  public static DimensionFeatures of(Diagram d, int k, double scale, double noise) {
    double[] b = d.births[k];
    double[] e = d.deaths[k];
    long betti = 0;
    long above = 0;
    double total = 0;
    double max = 0;
    for (int i = 0; i < b.length; i++) {
      double life = e[i] - b[i];
      if (b[i] <= scale && scale < e[i]) betti++;
      if (life > noise) above++;
      if (Double.isFinite(e[i])) {
        total += life;
        max = Math.max(max, life);
      }
    }
    return DimensionFeatures.newBuilder()
        .setDimension(k)
        .setBetti(betti)
        .setBarsAboveNoise(above)
        .setTotalPersistence(total)
        .setMaxLifetime(max)
        .setEntropy(entropy(b, e, total))
        .setBars(b.length)
        .build();
  }

  /** -sum p log p over the finite bars, p = lifetime / total lifetime (0 when total is 0). */
  static double entropy(double[] b, double[] e, double total) {
    if (!(total > 0)) return 0;
    double h = 0;
    for (int i = 0; i < b.length; i++) {
      if (!Double.isFinite(e[i])) continue;
      double p = (e[i] - b[i]) / total;
      if (p > 0) h -= p * Math.log(p);
    }
    return h;
  }
}
