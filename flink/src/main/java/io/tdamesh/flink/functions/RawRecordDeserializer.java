package io.tdamesh.flink.functions;

import io.tdamesh.flink.records.RawRecord;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/** Keeps tda_events records as raw bytes: decoding happens downstream, where a bad one is reported, not fatal. */
public class RawRecordDeserializer implements KafkaRecordDeserializationSchema<RawRecord> {
  private static final long serialVersionUID = 1L;

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> rec, Collector<RawRecord> out) {
    RawRecord r = new RawRecord();
    r.key = rec.key();
    r.value = rec.value();
    r.partition = rec.partition();
    r.offset = rec.offset();
    Header tp = rec.headers().lastHeader("traceparent");
    if (tp != null && tp.value() != null && tp.value().length <= 64) r.traceparent = new String(tp.value(), StandardCharsets.UTF_8);
    out.collect(r);
  }

  @Override
  public TypeInformation<RawRecord> getProducedType() {
    return TypeInformation.of(RawRecord.class);
  }
}
