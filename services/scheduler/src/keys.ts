import { createHash } from "node:crypto";

// Every Redis key and channel the scheduler uses. BullMQ keeps its own keys
// under "bull:<queue name>:*".

const CACHE_PREFIX = "tda:cache:";

export const keys = {
  /** Hash: owner, state, job (base64 protobuf Job), dataset, trace, params_hash, deadline, cancel, result_of. */
  job: (jobId: string) => `tda:job:${jobId}`,
  /** Counter of the job's updates / events (JobUpdate.sequence, JobEventData.sequence). */
  seq: (jobId: string) => `tda:job-seq:${jobId}`,
  /** List of "<sequence>|<base64 JobUpdate>", in sequence order (WatchJob replay). */
  updates: (jobId: string) => `tda:job-updates:${jobId}`,
  /** Pub/sub channel carrying the same "<sequence>|<base64 JobUpdate>" records live. */
  updatesChannel: (jobId: string) => `tda:job-updates-ch:${jobId}`,
  /** Sorted set of an owner's queued or running job ids, score = when the entry goes stale (ms); the active-job limit counts it. */
  activeJobs: (owner: string) => `tda:active-jobs:${encodeURIComponent(owner)}`,
  /** Sorted set of an owner's job ids, score = creation time (ms). */
  ownerJobs: (owner: string) => `tda:jobs:${owner}`,
  /** Idempotency key of an owner → the first job id. */
  idempotency: (owner: string, key: string) => `tda:idem:${owner}:${createHash("sha256").update(key).digest("hex")}`,
  /** Protobuf PersistenceResult of a computed job. */
  result: (jobId: string) => `tda:result:${jobId}`,
  /**
   * Result cache: dataset id + params hash → job id whose result key holds the
   * result. A dataset id names the content (datasetIdOf its sha256), so tenants
   * with the same data share entries, and a submit can look one up before the
   * upload service has answered.
   */
  cache: (datasetId: string, paramsHash: string) => `${CACHE_PREFIX}${datasetId}:${paramsHash}`,
  /** Pub/sub channel of cancel requests for running jobs (message = job id). */
  cancelChannel: "tda:job-cancel",
} as const;
