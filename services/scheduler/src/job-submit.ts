import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import {
  compareAndDelete,
  DATASET_ID_RE,
  injectCarrier,
  invalidArgument,
  nowTimestamp,
  pbCommon,
  pbJobs,
  TdaError,
  traceIdOf,
  unavailable,
  type FieldViolation,
} from "@tda/common";
import type { NewJobRecord } from "./job-store";
import { readUntil } from "./job-updates";
import type { JobServiceDeps } from "./job-service";
import { keys } from "./keys";
import { paramsHash, validateForDataset, validateParams, type ParamLimits } from "./params";

const { JobState } = pbJobs;
type Job = pbJobs.Job;

// SubmitJob: validate, look up the dataset (asked of the upload service) and
// the result cache, honour the idempotency key, then either complete the job
// from the cache or count it against the tenant's active-job limit, store it
// (submit + queue transitions) and hand it to the queue.

export const newJobId = (): string => `job_${randomUUID().replace(/-/g, "")}`;

/** Proto priority (higher runs first) → BullMQ priority (1 runs first). */
export function queuePriority(priority: number): number {
  return Math.min(2_097_151, Math.max(1, 1_000_000 - Math.trunc(priority)));
}

/** "" instead of the all-zero id of a context without a sampled span. */
const validTraceId = (id: string): string => (/^0*$/.test(id) ? "" : id);

// The result cached for (dataset sha256, params): the id of the job that
// computed it and its result, whose ttls are renewed; nil when there is none.
const CACHE_LOOKUP_LUA = `
local id = redis.call('GET', KEYS[1])
if not id then return false end
local result = redis.call('GET', ARGV[1] .. id)
if not result then return false end
redis.call('EXPIRE', ARGV[1] .. id, ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return { id, result }
`;

interface Cached {
  jobId: string;
  result: Buffer;
}

/** The cached result of params `pHash` on this dataset (the scheduler's own record), if the id is well-formed. */
async function cachedResult(deps: JobServiceDeps, datasetId: string, pHash: string): Promise<Cached | undefined> {
  if (!DATASET_ID_RE.test(datasetId)) return undefined;
  const r = deps.redis as typeof deps.redis & { tdaCacheLookupBuffer?: (...args: string[]) => Promise<unknown> };
  if (!r.tdaCacheLookupBuffer) r.defineCommand("tdaCacheLookup", { numberOfKeys: 1, lua: CACHE_LOOKUP_LUA });
  let reply: [Buffer, Buffer] | null;
  try {
    reply = (await r.tdaCacheLookupBuffer!(keys.cache(datasetId, pHash), keys.result(""), String(deps.retentionSeconds))) as typeof reply;
  } catch (err) {
    throw unavailable("the job store is unavailable", err);
  }
  return reply ? { jobId: reply[0].toString("utf8"), result: reply[1] } : undefined;
}

function requestViolations(deps: JobServiceDeps, req: pbJobs.SubmitJobRequest, limits: ParamLimits): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (!req.datasetId) violations.push({ field: "dataset_id", description: "must not be empty" });
  violations.push(...validateParams(req.params, limits));
  if (req.deadlineSeconds > deps.maxDeadlineSeconds) {
    violations.push({ field: "deadline_seconds", description: `must be at most ${deps.maxDeadlineSeconds} (0 means ${deps.defaultDeadlineSeconds})` });
  }
  if (req.idempotencyKey.length > 256) violations.push({ field: "idempotency_key", description: "must be at most 256 characters" });
  return violations;
}

/**
 * Claims the idempotency key for `jobId`: undefined when claimed (or no key),
 * else the job the key already points at. The first submit may still be
 * storing its job: the wait follows that job's update channel.
 */
async function claimIdempotencyKey(deps: JobServiceDeps, owner: string, key: string, jobId: string): Promise<Job | undefined> {
  const idemKey = keys.idempotency(owner, key);
  for (;;) {
    const claimed = await deps.redis.set(idemKey, jobId, "EX", deps.retentionSeconds, "NX");
    if (claimed === "OK") return undefined;
    const firstId = await deps.redis.get(idemKey);
    if (!firstId) continue;
    const first = await readUntil(
      deps.subscriber,
      firstId,
      () => deps.store.loadJob(firstId),
      (j) => j !== undefined,
      2000,
    );
    if (first) return first.owner === owner ? first : undefined;
    // the first job expired or its submit failed: the key is free again
    await compareAndDelete(deps.redis, idemKey, firstId);
  }
}

