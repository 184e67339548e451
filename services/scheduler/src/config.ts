import { parseEngineTargets } from "./engine-discovery";
import { ConfigError, loadCommonConfig, readBool, readBytes, readInt, readList, readString, type CommonConfig, type Env } from "@tda/common";

export interface SchedulerConfig extends CommonConfig {
  port: number;
  /** host:port of the upload service (ReadPoints). */
  uploadAddress: string;
  /** Engine targets: IP:PORT, HOST:PORT (every address HOST resolves to) or srv:NAME (engine-discovery.ts). */
  engineAddresses: string[];
  /** Interval of the DNS refresh of named engine targets. */
  engineDiscoveryMs: number;
  /** DNS servers asked for engine names instead of the system's ("IP" or "IP:PORT"). */
  engineDnsServers: string[];
  /** Run a BullMQ worker in this process. */
  worker: boolean;
  /** Jobs this process runs at once. */
  concurrency: number;
  /** BullMQ queue name (tests use their own). */
  queueName: string;
  /** Computation deadline when the request gives none, and the largest accepted. */
  defaultDeadlineSeconds: number;
  maxDeadlineSeconds: number;
  /** Job records, updates and results expire after this. */
  retentionSeconds: number;
  /** Attempts per job (retryable failures only) and the base of the exponential backoff. */
  attempts: number;
  backoffMs: number;
  /** Largest max_dim accepted, largest prime modulus, most engine threads per job. */
  maxDim: number;
  maxModulus: number;
  maxThreads: number;
  /** Minimum interval between two progress updates / job.progress events of one job. */
  progressIntervalMs: number;
  /** Interval of the engine health probe. */
  engineProbeMs: number;
  /** Deadline of unary calls to the upload service and to engine Estimate. */
  rpcTimeoutMs: number;
  /** ListJobs page sizes. */
  defaultPageSize: number;
  maxPageSize: number;
  /** Jobs one tenant may have queued or running at once (0: no limit); checked inside the submit's claim script. */
  maxActiveJobs: number;
  /** RetryInfo of a TOO_MANY_ACTIVE_JOBS refusal. */
  activeJobsRetryMs: number;
  /** Grace period for in-flight calls and the running jobs on shutdown. */
  shutdownGraceMs: number;
  /** BullMQ job lock (renewed at half of it while the job runs) and the stalled-job check interval: a crashed worker's jobs run again after about lock + interval. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** A WatchJob that heard nothing for this long re-reads the job (lost pub/sub messages). */
  watchResyncMs: number;
  /** Bytes of canonical points kept for repeated jobs on a dataset (0: none). */
  pointsCacheBytes: number;
}

export function loadConfig(env: Env = process.env): SchedulerConfig {
  const cfg: SchedulerConfig = {
    ...loadCommonConfig("scheduler", env),
    port: readInt(env, "SCHEDULER_PORT", 50072, 0, 65535),
    uploadAddress: readString(env, "UPLOAD_ADDRESS", "127.0.0.1:50071"),
    engineAddresses: readList(env, "ENGINE_ADDRESSES", ["127.0.0.1:50061"]),
    engineDiscoveryMs: readInt(env, "ENGINE_DISCOVERY_MS", 5000, 100),
    engineDnsServers: readList(env, "ENGINE_DNS_SERVERS", []),
    worker: readBool(env, "SCHEDULER_WORKER", true),
    concurrency: readInt(env, "SCHEDULER_CONCURRENCY", 2, 1, 1024),
    queueName: readString(env, "SCHEDULER_QUEUE_NAME", "tda-jobs"),
    defaultDeadlineSeconds: readInt(env, "SCHEDULER_DEFAULT_DEADLINE_SECONDS", 3600, 1),
    maxDeadlineSeconds: readInt(env, "SCHEDULER_MAX_DEADLINE_SECONDS", 86_400, 1),
    retentionSeconds: readInt(env, "JOB_RETENTION_SECONDS", 7 * 86_400, 60),
    attempts: readInt(env, "SCHEDULER_ATTEMPTS", 3, 1, 100),
    backoffMs: readInt(env, "SCHEDULER_BACKOFF_MS", 2000, 0),
    maxDim: readInt(env, "SCHEDULER_MAX_DIM", 16, 0, 1000),
    maxModulus: readInt(env, "SCHEDULER_MAX_MODULUS", 65_521, 2),
    maxThreads: readInt(env, "SCHEDULER_MAX_THREADS", 256, 1),
    progressIntervalMs: readInt(env, "SCHEDULER_PROGRESS_INTERVAL_MS", 500, 0),
    engineProbeMs: readInt(env, "SCHEDULER_ENGINE_PROBE_MS", 5000, 100),
    rpcTimeoutMs: readInt(env, "SCHEDULER_RPC_TIMEOUT_MS", 10_000, 100),
    defaultPageSize: readInt(env, "SCHEDULER_DEFAULT_PAGE_SIZE", 50, 1, 1000),
    maxPageSize: readInt(env, "SCHEDULER_MAX_PAGE_SIZE", 1000, 1, 100_000),
    maxActiveJobs: readInt(env, "SCHEDULER_MAX_ACTIVE_JOBS", 0, 0),
    activeJobsRetryMs: readInt(env, "SCHEDULER_ACTIVE_JOBS_RETRY_MS", 5_000, 0),
    shutdownGraceMs: readInt(env, "SCHEDULER_SHUTDOWN_GRACE_MS", 10_000, 0),
    lockDurationMs: readInt(env, "SCHEDULER_LOCK_DURATION_MS", 30_000, 1000),
    stalledIntervalMs: readInt(env, "SCHEDULER_STALLED_INTERVAL_MS", 30_000, 1000),
    watchResyncMs: readInt(env, "SCHEDULER_WATCH_RESYNC_MS", 10_000, 100),
    pointsCacheBytes: readBytes(env, "SCHEDULER_POINTS_CACHE_BYTES", 64 * 1024 * 1024),
  };
  if (cfg.worker && cfg.engineAddresses.length === 0) throw new ConfigError("ENGINE_ADDRESSES must list at least one engine when SCHEDULER_WORKER is on");
  parseEngineTargets(cfg.engineAddresses); // a malformed target stops the process here
  for (const s of cfg.engineDnsServers) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$/.test(s)) throw new ConfigError(`ENGINE_DNS_SERVERS: expected IP or IP:PORT, got "${s}"`);
  }
  if (cfg.defaultDeadlineSeconds > cfg.maxDeadlineSeconds) {
    throw new ConfigError("SCHEDULER_DEFAULT_DEADLINE_SECONDS must not exceed SCHEDULER_MAX_DEADLINE_SECONDS");
  }
  return cfg;
}
