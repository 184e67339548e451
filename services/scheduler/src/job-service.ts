import { randomUUID } from "node:crypto";
import { status as GrpcStatus, type Metadata, type ServerWritableStream } from "@grpc/grpc-js";
import type { Queue } from "bullmq";
import type { Context } from "@opentelemetry/api";
import {
  contextFromMetadata,
  failedPrecondition,
  injectCarrier,
  inSpan,
  invalidArgument,
  notFound,
  compareAndDelete,
  TdaError,
  nowTimestamp,
  pbCommon,
  pbJobs,
  pbUpload,
  serverStream,
  SpanKind,
  tenantOf,
  traceIdOf,
  unary,
  unavailable,
  writeWithDrain,
  type FieldViolation,
  type Logger,
  type Redis,
} from "@tda/common";
import { isTerminal, parseUpdateRecord, stateName, type JobStore } from "./job-store";
import { keys } from "./keys";
import { paramsHash, validateForDataset, validateParams, type ParamLimits } from "./params";
import { resultSummaryEvent } from "./outcome-events";
import type { Subscriber } from "./subscriber";
import type { EngineDistance, EngineVectorize } from "./distance-service";
import type { UploadClient } from "./upload-client";
import type { JobData } from "./worker";

const { JobState } = pbJobs;
type Job = pbJobs.Job;

export interface JobServiceDeps {
  redis: Redis;
  queue: Queue<JobData>;
  store: JobStore;
  subscriber: Subscriber;
  log: Logger;
  limits: ParamLimits;
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
  /** The upload service, which owns datasets. */
  upload: Pick<UploadClient, "getDataset">;
  /** Longest wait for the upload service's answer (default 10 s). */
  uploadTimeoutMs?: number;
  /** Jobs one tenant may have queued or running (0 or unset: no limit). */
  maxActiveJobs?: number;
  /** RetryInfo of a TOO_MANY_ACTIVE_JOBS refusal (default 5 s). */
  activeJobsRetryMs?: number;
}

export const newJobId = (): string => `job_${randomUUID().replace(/-/g, "")}`;

