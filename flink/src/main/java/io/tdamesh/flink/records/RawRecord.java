package io.tdamesh.flink.records;

/** A record as read from tda_events, before decoding (decoding never fails the source). */
public class RawRecord {
  public byte[] key;
  public byte[] value;
  public String traceparent = "";
  public int partition;
  public long offset;

  public RawRecord() {}
}
