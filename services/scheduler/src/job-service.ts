import type { Metadata } from "@grpc/grpc-js";
import type { Queue } from "bullmq";
import type { Context } from "@opentelemetry/api";
import {
  contextFromMetadata,
  failedPrecondition,
  inSpan,
  invalidArgument,
  notFound,
  pbCommon,
  pbJobs,
  serverStream,
  SpanKind,
  tenantOf,
  unary,
  unavailable,
  type FieldViolation,
  type Logger,
  type Redis,
} from "@tda/common";
import { isTerminal, stateName, type JobStore } from "./job-store";
import { readUntil } from "./job-updates";
import { submitJob } from "./job-submit";
import { watchJob } from "./job-watch";
import { keys } from "./keys";
import type { ParamLimits } from "./params";
import type { EngineLimits } from "./engine-limits";
import type { Subscriber } from "./subscriber";
import type { EngineDistance, EngineVectorize } from "./distance-service";
import type { UploadClient } from "./upload-client";
import type { JobData } from "./worker";

export { newJobId, queuePriority } from "./job-submit";

const { JobState } = pbJobs;
type Job = pbJobs.Job;

export interface JobServiceDeps {
  redis: Redis;
  queue: Queue<JobData>;
  store: JobStore;
  subscriber: Subscriber;
  log: Logger;
  /** This scheduler's own bounds of the compute parameters. */
  limits: ParamLimits;
  /** What the engines publish (the one source of limits): tightens `limits` and bounds dataset sizes. */
  engineLimits?: EngineLimits;
  defaultDeadlineSeconds: number;
  maxDeadlineSeconds: number;
  retentionSeconds: number;
  attempts: number;
  backoffMs: number;
  defaultPageSize: number;
  maxPageSize: number;
  /** How long CancelJob waits for a running job to stop before answering. */
  cancelWaitMs?: number;
  /** DiagramDistance on an engine (absent: UNAVAILABLE). */
  distance?: EngineDistance;
  /** Vectorize on an engine (absent: UNAVAILABLE). */
  vectorize?: EngineVectorize;
  /**
   * A WatchJob that heard nothing for this long re-reads the job (a pub/sub
   * message is lost when it is published while the subscriber reconnects; the
   * reconnect itself also triggers a re-read). Default 10 s.
   */
  watchResyncMs?: number;
  /** Counts the WatchJob streams in progress (exported as a gauge by the server). */
  watches?: { streams: number };
  /** The upload service, which owns datasets. */
  upload: Pick<UploadClient, "getDataset">;
  /** Longest wait for the upload service's answer (default 10 s). */
  uploadTimeoutMs?: number;
  /** Jobs one tenant may have queued or running (0 or unset: no limit). */
  maxActiveJobs?: number;
  /** RetryInfo of a TOO_MANY_ACTIVE_JOBS refusal (default 5 s). */
  activeJobsRetryMs?: number;
}

interface Cursor {
  score: number;
  skip: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.score, c.skip])).toString("base64url");
}

function decodeCursor(token: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && Number.isInteger(v[1]) && v[1] >= 0) return { score: v[0], skip: v[1] };
  } catch {
    // fall through
  }
  throw invalidArgument("invalid page_token", [{ field: "page_token", description: "not a token returned by ListJobs" }]);
}

function requireJobId(jobId: string): void {
  if (!jobId) throw invalidArgument("job_id is required", [{ field: "job_id", description: "must not be empty" }]);
}

/** The job if `owner` may see it: another tenant's job does not exist for this caller. */
async function ownedJob(deps: JobServiceDeps, owner: string, jobId: string): Promise<Job> {
  requireJobId(jobId);
  const job = await deps.store.loadJob(jobId);
  if (!job || job.owner !== owner) throw notFound(`job "${jobId}"`);
  return job;
}

/** The owner's completed job and its result. */
async function ownedResult(deps: JobServiceDeps, owner: string, jobId: string): Promise<{ job: Job; result: pbCommon.PersistenceResult }> {
  const job = await ownedJob(deps, owner, jobId);
  if (job.state !== JobState.JOB_STATE_COMPLETED) throw failedPrecondition(`job "${jobId}" is not completed`, "JOB_NOT_COMPLETED");
  const rec = await deps.store.load(jobId);
  const bytes = rec ? await deps.redis.getBuffer(keys.result(rec.resultOf)) : null;
  if (!bytes) throw notFound(`result of job "${jobId}"`);
  return { job, result: pbCommon.PersistenceResult.decode(bytes) };
}

/** The engine's distances between the results of two of the owner's jobs. */
async function diagramDistance(deps: JobServiceDeps, owner: string, req: pbJobs.DiagramDistanceRequest, ctx: Context): Promise<pbJobs.DiagramDistanceResponse> {
  const violations: FieldViolation[] = [];
  if (!req.jobIdA) violations.push({ field: "job_id_a", description: "must not be empty" });
  if (!req.jobIdB) violations.push({ field: "job_id_b", description: "must not be empty" });
  if (violations.length > 0) throw invalidArgument("invalid DiagramDistance request", violations);
  if (!deps.distance) throw unavailable("no engine is configured on this scheduler");
  const [a, b] = await Promise.all([ownedResult(deps, owner, req.jobIdA), ownedResult(deps, owner, req.jobIdB)]);
  const result = await deps.distance({ a: a.result.diagrams, b: b.result.diagrams, params: req.params }, ctx);
  return { jobIdA: req.jobIdA, jobIdB: req.jobIdB, result };
}

