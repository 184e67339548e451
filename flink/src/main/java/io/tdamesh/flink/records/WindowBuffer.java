package io.tdamesh.flink.records;

/**
 * A stream's window state. Count windows: the points from index `base` on (`used` values), `n`
 * points seen, next window `nextSeq`. Time windows: the largest event time and the next window
 * to fire (the points themselves are kept per event time in map state).
 */
public class WindowBuffer {
  public int dim;
  public double[] coords = new double[0];
  public int used;
  public long base;
  public long n;
  public long nextSeq;
  public long maxEventTimeMs = Long.MIN_VALUE;
  public boolean started;
  public long latePoints;
  public long lastEventTimeMs;
  public long lastPublishedAtMs;
  public String lastTraceparent = "";

  public WindowBuffer() {}
}
