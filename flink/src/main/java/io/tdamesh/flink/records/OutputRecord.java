package io.tdamesh.flink.records;

/** A record for Kafka: topic (without prefix), key, protobuf envelope and trace context. */
public class OutputRecord {
  public static final String FEATURES_TOPIC = "tda_stream_features";
  public static final String ERRORS_TOPIC = "tda_errors";

  public String topic;
  public String key;
  public byte[] value;
  public String traceparent = "";

  public OutputRecord() {}

  public OutputRecord(String topic, String key, byte[] value, String traceparent) {
    this.topic = topic;
    this.key = key;
    this.value = value;
    this.traceparent = traceparent == null ? "" : traceparent;
  }
}
