package io.tdamesh.flink;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** The execution environment: checkpointing, state backend, restarts; local MiniCluster or cluster. */
public final class Environments {
  private Environments() {}

  public static Configuration configuration(JobConfig cfg) {
    Configuration c = new Configuration();
    c.setString("execution.checkpointing.interval", cfg.checkpointIntervalMs + " ms");
    c.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
    c.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    c.setString("execution.checkpointing.num-retained", "3");
    c.setString("execution.checkpointing.min-pause", "200 ms");
    c.setString("state.backend.type", "hashmap");
    c.setString("execution.checkpointing.storage", "filesystem");
    c.setString("execution.checkpointing.dir", cfg.checkpointDir);
    c.setString("restart-strategy.type", "exponential-delay");
    c.setString("restart-strategy.exponential-delay.initial-backoff", "1 s");
    c.setString("restart-strategy.exponential-delay.max-backoff", "30 s");
    c.setString("restart-strategy.exponential-delay.attempts-before-reset-backoff", "1000000");
    c.setString("parallelism.default", String.valueOf(cfg.parallelism));
    c.setString("pipeline.name", StreamFeaturesJob.JOB_NAME);
    return c;
  }

  public static StreamExecutionEnvironment create(JobConfig cfg) throws IOException {
    Configuration c = configuration(cfg);
    if (!cfg.local) return StreamExecutionEnvironment.getExecutionEnvironment(c);
    c.setString("rest.port", String.valueOf(cfg.restPort));
    c.setString("rest.address", "127.0.0.1");
    c.setString("rest.bind-address", "127.0.0.1");
    c.setString("taskmanager.numberOfTaskSlots", String.valueOf(Math.max(1, cfg.parallelism)));
    if (cfg.restoreLatest) {
      latestCheckpoint(Path.of(URI.create(cfg.checkpointDir))).ifPresent(p -> {
        System.out.println("restoring from " + p);
        c.setString("execution.state-recovery.path", p.toUri().toString());
      });
    }
    return StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(c);
  }

  /** The newest complete checkpoint (a chk-N folder with _metadata) under `dir`, if any. */
  public static Optional<Path> latestCheckpoint(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return Optional.empty();
    try (Stream<Path> s = Files.walk(dir, 2)) {
      return s.filter(p -> p.getFileName().toString().startsWith("chk-") && Files.exists(p.resolve("_metadata")))
          .max(Comparator.comparingLong(p -> p.resolve("_metadata").toFile().lastModified()));
    }
  }
}