/** The engine's vectorisation of the result of one of the owner's jobs. */
async function vectorize(deps: JobServiceDeps, owner: string, req: pbJobs.VectorizeRequest, ctx: Context): Promise<pbJobs.VectorizeResponse> {
  if (!deps.vectorize) throw unavailable("no engine is configured on this scheduler");
  const { result } = await ownedResult(deps, owner, req.jobId);
  return { jobId: req.jobId, result: await deps.vectorize({ diagrams: result.diagrams, params: req.params }, ctx) };
}

/**
 * CancelJob: a queued job leaves the queue and is cancelled here; a running
 * one is stopped by its worker (told on the cancel channel), and the answer
 * waits for its final state on the job's update channel (up to cancelWaitMs).
 */
async function cancel(deps: JobServiceDeps, owner: string, jobId: string, ctx: Context): Promise<Job> {
  const { store, queue } = deps;
  const job = await ownedJob(deps, owner, jobId);
  if (job.state === JobState.JOB_STATE_CANCELLED) return job;
  if (isTerminal(job.state)) throw failedPrecondition(`job is already ${stateName(job.state)}`, "JOB_ALREADY_FINISHED");
  await store.requestCancel(jobId);
  if (job.state === JobState.JOB_STATE_QUEUED) {
    const bj = await queue.getJob(jobId);
    const removed = !bj || (await queue.remove(jobId)) === 1;
    if (removed) {
      const res = await store.transition(jobId, { name: "cancel" }, { ctx, only: [JobState.JOB_STATE_QUEUED] });
      if (res.ok) return res.job;
    }
  }
  // running (or just picked up): the worker that runs it stops the engine call
  const latest = await readUntil(
    deps.subscriber,
    jobId,
    () => store.loadJob(jobId),
    (j) => j === undefined || isTerminal(j.state),
    deps.cancelWaitMs ?? 5000,
    () => deps.redis.publish(keys.cancelChannel, jobId),
  );
  return latest ?? job;
}

async function list(deps: JobServiceDeps, owner: string, req: pbJobs.ListJobsRequest): Promise<pbJobs.ListJobsResponse> {
  const pageSize = Math.min(req.pageSize || deps.defaultPageSize, deps.maxPageSize);
  let cursor: Cursor | undefined = req.pageToken ? decodeCursor(req.pageToken) : undefined;
  const jobs: Job[] = [];
  const batchSize = Math.max(pageSize + 1, 50);
  for (;;) {
    const batch = await deps.store.ownerJobIds(owner, cursor, batchSize);
    if (batch.length === 0) return { jobs, nextPageToken: "" };
    const loaded = await deps.store.loadMany(batch.map((b) => b.id));
    for (let i = 0; i < batch.length; i++) {
      if (jobs.length === pageSize) return { jobs, nextPageToken: encodeCursor(cursor!) };
      const { score } = batch[i]!;
      cursor = cursor && cursor.score === score ? { score, skip: cursor.skip + 1 } : { score, skip: 1 };
      // a missing record expired; its index entry is pruned by age on the next submit
      const job = loaded[i];
      if (job && (req.state === JobState.JOB_STATE_UNSPECIFIED || job.state === req.state)) jobs.push(job);
    }
    if (batch.length < batchSize) return { jobs, nextPageToken: "" };
  }
}

function span<T>(name: string, md: Metadata, fn: (ctx: Context) => Promise<T>): Promise<T> {
  return inSpan(`tda.jobs.v1.JobService/${name}`, contextFromMetadata(md), SpanKind.SERVER, (_s, ctx) => fn(ctx));
}

export function createJobService(deps: JobServiceDeps): Omit<pbJobs.JobServiceServer, "estimateJob" | "getLimits"> {
  const { log } = deps;
  const watchDeps = { store: deps.store, subscriber: deps.subscriber, resyncMs: deps.watchResyncMs ?? 10_000, active: deps.watches };
  return {
    submitJob: unary(log, "SubmitJob", (req: pbJobs.SubmitJobRequest, call) =>
      span("SubmitJob", call.metadata, async (ctx) => ({ job: await submitJob(deps, req, tenantOf(call.metadata), ctx) })),
    ),
    getJob: unary(log, "GetJob", async (req: pbJobs.GetJobRequest, call) => ({ job: await ownedJob(deps, tenantOf(call.metadata), req.jobId) })),
    listJobs: unary(log, "ListJobs", (req: pbJobs.ListJobsRequest, call) => list(deps, tenantOf(call.metadata), req)),
    watchJob: serverStream(log, "WatchJob", async (call) => {
      requireJobId(call.request.jobId);
      await watchJob(watchDeps, call);
    }),
    cancelJob: unary(log, "CancelJob", (req: pbJobs.CancelJobRequest, call) =>
      span("CancelJob", call.metadata, async (ctx) => ({ job: await cancel(deps, tenantOf(call.metadata), req.jobId, ctx) })),
    ),
    getResult: unary(log, "GetResult", async (req: pbJobs.GetResultRequest, call) => {
      const { job, result } = await ownedResult(deps, tenantOf(call.metadata), req.jobId);
      return { jobId: req.jobId, result, cacheHit: job.cacheHit };
    }),
    vectorize: unary(log, "Vectorize", (req: pbJobs.VectorizeRequest, call) =>
      span("Vectorize", call.metadata, (ctx) => vectorize(deps, tenantOf(call.metadata), req, ctx)),
    ),
    diagramDistance: unary(log, "DiagramDistance", (req: pbJobs.DiagramDistanceRequest, call) =>
      span("DiagramDistance", call.metadata, (ctx) => diagramDistance(deps, tenantOf(call.metadata), req, ctx)),
    ),
  };
}
