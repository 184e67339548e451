package io.tdamesh.flink;

import io.tdamesh.flink.engine.EngineSettings;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The job's settings, read once from the environment (blank means unset; a bad value stops the
 * start with a message naming the variable). Nothing else reads the environment.
 */
public final class JobConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  public final String brokers;
  public final String topicPrefix;
  public final String groupId;
  public final String transactionalIdPrefix;
  public final EngineSettings engine;
  public final long asyncTimeoutMs;
  public final long checkpointIntervalMs;
  public final String checkpointDir;
  public final int parallelism;
  public final int restPort;
  /** Resume from the newest retained checkpoint under checkpointDir (local runs). */
  public final boolean restoreLatest;
  /** Run in a MiniCluster in this JVM (with the REST API on restPort) instead of a cluster's context. */
  public final boolean local;

  private JobConfig(Map<String, String> env) {
    brokers = str(env, "KAFKA_BROKERS", "127.0.0.1:9192");
    topicPrefix = str(env, "KAFKA_TOPIC_PREFIX", "");
    groupId = str(env, "STREAM_GROUP_ID", "tda-stream-features");
    transactionalIdPrefix = str(env, "STREAM_TRANSACTIONAL_ID_PREFIX", topicPrefix + "tda-stream-features");
    List<String> addresses = new ArrayList<>();
    for (String a : str(env, "ENGINE_ADDRESSES", "127.0.0.1:50061").split(",")) if (!a.isBlank()) addresses.add(a.trim());
    if (addresses.isEmpty()) throw new IllegalArgumentException("ENGINE_ADDRESSES: no engine address");
    engine = new EngineSettings(addresses,
        num(env, "STREAM_ENGINE_DEADLINE_MS", 30000, 100, 3_600_000),
        num(env, "STREAM_ENGINE_BACKOFF_MIN_MS", 100, 1, 60_000),
        num(env, "STREAM_ENGINE_BACKOFF_MAX_MS", 5000, 1, 600_000),
        num(env, "STREAM_ENGINE_PROBE_MS", 2000, 100, 600_000),
        (int) num(env, "STREAM_ENGINE_CAPACITY", 64, 1, 10_000),
        (int) num(env, "STREAM_ENGINE_THREADS", 1, 0, 256));
    asyncTimeoutMs = num(env, "STREAM_ASYNC_TIMEOUT_MS", 86_400_000L, 1000, Long.MAX_VALUE / 4);
    checkpointIntervalMs = num(env, "FLINK_CHECKPOINT_INTERVAL_MS", 2000, 100, 86_400_000L);
    checkpointDir = Path.of(str(env, "FLINK_CHECKPOINT_DIR", ".run/flink/checkpoints")).toAbsolutePath().toUri().toString();
    parallelism = (int) num(env, "FLINK_PARALLELISM", 1, 1, 1024);
    restPort = (int) num(env, "FLINK_REST_PORT", 8081, 0, 65535);
    restoreLatest = !str(env, "FLINK_RESTORE_LATEST", "true").equals("false");
    local = str(env, "FLINK_LOCAL", "false").equals("true");
  }

  public static JobConfig fromEnv(Map<String, String> env) {
    return new JobConfig(env);
  }

  private static String str(Map<String, String> env, String name, String dflt) {
    String v = env.get(name);
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  private static long num(Map<String, String> env, String name, long dflt, long min, long max) {
    String v = str(env, name, "");
    if (v.isEmpty()) return dflt;
    long n;
    try {
      n = Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + ": '" + v + "' is not a whole number");
    }
    if (n < min || n > max) throw new IllegalArgumentException(name + ": " + n + " is outside " + min + ".." + max);
    return n;
  }
}
