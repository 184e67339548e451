package io.tdamesh.flink;

import io.tdamesh.flink.records.Diagram;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** Debian's ripser on a point cloud, run by the test: the reference diagram. */
final class Ripser {
  private Ripser() {}

  static Diagram run(double[] coords, int dim, int maxDim, double threshold) throws Exception {
    Path in = Files.createTempFile("window-", ".csv");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < coords.length; i += dim) {
      for (int j = 0; j < dim; j++) sb.append(j == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.17g", coords[i + j]));
      sb.append('\n');
    }
    Files.writeString(in, sb);
    List<String> cmd = new ArrayList<>(List.of("ripser", "--format", "point-cloud", "--dim", String.valueOf(maxDim)));
    if (!Double.isNaN(threshold)) cmd.addAll(List.of("--threshold", String.valueOf(threshold)));
    cmd.add(in.toString());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("ripser failed: " + out);
    Files.delete(in);
    return parse(out, maxDim);
  }

  /** Ripser's barcode text: "persistence intervals in dim d:" then " [b,d)" (" [b, )" for infinite). */
  static Diagram parse(String text, int maxDim) {
    List<List<double[]>> bars = new ArrayList<>();
    for (int k = 0; k <= maxDim; k++) bars.add(new ArrayList<>());
    int dim = -1;
    for (String line : text.split("\n")) {
      line = line.trim();
      if (line.startsWith("persistence intervals in dim")) {
        dim = Integer.parseInt(line.replaceAll("\\D", ""));
      } else if (line.startsWith("[") && dim >= 0 && dim <= maxDim) {
        String[] bd = line.substring(1, line.length() - 1).split(",");
        double b = Double.parseDouble(bd[0].trim());
        double d = bd[1].isBlank() ? Double.POSITIVE_INFINITY : Double.parseDouble(bd[1].trim());
        bars.get(dim).add(new double[] {b, d});
      }
    }
    double[][] births = new double[maxDim + 1][];
    double[][] deaths = new double[maxDim + 1][];
    for (int k = 0; k <= maxDim; k++) {
      births[k] = bars.get(k).stream().mapToDouble(x -> x[0]).toArray();
      deaths[k] = bars.get(k).stream().mapToDouble(x -> x[1]).toArray();
    }
    return new Diagram(births, deaths);
  }
}
