package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.OutputRecord;
import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/** Writes an OutputRecord to its topic (with the prefix), key tenant/stream, traceparent header. */
public class OutputSerializer implements KafkaRecordSerializationSchema<OutputRecord> {
  private static final long serialVersionUID = 1L;
  private final String topicPrefix;

  public OutputSerializer(String topicPrefix) {
    this.topicPrefix = topicPrefix;
  }

  @Override
  public ProducerRecord<byte[], byte[]> serialize(OutputRecord r, KafkaSinkContext ctx, Long timestamp) {
    RecordHeaders headers = new RecordHeaders();
    if (!r.traceparent.isEmpty()) headers.add("traceparent", r.traceparent.getBytes(StandardCharsets.UTF_8));
    return new ProducerRecord<>(topicPrefix + r.topic, null, null, r.key.getBytes(StandardCharsets.UTF_8), r.value, headers);
  }
}
