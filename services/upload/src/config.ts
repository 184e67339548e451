import { loadCommonConfig, readBytes, readInt, readString, type CommonConfig, type Env } from "@tda/common";

export interface UploadConfig extends CommonConfig {
  port: number;
  /** Root of the data directory: blobs/ and tmp/ live below it. */
  dataDir: string;
  /** Most source bytes accepted in one upload. */
  maxBytes: number;
  /** Most points (rows, or distance-matrix size n) in one dataset. */
  maxPoints: number;
  /** Largest dimension (values per point). */
  maxDim: number;
  /** Longest text token (a number) in bytes. */
  maxTokenBytes: number;
  /** How long an interrupted upload may be resumed. */
  resumeTtlSeconds: number;
  /** Minimum interval between two upload.progress events. */
  progressIntervalMs: number;
  /** ...or after this many bytes, whichever comes first. */
  progressBytes: number;
  /** Sync the temp file to disk every this many canonical bytes during an upload (0: only at the end). */
  syncEveryBytes: number;
  /** Default and largest page size for ListDatasets. */
  defaultPageSize: number;
  maxPageSize: number;
  /** How long to watch for a client cancel after the request stream ended, before committing. */
  endGraceMs: number;
  /** Grace period for in-flight calls on shutdown. */
  shutdownGraceMs: number;
  /**
   * How long a LookupDatasets answer may be reused by the caller (its cache_ms);
   * DeleteDataset returns only this long after the dataset is gone. The same on
   * every replica.
   */
  lookupLeaseMs: number;
}

export function loadConfig(env: Env = process.env): UploadConfig {
  return {
    ...loadCommonConfig("upload", env),
    port: readInt(env, "UPLOAD_PORT", 50071, 0, 65535),
    dataDir: readString(env, "TDA_DATA_DIR", ".run/data"),
    maxBytes: readBytes(env, "UPLOAD_MAX_BYTES", 4 * 1024 ** 3),
    maxPoints: readInt(env, "UPLOAD_MAX_POINTS", 100_000_000, 1),
    maxDim: readInt(env, "UPLOAD_MAX_DIM", 10_000, 1, 1_000_000),
    maxTokenBytes: readInt(env, "UPLOAD_MAX_TOKEN_BYTES", 512, 16, 65536),
    resumeTtlSeconds: readInt(env, "UPLOAD_RESUME_TTL_SECONDS", 3600, 0),
    progressIntervalMs: readInt(env, "UPLOAD_PROGRESS_INTERVAL_MS", 500, 0),
    progressBytes: readBytes(env, "UPLOAD_PROGRESS_BYTES", 64 * 1024 ** 2),
    syncEveryBytes: readBytes(env, "UPLOAD_SYNC_EVERY_BYTES", 0),
    defaultPageSize: readInt(env, "UPLOAD_DEFAULT_PAGE_SIZE", 50, 1, 1000),
    maxPageSize: readInt(env, "UPLOAD_MAX_PAGE_SIZE", 1000, 1, 100_000),
    endGraceMs: readInt(env, "UPLOAD_END_GRACE_MS", 50, 0, 10_000),
    shutdownGraceMs: readInt(env, "UPLOAD_SHUTDOWN_GRACE_MS", 10_000, 0),
    lookupLeaseMs: readInt(env, "UPLOAD_LOOKUP_LEASE_MS", 1000, 0, 60_000),
  };
}