function newJob(req: pbJobs.SubmitJobRequest, jobId: string, owner: string, ctx: Context): Job {
  return {
    jobId,
    datasetId: req.datasetId,
    params: req.params,
    state: JobState.JOB_STATE_QUEUED,
    progress: undefined,
    createdAt: nowTimestamp(),
    startedAt: undefined,
    finishedAt: undefined,
    errorCode: "",
    errorMessage: "",
    cacheHit: false,
    owner,
    attempts: 0,
    engine: "",
    priority: req.priority,
    traceId: validTraceId(traceIdOf(ctx)),
    crashedEngines: [],
  };
}

/** Counts the job against the tenant's limit of queued or running jobs (checked and taken in one script). */
async function claimActiveSlot(deps: JobServiceDeps, owner: string, jobId: string): Promise<void> {
  const limit = deps.maxActiveJobs ?? 0;
  if (limit <= 0) return;
  const claim = await deps.store.claimActive(owner, jobId, limit);
  if (claim === true) return;
  throw new TdaError(GrpcStatus.RESOURCE_EXHAUSTED, `this tenant already has ${claim} jobs queued or running (limit ${limit}); wait for one to finish`, {
    reason: "TOO_MANY_ACTIVE_JOBS",
    metadata: { limit: String(limit), active: String(claim) },
    retryable: true,
    retryAfterMs: deps.activeJobsRetryMs ?? 5_000,
  });
}

/** Hands a stored job to the queue; a queue that refuses it fails the job (UNAVAILABLE to the caller). */
async function enqueue(deps: JobServiceDeps, job: Job, ctx: Context): Promise<void> {
  try {
    await deps.queue.add(
      "compute",
      { jobId: job.jobId },
      {
        jobId: job.jobId,
        priority: queuePriority(job.priority),
        attempts: deps.attempts,
        backoff: { type: "exponential", delay: deps.backoffMs, jitter: 0.5 },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 24 * 3600, count: 10_000 },
      },
    );
  } catch (err) {
    await deps.store.transition(job.jobId, { name: "fail", errorCode: "QUEUE_UNAVAILABLE", message: "the job could not be queued" }, { ctx });
    throw unavailable("the job queue is unavailable", err);
  }
}

export async function submitJob(deps: JobServiceDeps, req: pbJobs.SubmitJobRequest, owner: string, ctx: Context): Promise<Job> {
  // this scheduler's bounds tightened by what the engines publish (the one source of limits)
  const limits = deps.engineLimits ? await deps.engineLimits.effective(deps.limits) : deps.limits;
  const violations = requestViolations(deps, req, limits);
  if (violations.length > 0) throw invalidArgument("invalid job request", violations);
  const params = req.params!;
  const pHash = paramsHash(params);
  // the owner's dataset (asked of the upload service) and the cache, at once:
  // the cache is keyed by the dataset id, and used only once the dataset is found
  const [dataset, cached] = await Promise.all([
    deps.upload.getDataset(owner, req.datasetId, ctx, deps.uploadTimeoutMs ?? 10_000),
    cachedResult(deps, req.datasetId, pHash),
  ]);
  const dsViolations = validateForDataset(params, dataset, limits);
  if (dsViolations.length > 0) throw invalidArgument("the params do not fit the dataset", dsViolations);

  const jobId = newJobId();
  if (req.idempotencyKey) {
    const first = await claimIdempotencyKey(deps, owner, req.idempotencyKey, jobId);
    if (first) return first;
  }
  const record: NewJobRecord = {
    job: newJob(req, jobId, owner, ctx),
    dataset,
    trace: injectCarrier(ctx),
    paramsHash: pHash,
    deadlineSeconds: req.deadlineSeconds || deps.defaultDeadlineSeconds,
    resultOf: cached ? cached.jobId : jobId,
  };
  let stored = false;
  try {
    if (cached) {
      // the record, job.submitted and job.completed in one round trip
      const result = pbCommon.PersistenceResult.decode(cached.result);
      const [, done] = await deps.store.create(record, [{ name: "submit" }, { name: "complete", result, cacheHit: true }], ctx);
      stored = true;
      return done!.job;
    }
    await claimActiveSlot(deps, owner, jobId);
    // the record, job.submitted and job.queued in one round trip, then the queue entry
    const [, queued] = await deps.store.create(record, [{ name: "submit" }, { name: "queue" }], ctx);
    stored = true;
    await enqueue(deps, queued!.job, ctx);
    return queued!.job;
  } catch (err) {
    if (req.idempotencyKey) await compareAndDelete(deps.redis, keys.idempotency(owner, req.idempotencyKey), jobId).catch(() => undefined);
    if (!stored) await deps.store.discard(jobId, owner).catch(() => undefined);
    throw err;
  }
}
