package io.tdamesh.flink.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tdamesh.flink.records.Diagram;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tda.common.v1.Stream.DimensionFeatures;

class FeaturesTest {
  @Test
  void countsBarsAliveAtTheScaleAndAboveTheNoise() {
    double inf = Double.POSITIVE_INFINITY;
    Diagram d = new Diagram(new double[][] {{0, 0, 0}}, new double[][] {{0.5, 2.0, inf}});
    DimensionFeatures f = Features.of(d, 0, 1.0, 0.6);
    assertEquals(2, f.getBetti()); // [0,2) and [0,inf) are alive at 1.0; [0,0.5) is not
    assertEquals(2, f.getBarsAboveNoise()); // lifetimes 2.0 and inf exceed 0.6
    assertEquals(2.5, f.getTotalPersistence(), 1e-12); // finite bars only
    assertEquals(2.0, f.getMaxLifetime(), 1e-12);
    assertEquals(3, f.getBars());
    // a bar dies at its death value: not alive at scale == death
    assertEquals(1, Features.of(d, 0, 2.0, 0).getBetti());
  }

  @Test
  void entropyMatchesItsDefinitionOnRandomDiagrams() {
    Random r = new Random(7);
    for (int t = 0; t < 50; t++) {
      int n = 1 + r.nextInt(40);
      double[] b = new double[n];
      double[] e = new double[n];
      double total = 0;
      for (int i = 0; i < n; i++) {
        b[i] = r.nextDouble();
        e[i] = b[i] + r.nextDouble() * 3;
        total += e[i] - b[i];
      }
      double expected = 0;
      for (int i = 0; i < n; i++) {
        double p = (e[i] - b[i]) / total;
        expected += -p * Math.log(p);
      }
      DimensionFeatures f = Features.of(new Diagram(new double[][] {b}, new double[][] {e}), 0, 0.5, 0);
      assertEquals(expected, f.getEntropy(), 1e-9);
      assertEquals(total, f.getTotalPersistence(), 1e-9);
    }
    // equal lifetimes: log n
    DimensionFeatures eq = Features.of(new Diagram(new double[][] {{0, 1, 2, 3}}, new double[][] {{1, 2, 3, 4}}), 0, 0, 0);
    assertEquals(Math.log(4), eq.getEntropy(), 1e-12);
    DimensionFeatures empty = Features.of(new Diagram(new double[][] {{}}, new double[][] {{}}), 0, 0, 0);
    assertEquals(0, empty.getEntropy());
  }
}
