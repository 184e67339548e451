package io.tdamesh.flink;

import com.google.protobuf.ByteString;
import io.tdamesh.flink.functions.Envelopes;
import io.tdamesh.flink.records.StreamInput;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import tda.common.v1.Stream.StreamConfig;
import tda.events.v1.Events.EventEnvelope;
import tda.events.v1.Events.StreamConfigData;
import tda.events.v1.Events.StreamPointsData;

/** The real infrastructure of the tests: the run's Kafka (KAFKA_BROKERS) and engine processes. */
final class Infra {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();

  private Infra() {}

  static String brokers() {
    String b = System.getenv("KAFKA_BROKERS");
    if (b == null || b.isBlank()) throw new IllegalStateException("KAFKA_BROKERS is not set: start Kafka (deploy/local/start-infra.sh) first");
    return b;
  }

  /** A fresh prefix and its three topics (tda_events with 2 partitions). */
  static String freshTopics() throws Exception {
    String prefix = "ft" + UUID.randomUUID().toString().substring(0, 8) + "_";
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", brokers()))) {
      admin.createTopics(List.of(
          new NewTopic(prefix + "tda_events", 2, (short) 1),
          new NewTopic(prefix + "tda_stream_features", 1, (short) 1),
          new NewTopic(prefix + "tda_errors", 1, (short) 1))).all().get(60, TimeUnit.SECONDS);
    }
    return prefix;
  }

  static void deleteTopics(String prefix) {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", brokers()))) {
      admin.deleteTopics(List.of(prefix + "tda_events", prefix + "tda_stream_features", prefix + "tda_errors")).all().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // best effort
    }
  }

  static KafkaProducer<byte[], byte[]> producer() {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers());
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    return new KafkaProducer<>(p);
  }

  /** Publishes as the gateway does: key tenant/stream, stream.points envelope. */
  static void publishPoints(KafkaProducer<byte[], byte[]> p, String prefix, String tenant, String stream, int dim, double[] coords, long eventTimeMs) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(coords.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (double v : coords) buf.putDouble(v);
    buf.flip();
    EventEnvelope env = Envelopes.envelope("stream.points", StreamInput.keyOf(tenant, stream), "")
        .setSource("gateway")
        .setStreamPoints(StreamPointsData.newBuilder().setTenant(tenant).setStreamId(stream).setDim(dim)
            .setPoints(ByteString.copyFrom(buf)).setEventTime(Envelopes.timestamp(eventTimeMs)))
        .build();
    send(p, prefix, StreamInput.keyOf(tenant, stream), env.toByteArray());
  }

  static void publishConfig(KafkaProducer<byte[], byte[]> p, String prefix, String tenant, String stream, StreamConfig c) throws Exception {
    EventEnvelope env = Envelopes.envelope("stream.config", StreamInput.keyOf(tenant, stream), "").setSource("gateway")
        .setStreamConfig(StreamConfigData.newBuilder().setTenant(tenant).setStreamId(stream).setConfig(c)).build();
    send(p, prefix, StreamInput.keyOf(tenant, stream), env.toByteArray());
  }

  static void send(KafkaProducer<byte[], byte[]> p, String prefix, String key, byte[] value) throws Exception {
    p.send(new ProducerRecord<>(prefix + "tda_events", key == null ? null : key.getBytes(StandardCharsets.UTF_8), value)).get(30, TimeUnit.SECONDS);
  }

  /** Reads `topic` (read_committed) from the start until `done` holds for what was read, or the timeout. */
  static List<ConsumerRecord<byte[], byte[]>> readUntil(String topic, Duration timeout, Predicate<List<ConsumerRecord<byte[], byte[]>>> done) {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers());
    p.put("group.id", "test-" + UUID.randomUUID());
    p.put("auto.offset.reset", "earliest");
    p.put("enable.auto.commit", "false");
    p.put("isolation.level", "read_committed");
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
    long end = System.nanoTime() + timeout.toNanos();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      c.subscribe(List.of(topic));
      while (System.nanoTime() < end && !done.test(got)) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) got.add(r);
      }
    }
    return got;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The engine binary built by scripts/build.sh. */
  static Path engineBinary() {
    Path p = ROOT.resolve("engine-cpp/build/tda-engine");
    if (!Files.isExecutable(p)) throw new IllegalStateException(p + " is missing: run scripts/build.sh");
    return p;
  }

  /** A real engine process on `port` (waits until it accepts connections). */
  static Process startEngine(int port) throws Exception {
    Path log = Files.createTempFile("tda-engine-", ".log");
    Process proc = new ProcessBuilder(engineBinary().toString(), "serve", "--port", String.valueOf(port), "--threads", "1")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < end) {
      if (!proc.isAlive()) throw new IllegalStateException("engine exited: " + Files.readString(log));
      try (Socket s = new Socket("127.0.0.1", port)) {
        return proc;
      } catch (IOException e) {
        Thread.sleep(100);
      }
    }
    proc.destroyForcibly();
    throw new IllegalStateException("engine did not listen on " + port);
  }

  static void stop(Process p) throws InterruptedException {
    if (p == null) return;
    p.destroy();
    if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
  }
}