/** Proto priority (higher runs first) → BullMQ priority (1 runs first). */
export function queuePriority(priority: number): number {
  return Math.min(2_097_151, Math.max(1, 1_000_000 - Math.trunc(priority)));
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

/** "" instead of the all-zero id of a context without a sampled span. */
const validTraceId = (id: string): string => (/^0*$/.test(id) ? "" : id);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

export function createJobService(deps: JobServiceDeps): Omit<pbJobs.JobServiceServer, "estimateJob" | "getLimits"> {
  const { redis, queue, store, log } = deps;
  const r = redis as Redis & { tdaCacheLookupBuffer?: (...args: string[]) => Promise<unknown> };
  if (!r.tdaCacheLookupBuffer) r.defineCommand("tdaCacheLookup", { numberOfKeys: 1, lua: CACHE_LOOKUP_LUA });
  const cacheLookupCmd = r.tdaCacheLookupBuffer!.bind(r);

  /**
   * The owner's dataset (asked of the upload service, which owns it) and the
   * cached result of these params on it (the scheduler's own record).
   */
  async function submitLookup(
    owner: string,
    datasetId: string,
    pHash: string,
    ctx: Context,
  ): Promise<{ dataset: pbUpload.Dataset; cached?: { jobId: string; result: Buffer } }> {
    const dataset = await deps.upload.getDataset(owner, datasetId, ctx, deps.uploadTimeoutMs ?? 10_000);
    let reply: [Buffer, Buffer] | null;
    try {
      reply = (await cacheLookupCmd(keys.cache(dataset.sha256, pHash), keys.result(""), String(deps.retentionSeconds))) as typeof reply;
    } catch (err) {
      throw unavailable("the job store is unavailable", err);
    }
    return reply ? { dataset, cached: { jobId: reply[0].toString("utf8"), result: reply[1] } } : { dataset };
  }

  function requireJobId(jobId: string): void {
    if (!jobId) throw invalidArgument("job_id is required", [{ field: "job_id", description: "must not be empty" }]);
  }

  /** The job if `owner` may see it: another tenant's job does not exist for this caller. */
  function visibleTo(owner: string, jobId: string, job: Job | undefined): Job {
    if (!job || job.owner !== owner) throw notFound(`job "${jobId}"`);
    return job;
  }

  async function ownedJob(owner: string, jobId: string): Promise<Job> {
    requireJobId(jobId);
    return visibleTo(owner, jobId, await store.loadJob(jobId));
  }

  /** The owner's completed job and its result. */
  async function ownedResult(owner: string, jobId: string): Promise<{ job: Job; result: pbCommon.PersistenceResult }> {
    const job = await ownedJob(owner, jobId);
    if (job.state !== JobState.JOB_STATE_COMPLETED) throw failedPrecondition(`job "${jobId}" is not completed`, "JOB_NOT_COMPLETED");
    const rec = await store.load(jobId);
    const bytes = rec ? await redis.getBuffer(keys.result(rec.resultOf)) : null;
    if (!bytes) throw notFound(`result of job "${jobId}"`);
    return { job, result: pbCommon.PersistenceResult.decode(bytes) };
  }

  /** The engine's distances between the results of two of the owner's jobs. */
  async function diagramDistance(owner: string, req: pbJobs.DiagramDistanceRequest, ctx: Context): Promise<pbJobs.DiagramDistanceResponse> {
    const violations: FieldViolation[] = [];
    if (!req.jobIdA) violations.push({ field: "job_id_a", description: "must not be empty" });
    if (!req.jobIdB) violations.push({ field: "job_id_b", description: "must not be empty" });
    if (violations.length > 0) throw invalidArgument("invalid DiagramDistance request", violations);
    if (!deps.distance) throw unavailable("no engine is configured on this scheduler");
    const [a, b] = await Promise.all([ownedResult(owner, req.jobIdA), ownedResult(owner, req.jobIdB)]);
    const result = await deps.distance({ a: a.result.diagrams, b: b.result.diagrams, params: req.params }, ctx);
    return { jobIdA: req.jobIdA, jobIdB: req.jobIdB, result };
  }

  /** The engine's vectorisation of the result of one of the owner's jobs. */
  async function vectorize(owner: string, req: pbJobs.VectorizeRequest, ctx: Context): Promise<pbJobs.VectorizeResponse> {
    if (!deps.vectorize) throw unavailable("no engine is configured on this scheduler");
    const { result } = await ownedResult(owner, req.jobId);
    return { jobId: req.jobId, result: await deps.vectorize({ diagrams: result.diagrams, params: req.params }, ctx) };
  }

  /** The job an idempotency key points at (it may still be being created). */
  async function jobOfKey(owner: string, jobId: string): Promise<Job | undefined> {
    for (let i = 0; i < 40; i++) {
      const job = await store.loadJob(jobId);
      if (job) return job.owner === owner ? job : undefined;
      await sleep(50);
    }
    return undefined;
  }

  async function submit(req: pbJobs.SubmitJobRequest, owner: string, ctx: Context): Promise<Job> {
    const violations: FieldViolation[] = [];
    if (!req.datasetId) violations.push({ field: "dataset_id", description: "must not be empty" });
    violations.push(...validateParams(req.params, deps.limits));
    if (req.deadlineSeconds > deps.maxDeadlineSeconds) {
      violations.push({ field: "deadline_seconds", description: `must be at most ${deps.maxDeadlineSeconds} (0 means ${deps.defaultDeadlineSeconds})` });
    }
    if (req.idempotencyKey.length > 256) violations.push({ field: "idempotency_key", description: "must be at most 256 characters" });
    if (violations.length > 0) throw invalidArgument("invalid job request", violations);
    const params = req.params!;

    const pHash = paramsHash(params);
    const { dataset, cached } = await submitLookup(owner, req.datasetId, pHash, ctx);
    const dsViolations = validateForDataset(params, dataset);
    if (dsViolations.length > 0) throw invalidArgument("the params do not fit the dataset", dsViolations);

    const jobId = newJobId();
    let idemKey: string | undefined;
    if (req.idempotencyKey) {
      idemKey = keys.idempotency(owner, req.idempotencyKey);
      for (;;) {
        const claimed = await redis.set(idemKey, jobId, "EX", deps.retentionSeconds, "NX");
        if (claimed === "OK") break;
        const firstId = await redis.get(idemKey);
        if (firstId) {
          const first = await jobOfKey(owner, firstId);
          if (first) return first;
          // the first job expired or its submit failed: the key is free again
          await compareAndDelete(redis, idemKey, firstId);
        }
      }
    }

    const cachedFrom = cached?.jobId ?? null;
    const cacheHit = cachedFrom !== null;

    const job: Job = {
      jobId,
      datasetId: req.datasetId,
      params,
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
    };
    let published = false;
    try {
      const record = {
        job,
        dataset,
        trace: injectCarrier(ctx),
        paramsHash: pHash,
        deadlineSeconds: req.deadlineSeconds || deps.defaultDeadlineSeconds,
        resultOf: cacheHit ? cachedFrom! : jobId,
      };
      const submitted = { from: [JobState.JOB_STATE_QUEUED], mutate: () => undefined, eventType: "job.submitted", ctx };

      if (cacheHit) {
        const cachedResult = pbCommon.PersistenceResult.decode(cached!.result);
        // the record, job.submitted and job.completed in one round trip
        const [, done] = await store.create(record, [
          submitted,
          {
            from: [JobState.JOB_STATE_QUEUED],
            mutate: (j) => {
              j.state = JobState.JOB_STATE_COMPLETED;
              j.cacheHit = true;
              j.finishedAt = nowTimestamp();
              j.progress = { stage: pbCommon.Stage.STAGE_DONE, dimension: 0, columnsDone: 0, columnsTotal: 0, fraction: 1, bytesInUse: 0 };
            },
            eventType: "job.completed",
            // the cached job may be another tenant's: never name it
            message: "result taken from the result cache",
            ctx,
            alsoPublish: (j) => [resultSummaryEvent(j, cachedResult)],
          },
        ]);
        published = true;
        return done!.job;
      }

      // the tenant's limit of queued or running jobs, checked and taken in one script
      const limit = deps.maxActiveJobs ?? 0;
      if (limit > 0) {
        const claim = await store.claimActive(owner, jobId, limit);
        if (claim !== true) {
          throw new TdaError(
            GrpcStatus.RESOURCE_EXHAUSTED,
            `this tenant already has ${claim} jobs queued or running (limit ${limit}); wait for one to finish`,
            {
              reason: "TOO_MANY_ACTIVE_JOBS",
              metadata: { limit: String(limit), active: String(claim) },
              retryable: true,
              retryAfterMs: deps.activeJobsRetryMs ?? 5_000,
            },
          );
        }
      }
      // the record, job.submitted and job.queued in one round trip, then the queue entry
      const [first, queued] = await store.create(record, [
        submitted,
        { from: [JobState.JOB_STATE_QUEUED], mutate: () => undefined, eventType: "job.queued", ctx },
      ]);
      published = true;
      try {
        await queue.add(
          "compute",
          { jobId },
          {
            jobId,
            priority: queuePriority(req.priority),
            attempts: deps.attempts,
            backoff: { type: "exponential", delay: deps.backoffMs, jitter: 0.5 },
            removeOnComplete: { age: 3600, count: 10_000 },
            removeOnFail: { age: 24 * 3600, count: 10_000 },
          },
        );
      } catch (err) {
        await store.apply(jobId, {
          from: [JobState.JOB_STATE_QUEUED],
          mutate: (j) => {
            j.state = JobState.JOB_STATE_FAILED;
            j.finishedAt = nowTimestamp();
            j.errorCode = "QUEUE_UNAVAILABLE";
            j.errorMessage = "the job could not be queued";
          },
          eventType: "job.failed",
          message: "the job could not be queued",
          ctx,
        });
        throw unavailable("the job queue is unavailable", err);
      }
      return (queued ?? first)!.job;
    } catch (err) {
      if (idemKey) await compareAndDelete(redis, idemKey, jobId).catch(() => undefined);
      if (!published) await store.discard(jobId, owner).catch(() => undefined);
      throw err;
    }
  }

  async function cancel(owner: string, jobId: string, ctx: Context): Promise<Job> {
    const job = await ownedJob(owner, jobId);
    if (job.state === JobState.JOB_STATE_CANCELLED) return job;
    if (isTerminal(job.state)) throw failedPrecondition(`job is already ${stateName(job.state)}`, "JOB_ALREADY_FINISHED");
    await store.requestCancel(jobId);
    if (job.state === JobState.JOB_STATE_QUEUED) {
      const bj = await queue.getJob(jobId);
      const removed = !bj || (await queue.remove(jobId)) === 1;
      if (removed) {
        const res = await store.apply(jobId, {
          from: [JobState.JOB_STATE_QUEUED],
          mutate: (j) => {
            j.state = JobState.JOB_STATE_CANCELLED;
            j.finishedAt = nowTimestamp();
          },
          eventType: "job.cancelled",
          message: "cancelled by request",
          ctx,
        });
        if (res.ok) return res.job;
      }
    }
    // running (or just picked up): the worker that runs it stops the engine call
    await redis.publish(keys.cancelChannel, jobId);
    const end = Date.now() + (deps.cancelWaitMs ?? 5000);
    let latest = (await store.loadJob(jobId)) ?? job;
    while (!isTerminal(latest.state) && Date.now() < end) {
      await sleep(100);
      latest = (await store.loadJob(jobId)) ?? latest;
    }
    return latest;
  }

  async function list(owner: string, req: pbJobs.ListJobsRequest): Promise<pbJobs.ListJobsResponse> {
    const pageSize = Math.min(req.pageSize || deps.defaultPageSize, deps.maxPageSize);
    let cursor: Cursor | undefined = req.pageToken ? decodeCursor(req.pageToken) : undefined;
    const jobs: Job[] = [];
    const batchSize = Math.max(pageSize + 1, 50);
    for (;;) {
      const batch = await store.ownerJobIds(owner, cursor, batchSize);
      if (batch.length === 0) return { jobs, nextPageToken: "" };
      const loaded = await store.loadMany(batch.map((b) => b.id));
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

  async function watch(call: ServerWritableStream<pbJobs.WatchJobRequest, pbJobs.WatchJobResponse>): Promise<void> {
    const owner = tenantOf(call.metadata);
    const jobId = call.request.jobId;
    requireJobId(jobId);
    const pending: pbJobs.JobUpdate[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    let resync = false;
    const resyncMs = deps.watchResyncMs ?? 10_000;
    const onClose = () => {
      closed = true;
      wake?.();
    };
    call.on("cancelled", onClose);
    call.on("close", onClose);
    // listen first, then read the job and its list (in that order, one round
    // trip): an update lands in the list, the live messages or both, and the
    // sequence numbers drop the duplicates
    const unsubscribe = await deps.subscriber.subscribe(keys.updatesChannel(jobId), (msg) => {
      pending.push(parseUpdateRecord(msg));
      wake?.();
    });
    const offReconnect = deps.subscriber.onReconnect(() => {
      resync = true;
      wake?.();
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const snap = await store.snapshot(jobId);
      const job = visibleTo(owner, jobId, snap.job);
      let last = 0;
      const emit = async (u: pbJobs.JobUpdate): Promise<boolean> => {
        if (u.sequence <= last) return false;
        last = u.sequence;
        await writeWithDrain(call, { update: u });
        return isTerminal(u.state);
      };
      // a job finished when read has its terminal update in the list read after
      // it (a finished job whose update log expired ends after the list too)
      for (const u of snap.updates) if (await emit(u)) return;
      if (isTerminal(job.state)) return;
      while (!closed) {
        while (pending.length > 0) if (await emit(pending.shift()!)) return;
        if (resync) {
          // the live messages may have a gap: the list has every update
          resync = false;
          const again = await store.snapshot(jobId);
          for (const u of again.updates) if (await emit(u)) return;
          if (!again.job || isTerminal(again.job.state)) return;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(() => {
            resync = true;
            r();
          }, resyncMs);
        });
        clearTimeout(timer);
        wake = undefined;
      }
    } finally {
      clearTimeout(timer);
      offReconnect();
      call.off("cancelled", onClose);
      call.off("close", onClose);
      await unsubscribe();
    }
  }

  function span<T>(name: string, md: Metadata, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return inSpan(`tda.jobs.v1.JobService/${name}`, contextFromMetadata(md), SpanKind.SERVER, (_s, ctx) => fn(ctx));
  }

  return {
    submitJob: unary(log, "SubmitJob", (req: pbJobs.SubmitJobRequest, call) =>
      span("SubmitJob", call.metadata, async (ctx) => ({ job: await submit(req, tenantOf(call.metadata), ctx) })),
    ),
    getJob: unary(log, "GetJob", async (req: pbJobs.GetJobRequest, call) => ({ job: await ownedJob(tenantOf(call.metadata), req.jobId) })),
    listJobs: unary(log, "ListJobs", (req: pbJobs.ListJobsRequest, call) => list(tenantOf(call.metadata), req)),
    watchJob: serverStream(log, "WatchJob", watch),
    cancelJob: unary(log, "CancelJob", (req: pbJobs.CancelJobRequest, call) =>
      span("CancelJob", call.metadata, async (ctx) => ({ job: await cancel(tenantOf(call.metadata), req.jobId, ctx) })),
    ),
    getResult: unary(log, "GetResult", async (req: pbJobs.GetResultRequest, call) => {
      const { job, result } = await ownedResult(tenantOf(call.metadata), req.jobId);
      return { jobId: req.jobId, result, cacheHit: job.cacheHit };
    }),
    vectorize: unary(log, "Vectorize", (req: pbJobs.VectorizeRequest, call) =>
      span("Vectorize", call.metadata, (ctx) => vectorize(tenantOf(call.metadata), req, ctx)),
    ),
    diagramDistance: unary(log, "DiagramDistance", (req: pbJobs.DiagramDistanceRequest, call) =>
      span("DiagramDistance", call.metadata, (ctx) => diagramDistance(tenantOf(call.metadata), req, ctx)),
    ),
  };
}
