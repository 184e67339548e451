package io.tdamesh.flink;

import io.tdamesh.flink.engine.EngineSettings;
import io.tdamesh.flink.functions.ChangeScore;
import io.tdamesh.flink.functions.DecodeEnvelope;
import io.tdamesh.flink.functions.EngineCompute;
import io.tdamesh.flink.functions.FeatureEmitter;
import io.tdamesh.flink.functions.OutputSerializer;
import io.tdamesh.flink.functions.PairWithPrevious;
import io.tdamesh.flink.functions.RawRecordDeserializer;
import io.tdamesh.flink.functions.WindowAssembler;
import io.tdamesh.flink.records.OutputRecord;
import io.tdamesh.flink.records.RawRecord;
import io.tdamesh.flink.records.StreamInput;
import io.tdamesh.flink.records.WindowDiagram;
import io.tdamesh.flink.records.WindowPoints;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/**
 * The stream features job: tda_events (point batches and configurations, keyed tenant/stream)
 * → per-stream windows → the engine's persistence diagram (Async I/O) → the change score against
 * the previous window (the engine's DiagramDistance) → stream.features / stream.alert records on
 * tda_stream_features; malformed records and refused windows → tda_errors. Source and sink are
 * passed in, so tests can run the same pipeline on other topics.
 */
public final class StreamFeaturesJob {
  public static final String JOB_NAME = "tda-stream-features";

  private final Source<RawRecord, ?, ?> source;
  private final Sink<OutputRecord> sink;
  private final EngineSettings engine;
  private final long asyncTimeoutMs;

  public StreamFeaturesJob(Source<RawRecord, ?, ?> source, Sink<OutputRecord> sink, EngineSettings engine, long asyncTimeoutMs) {
    this.source = source;
    this.sink = sink;
    this.engine = engine;
    this.asyncTimeoutMs = asyncTimeoutMs;
  }

  /** Adds the pipeline to `env`. */
  public void build(StreamExecutionEnvironment env) {
    DataStream<RawRecord> raw = env.fromSource(source, WatermarkStrategy.noWatermarks(), "tda_events").uid("source");
    SingleOutputStreamOperator<StreamInput> decoded = raw.process(new DecodeEnvelope()).name("decode envelopes").uid("decode");
    SingleOutputStreamOperator<WindowPoints> windows = decoded.keyBy(in -> in.key).process(new WindowAssembler())
        .name("window streams").uid("windows");
    DataStream<WindowDiagram> diagrams = AsyncDataStream.orderedWait(windows, new EngineCompute(engine), asyncTimeoutMs,
        TimeUnit.MILLISECONDS, engine.capacity).name("engine persistence").uid("engine");
    DataStream<WindowDiagram> paired = diagrams.keyBy(d -> d.key).process(new PairWithPrevious()).name("pair with previous window").uid("pair");
    DataStream<WindowDiagram> scored = AsyncDataStream.orderedWait(paired, new ChangeScore(engine), asyncTimeoutMs,
        TimeUnit.MILLISECONDS, engine.capacity).name("change score").uid("distance");
    DataStream<OutputRecord> features = scored.keyBy(d -> d.key).process(new FeatureEmitter()).name("features and alerts").uid("features");
    features.union(decoded.getSideOutput(DecodeEnvelope.ERRORS), windows.getSideOutput(DecodeEnvelope.ERRORS))
        .sinkTo(sink).name("tda_stream_features + tda_errors").uid("sink");
  }

  /** KafkaSource on tda_events: committed offsets of the group (earliest without), read_committed. */
  public static KafkaSource<RawRecord> kafkaSource(String brokers, String topicPrefix, String groupId) {
    Properties p = new Properties();
    p.setProperty("isolation.level", "read_committed");
    p.setProperty("partition.discovery.interval.ms", "30000");
    p.setProperty("commit.offsets.on.checkpoint", "true");
    return KafkaSource.<RawRecord>builder()
        .setBootstrapServers(brokers)
        .setTopics(topicPrefix + "tda_events")
        .setGroupId(groupId)
        .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
        .setDeserializer(new RawRecordDeserializer())
        .setProperties(p)
        .build();
  }

  /** Transactional (exactly-once) KafkaSink: records become visible when their checkpoint completes. */
  public static KafkaSink<OutputRecord> kafkaSink(String brokers, String topicPrefix, String transactionalIdPrefix) {
    Properties p = new Properties();
    p.setProperty("transaction.timeout.ms", "600000");
    p.setProperty("enable.idempotence", "true");
    p.setProperty("acks", "all");
    p.setProperty("linger.ms", "5");
    return KafkaSink.<OutputRecord>builder()
        .setBootstrapServers(brokers)
        .setRecordSerializer(new OutputSerializer(topicPrefix))
        .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .setTransactionalIdPrefix(transactionalIdPrefix)
        .setKafkaProducerConfig(p)
        .build();
  }

  public static void main(String[] args) throws Exception {
    JobConfig cfg = JobConfig.fromEnv(System.getenv());
    StreamExecutionEnvironment env = Environments.create(cfg);
    new StreamFeaturesJob(kafkaSource(cfg.brokers, cfg.topicPrefix, cfg.groupId),
        kafkaSink(cfg.brokers, cfg.topicPrefix, cfg.transactionalIdPrefix), cfg.engine, cfg.asyncTimeoutMs).build(env);
    env.execute(JOB_NAME);
  }
}
