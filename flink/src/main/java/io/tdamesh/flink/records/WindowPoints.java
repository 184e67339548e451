package io.tdamesh.flink.records;

/** The points of one window of a stream, ready for the engine. */
public class WindowPoints {
  public String key;
  public String tenant;
  public String streamId;
  public long seq;
  public long startMs;
  public long endMs;
  public int dim;
  public double[] coords;
  public StreamSettings settings;
  public long completedByPublishedAtMs;
  public String traceparent = "";
  public long latePoints;

  public WindowPoints() {}

  public int count() {
    return dim == 0 ? 0 : coords.length / dim;
  }
}
