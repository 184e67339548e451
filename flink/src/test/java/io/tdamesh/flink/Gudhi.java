package io.tdamesh.flink;

import io.tdamesh.flink.records.Diagram;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GUDHI (PyPI gudhi 3.13) run by the test: test/reference/gudhi_ref.py, with the Python that
 * scripts/bootstrap.sh prepares (TDA_REF_PYTHON overrides it): gudhi.bottleneck_distance and
 * gudhi.hera.wasserstein_distance per homological dimension.
 */
final class Gudhi {
  private Gudhi() {}

  static Path python() {
    String env = System.getenv("TDA_REF_PYTHON");
    if (env != null && !env.isBlank()) return Path.of(env);
    String cache = System.getenv("TDA_CACHE_DIR");
    if (cache == null || cache.isBlank()) {
      String xdg = System.getenv("XDG_CACHE_HOME");
      cache = Path.of(xdg == null || xdg.isBlank() ? System.getProperty("user.home") + "/.cache" : xdg, "tda-mesh").toString();
    }
    return Path.of(cache, "pyref/bin/python");
  }

  /** Per pair (a, b) of one dimension's bars: {bottleneck, 1-Wasserstein with the L-infinity ground norm}. */
  static List<double[]> distances(List<double[][]> as, List<double[][]> bs) throws Exception {
    StringBuilder req = new StringBuilder("{\"op\": \"distance\", \"cases\": [");
    for (int i = 0; i < as.size(); i++) {
      if (i > 0) req.append(',');
      req.append("{\"a\": ").append(bars(as.get(i))).append(", \"b\": ").append(bars(bs.get(i)))
          .append(", \"order\": 1, \"internal_p\": Infinity, \"delta\": 1e-10}");
    }
    req.append("]}");
    Process p = new ProcessBuilder(python().toString(), Infra.ROOT.resolve("test/reference/gudhi_ref.py").toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    p.getOutputStream().write(req.toString().getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("gudhi_ref.py failed: " + out);
    List<double[]> res = new ArrayList<>();
    Matcher m = Pattern.compile("\\{[^}]*\\}").matcher(out);
    while (m.find()) res.add(new double[] {field(m.group(), "bottleneck"), field(m.group(), "wasserstein")});
    if (res.size() != as.size()) throw new IllegalStateException("gudhi_ref.py: " + res.size() + " answers for " + as.size() + " cases: " + out);
    return res;
  }

  /** Dimension k of a diagram as [[b, d], ...]. */
  static double[][] dim(Diagram d, int k) {
    double[][] out = new double[d.births[k].length][];
    for (int i = 0; i < out.length; i++) out[i] = new double[] {d.births[k][i], d.deaths[k][i]};
    return out;
  }

  private static String bars(double[][] bars) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < bars.length; i++) {
      if (i > 0) sb.append(',');
      sb.append('[').append(num(bars[i][0])).append(',').append(num(bars[i][1])).append(']');
    }
    return sb.append(']').toString();
  }

  private static String num(double v) {
    return Double.isInfinite(v) ? (v > 0 ? "Infinity" : "-Infinity") : String.format(Locale.ROOT, "%.17g", v);
  }

  private static double field(String obj, String name) {
    Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*(\"[^\"]*\"|[^,}\\s]+)").matcher(obj);
    if (!m.find()) return Double.NaN;
    String v = m.group(1).replace("\"", "");
    if (v.equals("inf")) return Double.POSITIVE_INFINITY;
    if (v.equals("-inf")) return Double.NEGATIVE_INFINITY;
    if (v.equals("null")) return Double.NaN;
    return Double.parseDouble(v);
  }
}
