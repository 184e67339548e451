package io.tdamesh.flink.records;

/** A window's diagram, with what the features need of the window (the points are dropped). */
public class WindowDiagram {
  public String key;
  public String tenant;
  public String streamId;
  public long seq;
  public long startMs;
  public long endMs;
  public int points;
  public int dim;
  public StreamSettings settings;
  public long completedByPublishedAtMs;
  public String traceparent = "";
  public long latePoints;
  public Diagram diagram;
  public double engineSeconds;
  /** Set when the engine refused the window for good (the reason); diagram is null then. */
  public String failure;
  /** The stream's previous diagram (set by the pairing step; null for the first window). */
  public Diagram previous;
  /** Distances to the previous diagram (NaN without one). */
  public double bottleneck = Double.NaN;
  public double wasserstein = Double.NaN;

  public WindowDiagram() {}

  public static WindowDiagram of(WindowPoints w) {
    WindowDiagram d = new WindowDiagram();
    d.key = w.key;
    d.tenant = w.tenant;
    d.streamId = w.streamId;
    d.seq = w.seq;
    d.startMs = w.startMs;
    d.endMs = w.endMs;
    d.points = w.count();
    d.dim = w.dim;
    d.settings = w.settings;
    d.completedByPublishedAtMs = w.completedByPublishedAtMs;
    d.traceparent = w.traceparent;
    d.latePoints = w.latePoints;
    return d;
  }
}
