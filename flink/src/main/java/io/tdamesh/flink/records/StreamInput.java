package io.tdamesh.flink.records;

/**
 * One decoded record of tda_events for a stream: a batch of points, or a new configuration.
 * Keyed by {@link #key} ("tenant/stream_id").
 */
public class StreamInput {
  public String key;
  public String tenant;
  public String streamId;
  /** null for a point batch. */
  public StreamSettings settings;
  public int dim;
  /** Row-major coordinates (count * dim values). */
  public double[] coords;
  /** Event time of the batch, ms since the epoch. */
  public long eventTimeMs;
  /** When the gateway published it (envelope timestamp), ms since the epoch. */
  public long publishedAtMs;
  /** W3C traceparent of the publishing call ("" when none). */
  public String traceparent = "";

  public StreamInput() {}

  public boolean isConfig() {
    return settings != null;
  }

  public int count() {
    return coords == null || dim == 0 ? 0 : coords.length / dim;
  }

  public static String keyOf(String tenant, String streamId) {
    return tenant + "/" + streamId;
  }
}
