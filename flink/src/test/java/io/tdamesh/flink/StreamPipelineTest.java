package io.tdamesh.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tdamesh.flink.engine.EngineSettings;
import io.tdamesh.flink.functions.Features;
import io.tdamesh.flink.records.Diagram;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import tda.common.v1.Stream.CountWindow;
import tda.common.v1.Stream.DimensionFeatures;
import tda.common.v1.Stream.StreamConfig;
import tda.common.v1.Stream.TimeWindow;
import tda.events.v1.Events.EventEnvelope;
import tda.events.v1.Events.StreamAlertData;
import tda.events.v1.Events.StreamFeaturesData;

/**
 * The job end to end in one shared MiniCluster, against the run's real Kafka and real engine
 * processes; reference diagrams from Debian's ripser, run here on the same window points, and
 * reference distances from GUDHI (PyPI gudhi 3.13) on those diagrams.
 */
class StreamPipelineTest {
  @RegisterExtension
  static final MiniClusterExtension CLUSTER = new MiniClusterExtension(
      new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

  static Process engine;
  static int enginePort;
  static KafkaProducer<byte[], byte[]> producer;

  @TempDir Path checkpoints;
  String prefix;
  final List<JobClient> jobs = new ArrayList<>();

  @BeforeAll
  static void startEngine() throws Exception {
    enginePort = Infra.freePort();
    engine = Infra.startEngine(enginePort);
    producer = Infra.producer();
  }

  @AfterAll
  static void stopEngine() throws Exception {
    Infra.stop(engine);
    producer.close();
  }

  @BeforeEach
  void topics() throws Exception {
    prefix = Infra.freshTopics();
  }

  @AfterEach
  void cancelJobs() throws Exception {
    for (JobClient j : jobs) {
      try {
        j.cancel().get();
      } catch (Exception e) {
        // already finished
      }
    }
    Infra.deleteTopics(prefix);
  }

  JobClient startJob(int port, String restorePath) throws Exception {
    Configuration c = new Configuration();
    c.setString("execution.checkpointing.interval", "300 ms");
    c.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    c.setString("execution.checkpointing.num-retained", "3");
    c.setString("state.backend.type", "hashmap");
    c.setString("execution.checkpointing.storage", "filesystem");
    c.setString("execution.checkpointing.dir", checkpoints.toUri().toString());
    if (restorePath != null) c.setString("execution.state-recovery.path", restorePath);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(c);
    env.setParallelism(1);
    EngineSettings engines = new EngineSettings(List.of("127.0.0.1:" + port), 10_000, 50, 1000, 500, 16, 1);
    new StreamFeaturesJob(StreamFeaturesJob.kafkaSource(Infra.brokers(), prefix, prefix + "group"),
        StreamFeaturesJob.kafkaSink(Infra.brokers(), prefix, prefix + "tx"), engines, 600_000).build(env);
    JobClient job = env.executeAsync("test-" + prefix);
    jobs.add(job);
    return job;
  }

  static StreamConfig countConfig(int size, int slide, int maxDim, double scale) {
    return StreamConfig.newBuilder().setCount(CountWindow.newBuilder().setSize(size).setSlide(slide))
        .setMaxDim(maxDim).setBettiScale(scale).setNoiseLevel(0.05).build();
  }

  /** n points on a circle of radius r around (cx, 0), with noise. */
  static double[] circle(Random rnd, int n, double cx, double r, double noise) {
    double[] v = new double[2 * n];
    for (int i = 0; i < n; i++) {
      double a = rnd.nextDouble() * 2 * Math.PI;
      v[2 * i] = cx + r * Math.cos(a) + noise * rnd.nextGaussian();
      v[2 * i + 1] = r * Math.sin(a) + noise * rnd.nextGaussian();
    }
    return v;
  }

  void publishInBatches(String tenant, String stream, double[] coords, int dim, int rowsPerBatch, long t0) throws Exception {
    int rows = coords.length / dim;
    for (int at = 0, b = 0; at < rows; at += rowsPerBatch, b++) {
      int n = Math.min(rowsPerBatch, rows - at);
      double[] batch = new double[n * dim];
      System.arraycopy(coords, at * dim, batch, 0, n * dim);
      Infra.publishPoints(producer, prefix, tenant, stream, dim, batch, t0 + b);
    }
  }

  /** stream.features records by key, each list in window order; fails on duplicates. */
  static Map<String, List<StreamFeaturesData>> features(List<ConsumerRecord<byte[], byte[]>> recs) throws Exception {
    Map<String, List<StreamFeaturesData>> out = new TreeMap<>();
    for (ConsumerRecord<byte[], byte[]> r : recs) {
      EventEnvelope env = EventEnvelope.parseFrom(r.value());
      if (!env.hasStreamFeatures()) continue;
      String key = new String(r.key(), StandardCharsets.UTF_8);
      assertEquals(key, env.getCorrelationId());
      assertTrue(new String(r.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8).startsWith("00-"));
      out.computeIfAbsent(key, k -> new ArrayList<>()).add(env.getStreamFeatures());
    }
    return out;
  }

  static long count(List<ConsumerRecord<byte[], byte[]>> recs, String key) {
    return recs.stream().filter(r -> new String(r.key(), StandardCharsets.UTF_8).equals(key)).count();
  }

  List<ConsumerRecord<byte[], byte[]>> awaitFeatures(Map<String, Integer> windowsPerKey, Duration timeout) {
    return Infra.readUntil(prefix + "tda_stream_features", timeout, got -> {
      for (var e : windowsPerKey.entrySet()) if (count(got, e.getKey()) < e.getValue()) return false;
      return true;
    });
  }

  static void assertMatchesRipser(StreamFeaturesData f, double[] windowCoords, int dim, int maxDim) throws Exception {
    Diagram ref = Ripser.run(windowCoords, dim, maxDim, Double.NaN);
    assertEquals(windowCoords.length / dim, f.getPoints());
    assertEquals(maxDim + 1, f.getDimensionsCount());
    for (int k = 0; k <= maxDim; k++) {
      DimensionFeatures want = Features.of(ref, k, f.getBettiScale(), 0.05);
      DimensionFeatures got = f.getDimensions(k);
      String where = "window " + f.getWindowSeq() + " dim " + k;
      assertEquals(want.getBetti(), got.getBetti(), where + " betti");
      assertEquals(want.getBarsAboveNoise(), got.getBarsAboveNoise(), where + " bars above noise");
      assertEquals(want.getTotalPersistence(), got.getTotalPersistence(), 1e-5 * Math.max(1, want.getTotalPersistence()), where + " total persistence");
      assertEquals(want.getMaxLifetime(), got.getMaxLifetime(), 1e-5, where + " max lifetime");
      assertEquals(want.getEntropy(), got.getEntropy(), 1e-4, where + " entropy");
    }
  }

  @Test
  void countWindowFeaturesEqualRipserOnTheSameWindowPoints() throws Exception {
    startJob(enginePort, null);
    double[] pts = circle(new Random(1), 80, 0, 1, 0.05);
    Infra.publishConfig(producer, prefix, "acme", "sensor", countConfig(32, 16, 1, 0.6));
    publishInBatches("acme", "sensor", pts, 2, 10, 1000);
    var recs = awaitFeatures(Map.of("acme/sensor", 4), Duration.ofSeconds(120));
    List<StreamFeaturesData> got = features(recs).get("acme/sensor");
    assertEquals(4, got.size(), "windows 0..3 of 80 points, size 32, slide 16");
    for (int k = 0; k < 4; k++) {
      StreamFeaturesData f = got.get(k);
      assertEquals(k, f.getWindowSeq());
      double[] window = java.util.Arrays.copyOfRange(pts, 2 * 16 * k, 2 * (16 * k + 32));
      assertMatchesRipser(f, window, 2, 1);
    }
  }

  @Test
  void twoTenantsWithTheSameStreamIdAreKeptApart() throws Exception {
    startJob(enginePort, null);
    double[] a = circle(new Random(2), 64, 0, 1, 0.02);
    double[] b = circle(new Random(3), 64, 5, 2, 0.02);
    Infra.publishConfig(producer, prefix, "acme", "s1", countConfig(32, 32, 1, 0.5));
    Infra.publishConfig(producer, prefix, "umbrella", "s1", countConfig(16, 16, 1, 0.5));
    // interleaved batches of both tenants under the same stream id
    for (int i = 0; i < 8; i++) {
      double[] ba = java.util.Arrays.copyOfRange(a, 16 * i, 16 * i + 16);
      double[] bb = java.util.Arrays.copyOfRange(b, 16 * i, 16 * i + 16);
      Infra.publishPoints(producer, prefix, "acme", "s1", 2, ba, 1000 + i);
      Infra.publishPoints(producer, prefix, "umbrella", "s1", 2, bb, 1000 + i);
    }
    var recs = awaitFeatures(Map.of("acme/s1", 2, "umbrella/s1", 4), Duration.ofSeconds(120));
    Map<String, List<StreamFeaturesData>> byKey = features(recs);
    assertEquals(2, byKey.get("acme/s1").size());
    assertEquals(4, byKey.get("umbrella/s1").size());
    for (StreamFeaturesData f : byKey.get("acme/s1")) {
      assertEquals("acme", f.getTenant());
      int k = (int) f.getWindowSeq();
      assertMatchesRipser(f, java.util.Arrays.copyOfRange(a, 64 * k, 64 * k + 64), 2, 1);
    }
    for (StreamFeaturesData f : byKey.get("umbrella/s1")) {
      assertEquals("umbrella", f.getTenant());
      int k = (int) f.getWindowSeq();
      assertMatchesRipser(f, java.util.Arrays.copyOfRange(b, 32 * k, 32 * k + 32), 2, 1);
    }
  }

  @Test
  void timeWindowsCountAndDropLatePoints() throws Exception {
    startJob(enginePort, null);
    StreamConfig c = StreamConfig.newBuilder().setTime(TimeWindow.newBuilder().setSizeMs(1000).setSlideMs(1000)
        .setWatermarkDelayMs(100).setAllowedLatenessMs(100)).setMaxDim(1).build();
    Infra.publishConfig(producer, prefix, "acme", "clock", c);
    Random rnd = new Random(4);
    double[] b1 = circle(rnd, 5, 0, 1, 0.01);
    double[] b2 = circle(rnd, 4, 0, 1, 0.01);
    double[] b3 = circle(rnd, 6, 0, 1, 0.01);
    Infra.publishPoints(producer, prefix, "acme", "clock", 2, b1, 10_100);
    Infra.publishPoints(producer, prefix, "acme", "clock", 2, b2, 10_900);
    Infra.publishPoints(producer, prefix, "acme", "clock", 2, b3, 11_250); // horizon 11050: fires [10000, 11000)
    Infra.publishPoints(producer, prefix, "acme", "clock", 2, circle(rnd, 3, 0, 1, 0.01), 10_950); // late (< 11050)
    Infra.publishPoints(producer, prefix, "acme", "clock", 2, circle(rnd, 2, 0, 1, 0.01), 12_300); // fires [11000, 12000)
    var recs = awaitFeatures(Map.of("acme/clock", 2), Duration.ofSeconds(120));
    List<StreamFeaturesData> got = features(recs).get("acme/clock");
    assertEquals(2, got.size());
    StreamFeaturesData w0 = got.get(0);
    assertEquals(10, w0.getWindowSeq());
    assertEquals(10_000, w0.getWindowStartMs());
    assertEquals(11_000, w0.getWindowEndMs());
    double[] w0pts = new double[18];
    System.arraycopy(b1, 0, w0pts, 0, 10);
    System.arraycopy(b2, 0, w0pts, 10, 8);
    assertMatchesRipser(w0, w0pts, 2, 1);
    assertEquals(0, w0.getLatePoints());
    StreamFeaturesData w1 = got.get(1);
    assertEquals(11, w1.getWindowSeq());
    assertEquals(6, w1.getPoints()); // only b3: the late batch was dropped
    assertEquals(3, w1.getLatePoints());
    assertMatchesRipser(w1, b3, 2, 1);
  }

  @Test
  void malformedRecordsGoToTdaErrorsAndTheStreamGoesOn() throws Exception {
    startJob(enginePort, null);
    Infra.send(producer, prefix, "acme/x", new byte[] {0x0a, (byte) 0xff, 0x01}); // a truncated field
    Infra.send(producer, prefix, "acme/x", io.tdamesh.flink.functions.Envelopes.envelope("system.hello", "x", "").build().toByteArray());
    Infra.publishPoints(producer, prefix, "acme", "x", 2, new double[] {1, 2, Double.NaN, 4}, 1);
    Infra.publishConfig(producer, prefix, "acme", "x", countConfig(8, 0, 1, 0.5)); // slide 0
    Infra.publishPoints(producer, prefix, "acme", "y", 3, new double[] {1, 2}, 1); // 2 values, dim 3
    Infra.send(producer, prefix, "umbrella/x", Infra_pointsValue("acme", "x"));  // key of another tenant
    Infra.send(producer, prefix, null, new byte[0]);
    Infra.publishConfig(producer, prefix, "acme", "ok", countConfig(8, 8, 1, 0.5));
    publishInBatches("acme", "ok", circle(new Random(5), 16, 0, 1, 0.01), 2, 4, 1);
    var errors = Infra.readUntil(prefix + "tda_errors", Duration.ofSeconds(90), got -> got.size() >= 7);
    var codes = new ArrayList<String>();
    for (var r : errors) {
      EventEnvelope env = EventEnvelope.parseFrom(r.value());
      assertEquals("flink", env.getSource());
      assertTrue(env.getEventType().startsWith("error."));
      codes.add(env.getError().getErrorCode() + ": " + env.getError().getMessage());
    }
    assertEquals(7, codes.size(), codes.toString());
    // tda_events has two partitions: the errors of different keys come in any order
    String[] expected = {"MALFORMED_RECORD: value is not", "UNKNOWN_EVENT_TYPE: unknown event type 'system.hello'",
        "points must be finite", "count.slide must be in 1..size", "float64 rows", "is not tenant/stream_id",
        "MALFORMED_RECORD: envelope without event_type"};
    for (String e : expected) assertEquals(1, codes.stream().filter(c -> c.contains(e)).count(), e + " in " + codes);
    var recs = awaitFeatures(Map.of("acme/ok", 2), Duration.ofSeconds(90));
    assertEquals(2, features(recs).get("acme/ok").size());
  }

  static byte[] Infra_pointsValue(String tenant, String stream) {
    return io.tdamesh.flink.functions.Envelopes.envelope("stream.points", tenant + "/" + stream, "")
        .setStreamPoints(tda.events.v1.Events.StreamPointsData.newBuilder().setTenant(tenant).setStreamId(stream).setDim(1)
            .setPoints(com.google.protobuf.ByteString.copyFrom(new byte[8])))
        .build().toByteArray();
  }

  /** The newest retained checkpoint (highest chk-N with metadata). */
  Path latestCheckpoint() throws Exception {
    try (Stream<Path> s = Files.walk(checkpoints, 2)) {
      return s.filter(p -> p.getFileName().toString().startsWith("chk-") && Files.exists(p.resolve("_metadata")))
          .max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(4)))).orElseThrow();
    }
  }

  @Test
  void everyWindowExactlyOnceAcrossAKillAndARestartFromTheCheckpoint() throws Exception {
    JobClient first = startJob(enginePort, null);
    Infra.publishConfig(producer, prefix, "acme", "eo", countConfig(8, 4, 1, 0.5));
    double[] pts = circle(new Random(6), 800, 0, 1, 0.05);
    publishInBatches("acme", "eo", java.util.Arrays.copyOfRange(pts, 0, 800), 2, 4, 1); // first 400 points
    awaitFeatures(Map.of("acme/eo", 40), Duration.ofSeconds(120));
    first.cancel().get(); // the job dies mid-stream: its open transaction is aborted
    jobs.remove(first);
    Path chk = latestCheckpoint();
    startJob(enginePort, chk.toUri().toString());
    publishInBatches("acme", "eo", java.util.Arrays.copyOfRange(pts, 800, 1600), 2, 4, 1000);
    int expected = (800 - 8) / 4 + 1; // windows 0..198
    var recs = awaitFeatures(Map.of("acme/eo", expected), Duration.ofSeconds(180));
    Thread.sleep(1500); // and nothing more after a few checkpoints
    recs = awaitFeatures(Map.of("acme/eo", expected + 1), Duration.ofSeconds(3));
    List<StreamFeaturesData> got = features(recs).get("acme/eo");
    Map<Long, Integer> seen = new HashMap<>();
    for (StreamFeaturesData f : got) seen.merge(f.getWindowSeq(), 1, Integer::sum);
    for (long k = 0; k < expected; k++) assertEquals(1, seen.getOrDefault(k, 0), "window " + k + " emitted once");
    assertEquals(expected, got.size(), "no window beyond 0.." + (expected - 1));
    for (int i = 0; i < got.size(); i++) assertEquals(i, got.get(i).getWindowSeq(), "in order");
  }

  @Test
  void anEngineOutageOfTenSecondsDelaysWindowsAndLosesNone() throws Exception {
    int port = Infra.freePort();
    Process own = Infra.startEngine(port);
    try {
      startJob(port, null);
      Infra.publishConfig(producer, prefix, "acme", "out", countConfig(8, 8, 1, 0.5));
      double[] pts = circle(new Random(8), 64, 0, 1, 0.02);
      publishInBatches("acme", "out", java.util.Arrays.copyOfRange(pts, 0, 64), 2, 8, 1);
      awaitFeatures(Map.of("acme/out", 4), Duration.ofSeconds(60));
      Infra.stop(own);
      long stoppedAt = System.nanoTime();
      publishInBatches("acme", "out", java.util.Arrays.copyOfRange(pts, 64, 128), 2, 8, 100);
      Thread.sleep(10_000);
      var during = awaitFeatures(Map.of("acme/out", 5), Duration.ofMillis(500));
      assertEquals(4, count(during, "acme/out"), "no window while the engine is down");
      own = Infra.startEngine(port);
      var after = awaitFeatures(Map.of("acme/out", 8), Duration.ofSeconds(60));
      long seconds = (System.nanoTime() - stoppedAt) / 1_000_000_000L;
      List<StreamFeaturesData> got = features(after).get("acme/out");
      assertEquals(8, got.size(), "all windows once the engine is back");
      for (int i = 0; i < 8; i++) assertEquals(i, got.get(i).getWindowSeq());
      for (int k = 4; k < 8; k++) assertMatchesRipser(got.get(k), java.util.Arrays.copyOfRange(pts, 16 * k, 16 * k + 16), 2, 1);
      assertTrue(seconds >= 10, "delayed past the outage");
    } finally {
      Infra.stop(own);
    }
  }

  /** n points alternating between two circles of radius 0.5 around (-1.2, 0) and (1.2, 0), with noise. */
  static double[] twoCircles(Random rnd, int n, double noise) {
    double[] v = new double[2 * n];
    for (int i = 0; i < n; i++) {
      double a = rnd.nextDouble() * 2 * Math.PI;
      double cx = i % 2 == 0 ? -1.2 : 1.2;
      v[2 * i] = cx + 0.5 * Math.cos(a) + noise * rnd.nextGaussian();
      v[2 * i + 1] = 0.5 * Math.sin(a) + noise * rnd.nextGaussian();
    }
    return v;
  }

  static double[] concat(double[] a, double[] b) {
    double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** The change score of window k (k >= 1) from GUDHI on ripser's diagrams of windows k-1 and k: max bottleneck over dims, sum of W1. */
  static List<double[]> gudhiScores(double[] coords, int size, int slide, int windows) throws Exception {
    List<Diagram> ds = new ArrayList<>();
    for (int k = 0; k < windows; k++) ds.add(Ripser.run(java.util.Arrays.copyOfRange(coords, 2 * slide * k, 2 * (slide * k + size)), 2, 1, Double.NaN));
    List<double[][]> as = new ArrayList<>();
    List<double[][]> bs = new ArrayList<>();
    for (int k = 1; k < windows; k++) {
      for (int dim = 0; dim <= 1; dim++) {
        as.add(Gudhi.dim(ds.get(k - 1), dim));
        bs.add(Gudhi.dim(ds.get(k), dim));
      }
    }
    List<double[]> per = Gudhi.distances(as, bs);
    List<double[]> out = new ArrayList<>();
    out.add(null); // window 0 has no previous window
    for (int k = 1; k < windows; k++) {
      double[] h0 = per.get(2 * (k - 1));
      double[] h1 = per.get(2 * (k - 1) + 1);
      out.add(new double[] {Math.max(h0[0], h1[0]), h0[1] + h1[1]});
    }
    return out;
  }

  @Test
  void theChangeScoreIsGudhisDistanceAndAnAlertMarksACircleBecomingTwoCircles() throws Exception {
    startJob(enginePort, null);
    int size = 128;
    int slide = 32;
    StreamConfig c = StreamConfig.newBuilder().setCount(CountWindow.newBuilder().setSize(size).setSlide(slide))
        .setMaxDim(1).setBettiScale(0.4).setNoiseLevel(0.05).setAlertLevel(0.3).build();
    Infra.publishConfig(producer, prefix, "acme", "change", c);
    Infra.publishConfig(producer, prefix, "acme", "stable", c);
    // 256 points of one circle, then 256 of two: windows 0..4 one circle, 5..7 mixed, 8..12 two circles
    double[] change = concat(circle(new Random(11), 256, 0, 1, 0.03), twoCircles(new Random(12), 256, 0.03));
    double[] stable = circle(new Random(13), 512, 0, 1, 0.03);
    publishInBatches("acme", "change", change, 2, slide, 1000);
    publishInBatches("acme", "stable", stable, 2, slide, 1000);
    int windows = (512 - size) / slide + 1; // 13
    var recs = awaitFeatures(Map.of("acme/change", windows, "acme/stable", windows), Duration.ofSeconds(180));
    Thread.sleep(1000); // the alerts of the last checkpoint too
    recs = Infra.readUntil(prefix + "tda_stream_features", Duration.ofSeconds(2), got -> false);
    Map<String, List<StreamFeaturesData>> byKey = features(recs);
    Map<String, List<StreamAlertData>> alerts = new TreeMap<>();
    for (var r : recs) {
      EventEnvelope env = EventEnvelope.parseFrom(r.value());
      if (env.hasStreamAlert()) alerts.computeIfAbsent(env.getStreamAlert().getStreamId(), k -> new ArrayList<>()).add(env.getStreamAlert());
    }
    for (String stream : List.of("change", "stable")) {
      List<StreamFeaturesData> got = byKey.get("acme/" + stream);
      assertEquals(windows, got.size());
      assertFalse(got.get(0).hasBottleneckDistance(), "no score for the first window");
      List<double[]> want = gudhiScores(stream.equals("change") ? change : stable, size, slide, windows);
      for (int k = 1; k < windows; k++) {
        StreamFeaturesData f = got.get(k);
        assertEquals(want.get(k)[0], f.getBottleneckDistance(), 1e-4, stream + " window " + k + " bottleneck");
        assertEquals(want.get(k)[1], f.getWassersteinDistance(), 1e-4 * Math.max(1, want.get(k)[1]), stream + " window " + k + " 1-Wasserstein");
      }
      // the alerts are exactly the rising edges of the score through 0.3
      List<Long> edges = new ArrayList<>();
      for (int k = 1; k < windows; k++) {
        double prev = k >= 2 ? got.get(k - 1).getBottleneckDistance() : Double.NEGATIVE_INFINITY;
        if (got.get(k).getBottleneckDistance() >= 0.3 && prev < 0.3) edges.add((long) k);
      }
      List<Long> raised = alerts.getOrDefault(stream, List.of()).stream().map(StreamAlertData::getWindowSeq).toList();
      assertEquals(edges, raised, stream + " alerts");
    }
    List<StreamAlertData> changeAlerts = alerts.get("change");
    assertTrue(changeAlerts != null && !changeAlerts.isEmpty(), "an alert when the circle becomes two");
    for (StreamAlertData a : changeAlerts) {
      assertTrue(a.getWindowSeq() >= 5 && a.getWindowSeq() <= 8, "alert at the change, not at window " + a.getWindowSeq());
      assertEquals(0.3, a.getAlertLevel());
      assertTrue(a.getChangeScore() >= 0.3);
    }
    assertTrue(alerts.getOrDefault("stable", List.of()).isEmpty(), "no alert on the stable stream");
    // the Betti numbers tell the same story: one loop before, two after
    assertEquals(1, byKey.get("acme/change").get(0).getDimensions(1).getBetti());
    assertEquals(2, byKey.get("acme/change").get(windows - 1).getDimensions(1).getBetti());
  }
}
