package io.tdamesh.flink.records;

import java.util.ArrayList;
import java.util.List;
import tda.common.v1.Stream.CountWindow;
import tda.common.v1.Stream.StreamConfig;
import tda.common.v1.Stream.TimeWindow;

/**
 * A stream's window and feature settings (the job's form of tda.common.v1.StreamConfig), with
 * the defaults filled in. NaN means "unset" for the optional numbers.
 */
public class StreamSettings {
  public static final int DEFAULT_SIZE = 256;
  public static final int DEFAULT_SLIDE = 64;
  public static final int MAX_COUNT_WINDOW = 4096;
  public static final int MAX_DIM = 2;
  public static final long MAX_TIME_MS = 7L * 24 * 3600 * 1000;

  public boolean timeWindow;
  public int size = DEFAULT_SIZE;
  public int slide = DEFAULT_SLIDE;
  public long sizeMs;
  public long slideMs;
  public long watermarkDelayMs;
  public long allowedLatenessMs;
  public int maxDim = 1;
  public double threshold = Double.NaN;
  public double bettiScale = Double.NaN;
  public double noiseLevel;
  public double alertLevel = Double.NaN;

  public StreamSettings() {}

  public static StreamSettings defaults() {
    return new StreamSettings();
  }

  /** Settings from the proto; throws IllegalArgumentException listing every problem. */
  public static StreamSettings fromProto(StreamConfig c) {
    StreamSettings s = new StreamSettings();
    List<String> problems = new ArrayList<>();
    if (c.hasTime()) {
      TimeWindow t = c.getTime();
      s.timeWindow = true;
      s.sizeMs = t.getSizeMs();
      s.slideMs = t.getSlideMs();
      s.watermarkDelayMs = t.getWatermarkDelayMs();
      s.allowedLatenessMs = t.getAllowedLatenessMs();
      if (s.sizeMs < 1 || s.sizeMs > MAX_TIME_MS) problems.add("time.size_ms must be in 1.." + MAX_TIME_MS);
      if (s.slideMs < 1 || s.slideMs > s.sizeMs) problems.add("time.slide_ms must be in 1..size_ms");
      if (s.watermarkDelayMs > MAX_TIME_MS) problems.add("time.watermark_delay_ms must be at most " + MAX_TIME_MS);
      if (s.allowedLatenessMs > MAX_TIME_MS) problems.add("time.allowed_lateness_ms must be at most " + MAX_TIME_MS);
    } else if (c.hasCount()) {
      CountWindow w = c.getCount();
      s.size = w.getSize();
      s.slide = w.getSlide();
      if (s.size < 2 || s.size > MAX_COUNT_WINDOW) problems.add("count.size must be in 2.." + MAX_COUNT_WINDOW);
      if (s.slide < 1 || s.slide > s.size) problems.add("count.slide must be in 1..size");
    }
    s.maxDim = c.getMaxDim() == 0 ? 1 : c.getMaxDim();
    if (c.getMaxDim() > MAX_DIM) problems.add("max_dim must be at most " + MAX_DIM);
    if (c.hasThreshold()) s.threshold = c.getThreshold();
    if (c.hasBettiScale()) s.bettiScale = c.getBettiScale();
    s.noiseLevel = c.getNoiseLevel();
    if (c.hasAlertLevel()) s.alertLevel = c.getAlertLevel();
    if (c.hasThreshold() && !(s.threshold >= 0)) problems.add("threshold must be non-negative");
    if (c.hasBettiScale() && !(s.bettiScale >= 0 && s.bettiScale < Double.POSITIVE_INFINITY)) problems.add("betti_scale must be finite and non-negative");
    if (!(s.noiseLevel >= 0 && s.noiseLevel < Double.POSITIVE_INFINITY)) problems.add("noise_level must be finite and non-negative");
    if (c.hasAlertLevel() && !(s.alertLevel >= 0 && s.alertLevel < Double.POSITIVE_INFINITY)) problems.add("alert_level must be finite and non-negative");
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    return s;
  }

  /** The scale at which Betti numbers are counted (+inf: end of the filtration). */
  public double effectiveBettiScale() {
    if (!Double.isNaN(bettiScale)) return bettiScale;
    if (!Double.isNaN(threshold)) return threshold;
    return Double.POSITIVE_INFINITY;
  }

  public boolean hasAlertLevel() {
    return !Double.isNaN(alertLevel);
  }

  /** Whether two settings window a stream the same way (a change resets the window buffer). */
  public boolean sameWindow(StreamSettings o) {
    return timeWindow == o.timeWindow && size == o.size && slide == o.slide && sizeMs == o.sizeMs
        && slideMs == o.slideMs && watermarkDelayMs == o.watermarkDelayMs && allowedLatenessMs == o.allowedLatenessMs;
  }
}
