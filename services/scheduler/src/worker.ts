import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job as BullJob } from "bullmq";
import { contextFromCarrier, datasetIdOf, inSpan, pbCommon, pbJobs, SpanKind, type EventBus, type Logger, type Redis } from "@tda/common";
import type { Context } from "@opentelemetry/api";
import { compute, estimate, JobFailureError, needsEstimate, specFor } from "./engine-call";
import type { PointsCache } from "./points-cache";
import type { Engine, EnginePool } from "./engine-pool";
import { engineCrashed, failure, fromEngineError, MAX_ENGINE_CRASHES, type JobFailure } from "./failure";
import { isTerminal, type JobRecord, type JobStore } from "./job-store";
import { keys } from "./keys";
import type { Subscriber } from "./subscriber";
import type { UploadClient } from "./upload-client";

const { JobState } = pbJobs;

// The BullMQ worker: runs one job on one engine per attempt. The engine does
// the computing; this process only pipes bytes and records what happens, so
// its event loop stays free for lock renewal and progress.

export interface JobData {
  jobId: string;
  /** When the job first found every engine busy (ms), while it waits for capacity. */
  busySince?: number;
  /** Why a job that no engine took yet waits (told once per reason, not every retry). */
  waitReason?: string;
}

/** Base delay before a job that found the engines busy tries again. */
const BUSY_DELAY_MS = 1000;

export interface WorkerDeps {
  redis: Redis;
  /** A connection for BullMQ (maxRetriesPerRequest = null). */
  queueConnection: Redis;
  queueName: string;
  concurrency: number;
  store: JobStore;
  events: EventBus;
  engines: EnginePool;
  upload: UploadClient;
  /** Points of recently computed datasets (by sha256). */
  points: PointsCache;
  subscriber: Subscriber;
  log: Logger;
  retentionSeconds: number;
  progressIntervalMs: number;
  rpcTimeoutMs: number;
  /** BullMQ lock duration and stalled-check interval (defaults 30 s each). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface SchedulerWorker {
  worker: Worker<JobData>;
  /** Jobs running in this process. */
  running(): string[];
  close(graceMs: number): Promise<void>;
}

/** What one worker process shares between its jobs. */
interface WorkerState {
  deps: WorkerDeps;
  /** Abort controllers of the jobs running here. */
  running: Map<string, AbortController>;
  /** Set when the shutdown grace period is over: aborted jobs go back to the queue. */
  shuttingDown: boolean;
}

/** One attempt of one job, as the failure handling needs it. */
interface Attempt {
  bj: BullJob<JobData>;
  rec: JobRecord;
  ctx: Context;
  token: string | undefined;
  attempt: number;
  maxAttempts: number;
  ctl: AbortController;
  engine?: Engine;
}

export async function startWorker(deps: WorkerDeps): Promise<SchedulerWorker> {
  const { log } = deps;
  const w: WorkerState = { deps, running: new Map(), shuttingDown: false };
  const unsubscribe = await deps.subscriber.subscribe(keys.cancelChannel, (jobId) => {
    const ctl = w.running.get(jobId);
    if (ctl) {
      log.info({ jobId }, "cancelling running job");
      ctl.abort();
    }
  });
  const worker = new Worker<JobData>(deps.queueName, (bj, token, signal) => processJob(w, bj, token, signal), {
    connection: deps.queueConnection,
    concurrency: deps.concurrency,
    // the engine computes; this process only waits, so locks renew on time
    lockDuration: deps.lockDurationMs ?? 30_000,
    stalledInterval: deps.stalledIntervalMs ?? 30_000,
    maxStalledCount: 2,
  });
  worker.on("error", (err) => log.warn({ err: err.message }, "worker error"));
  // a job that BullMQ failed without our processor deciding (stalled too often)
  worker.on("failed", (bj, err) => {
    if (bj) void recordLostWorker(deps, bj, err).catch((e: unknown) => log.warn({ err: e }, "failed-job bookkeeping failed"));
  });
  await worker.waitUntilReady();
  return {
    worker,
    running: () => [...w.running.keys()],
    close: (graceMs) => closeWorker(w, worker, graceMs, unsubscribe),
  };
}

async function closeWorker(w: WorkerState, worker: Worker<JobData>, graceMs: number, unsubscribe: () => Promise<void>): Promise<void> {
  // let running jobs finish within the grace period; then stop their engine
  // calls so they go back to the queue (retried by this or another worker)
  const abortTimer = setTimeout(() => {
    if (w.running.size === 0) return;
    w.deps.log.warn({ running: [...w.running.keys()] }, "shutdown grace period over: handing running jobs back to the queue");
    w.shuttingDown = true;
    for (const ctl of w.running.values()) ctl.abort();
  }, graceMs);
  const forceTimer = setTimeout(() => void worker.close(true), graceMs + 5000);
  try {
    await worker.close();
  } finally {
    clearTimeout(abortTimer);
    clearTimeout(forceTimer);
    await unsubscribe();
  }
}

/** Fails a running job whose worker BullMQ gave up on (stalled too often). */
async function recordLostWorker(deps: WorkerDeps, bj: BullJob<JobData>, err: Error): Promise<void> {
  const rec = await deps.store.load(bj.data.jobId);
  if (!rec || rec.job.state !== JobState.JOB_STATE_RUNNING || !(await bj.isFailed())) return;
  const f = failure("WORKER_LOST", "the worker running the job stopped", false, "system", err);
  await finishFailed(deps.store, rec.job.jobId, f, bj.attemptsMade, contextFromCarrier(rec.trace));
}

async function processJob(w: WorkerState, bj: BullJob<JobData>, token?: string, bullSignal?: AbortSignal): Promise<void> {
  const jobId = bj.data.jobId;
  // a first attempt may start from the record this process created (a retry
  // reads it: another process may have recorded an engine that died running it)
  const rec = bj.attemptsMade === 0 ? await w.deps.store.loadForRun(jobId) : await w.deps.store.load(jobId);
  if (!rec) {
    w.deps.log.warn({ jobId }, "job record missing (expired?), dropping the queue entry");
    return;
  }
  if (isTerminal(rec.job.state)) return;
  const parent = contextFromCarrier(rec.trace);
  await inSpan("scheduler.run_job", parent, SpanKind.CONSUMER, (_span, ctx) => runJob(w, bj, rec, ctx, token, bullSignal), { "tda.job_id": jobId });
}

async function runJob(
  w: WorkerState,
  bj: BullJob<JobData>,
  rec: JobRecord,
  ctx: Context,
  token: string | undefined,
  bullSignal: AbortSignal | undefined,
): Promise<void> {
  const { store, engines } = w.deps;
  const jobId = rec.job.jobId;
  const a: Attempt = { bj, rec, ctx, token, attempt: bj.attemptsMade + 1, maxAttempts: bj.opts.attempts ?? 1, ctl: new AbortController() };
  bullSignal?.addEventListener("abort", () => a.ctl.abort(), { once: true });
  w.running.set(jobId, a.ctl);
  try {
    if (rec.cancelRequested) {
      await finishCancelled(store, jobId, ctx);
      return;
    }
    // engines that died running this job are not handed it again (the job may be what kills them)
    const crashed = new Set(rec.job.crashedEngines);
    // no engine known healthy (the one this job ran on just died, say): look again
    // before picking, so that an engine back since the last probe gets the job
    if (!engines.engines().some((e) => e.healthy && !crashed.has(e.address))) await engines.probe().catch(() => undefined);
    a.engine = engines.acquire(crashed);
    const started = await store.transition(
      jobId,
      { name: "start", attempt: a.attempt, maxAttempts: a.maxAttempts, engine: a.engine.address },
      { ctx, readCancel: true },
    );
    if (!started.ok) return; // cancelled (or gone) meanwhile
    // a cancel request that raced with the start: the flag is set before the
    // broadcast, and our controller was registered before this read
    if (started.cancelRequested) a.ctl.abort();
    const result = await computeOnEngine(w.deps, a, a.engine);
    await finishCompleted(w.deps, rec, result, ctx);
  } catch (err) {
    await attemptFailed(w, a, err);
  } finally {
    w.running.delete(jobId);
    if (a.engine) engines.release(a.engine);
  }
}

/** The engine's estimate (refusing a job beyond its memory), then the computation with progress. */
async function computeOnEngine(deps: WorkerDeps, a: Attempt, engine: Engine): Promise<pbCommon.PersistenceResult> {
  const { rec, ctx, ctl } = a;
  const jobId = rec.job.jobId;
  const params = rec.job.params ?? pbCommon.ComputeParams.fromPartial({});
  const spec = specFor(rec.dataset, params, jobId);
  const deadline = Date.now() + rec.deadlineSeconds * 1000;
  const progress = progressReporter(deps, a.bj, jobId, ctx);
  const est = !needsEstimate(spec)
    ? undefined
    : await estimate({ client: engine.client, spec, rpcTimeoutMs: deps.rpcTimeoutMs, ctx, signal: ctl.signal }).catch((err: unknown) => {
        // an engine without Estimate can still compute
        if (err instanceof JobFailureError && err.failure.errorCode === "UNIMPLEMENTED") return undefined;
        throw err;
      });
  if (est && !est.admissible) {
    const needs = `the computation needs about ${formatBytes(est.memoryBytes)}, more than the engine's limit of ${formatBytes(est.memoryLimitBytes)}`;
    throw new JobFailureError(failure("MEMORY_LIMIT_EXCEEDED", needs, false, "resource"));
  }
  const result = await compute({
    client: engine.client,
    spec,
    openPoints: () => deps.points.open(rec.dataset, () => deps.upload.readPoints(rec.job.owner, rec.job.datasetId, ctx, deadline)),
    deadline,
    rpcTimeoutMs: deps.rpcTimeoutMs,
    signal: ctl.signal,
    ctx,
    onProgress: progress.report,
  });
  await progress.settle();
  return result;
}

/**
 * What follows a failed attempt: cancelled by request; handed back to the
 * queue (our shutdown, engines busy, a retryable failure with attempts left);
 * or failed for good. Throws what BullMQ must see for the path taken.
 * An engine that died mid-job is recorded on the job (never handed it again);
 * the MAX_ENGINE_CRASHES-th such death fails the job as ENGINE_CRASHED.
 */
async function attemptFailed(w: WorkerState, a: Attempt, err: unknown): Promise<void> {
  const { store, engines, log } = w.deps;
  const { bj, rec, ctx, token, attempt, ctl, engine } = a;
  const jobId = rec.job.jobId;
  if (ctl.signal.aborted && (await store.isCancelRequested(jobId))) {
    await finishCancelled(store, jobId, ctx);
    return;
  }
  let f = err instanceof JobFailureError ? err.failure : fromEngineError(err);
  if (engine && f.errorCode === "ENGINE_UNAVAILABLE") engines.markUnavailable(engine);
  if (engine && f.errorCode === "ENGINE_BUSY") engines.markBusy(engine, 2000);
  if (ctl.signal.aborted && w.shuttingDown) {
    // our shutdown, not the user: back to the queue without using an attempt
    await store.transition(jobId, { name: "requeue", reason: "the worker shut down during the computation; requeued", attempt }, { ctx });
    await bj.moveToWait(token);
    throw new WaitingError();
  }
  if (ctl.signal.aborted && f.errorCode === "CANCELLED") f.retryable = true; // aborted by BullMQ, not the user
  // (no engine known at all, e.g. every engine pod is being replaced: the same wait)
  if ((f.errorCode === "ENGINE_BUSY" || f.errorCode === "NO_ENGINE_AVAILABLE") && token) await waitForCapacity(store, a, f);
  // the engine died with the job on it: recorded on the job, and the job is not retried past the limit
  const crashedEngine = engine && f.engineDied ? engine.address : undefined;
  if (crashedEngine) {
    const crashed = [...rec.job.crashedEngines, crashedEngine];
    log.warn({ jobId, attempt, engine: crashedEngine, crashedEngines: crashed }, "the engine died running the job");
    if (crashed.length >= MAX_ENGINE_CRASHES) f = engineCrashed(crashed, f.cause);
  }
  log.warn({ jobId, attempt, errorCode: f.errorCode, retryable: f.retryable, cause: f.cause }, "job attempt failed");
  if (f.retryable && attempt < a.maxAttempts) {
    const reason = crashedEngine
      ? `attempt ${attempt} failed (${f.errorCode}: the engine ${crashedEngine} died running the job); retrying on another engine`
      : `attempt ${attempt} failed (${f.errorCode}); retrying`;
    await store.transition(jobId, { name: "requeue", reason, attempt, error: { code: f.errorCode, message: f.message }, crashedEngine }, { ctx });
    throw new Error(`${f.errorCode}: ${f.message}`);
  }
  await finishFailed(store, jobId, f, attempt, ctx, crashedEngine);
  throw new UnrecoverableError(`${f.errorCode}: ${f.message}`);
}

/**
 * No capacity is not the job's fault: it waits for capacity without using
 * attempts (delayed in the queue, throws DelayedError), for as long as the
 * job's deadline; after that it returns and the job fails as ENGINE_BUSY.
 */
async function waitForCapacity(store: JobStore, a: Attempt, f: JobFailure): Promise<void> {
  const { bj, rec, token } = a;
  const busySince = bj.data.busySince ?? Date.now();
  if (Date.now() - busySince >= rec.deadlineSeconds * 1000) return;
  const reason = f.errorCode === "NO_ENGINE_AVAILABLE" ? `${f.message}; waiting for one` : "the engines are busy; waiting for capacity";
  // a job no engine took in this attempt is still queued: say why it waits (once per reason)
  const running = a.engine !== undefined || rec.job.state === JobState.JOB_STATE_RUNNING;
  if (running) await store.transition(rec.job.jobId, { name: "requeue", reason, attempt: a.attempt }, { ctx: a.ctx });
  else if (bj.data.waitReason !== reason) await store.transition(rec.job.jobId, { name: "queue", reason }, { ctx: a.ctx });
  await bj.updateData({ ...bj.data, busySince, waitReason: running ? undefined : reason });
  await bj.moveToDelayed(Date.now() + BUSY_DELAY_MS + Math.floor(Math.random() * BUSY_DELAY_MS), token);
  throw new DelayedError();
}

/** Progress updates of a running job, at most one per `progressIntervalMs` and one at a time. */
function progressReporter(deps: WorkerDeps, bj: BullJob<JobData>, jobId: string, ctx: Context) {
  let last = 0;
  let latest: pbCommon.Progress | undefined;
  let inFlight: Promise<void> | undefined;
  const flush = (): void => {
    const p = latest;
    if (!p) return;
    latest = undefined;
    last = Date.now();
    inFlight = (async () => {
      await deps.store.transition(jobId, { name: "progress", progress: p }, { ctx });
      await bj.updateProgress(Math.round(Math.min(1, Math.max(0, p.fraction)) * 100));
    })()
      .catch((err: unknown) => deps.log.warn({ jobId, err }, "progress update failed"))
      .finally(() => (inFlight = undefined));
  };
  return {
    report(p: pbCommon.Progress): void {
      latest = p;
      if (!inFlight && Date.now() - last >= deps.progressIntervalMs) flush();
    },
    async settle(): Promise<void> {
      await inFlight;
    },
  };
}

async function finishCompleted(deps: WorkerDeps, rec: JobRecord, result: pbCommon.PersistenceResult, ctx: Context): Promise<void> {
  const jobId = rec.job.jobId;
  const bytes = Buffer.from(pbCommon.PersistenceResult.encode(result).finish());
  await deps.store.transition(
    jobId,
    { name: "complete", result },
    {
      ctx,
      only: [JobState.JOB_STATE_RUNNING],
      // the result (and its cache entry) before the state that points at it, same round trip
      before: (pipe) =>
        pipe
          .multi()
          .set(keys.result(jobId), bytes, "EX", deps.retentionSeconds)
          .set(keys.cache(datasetIdOf(rec.dataset.sha256), rec.paramsHash), jobId, "EX", deps.retentionSeconds)
          .exec(),
      requires: keys.result(jobId),
    },
  );
}

async function finishFailed(store: JobStore, jobId: string, f: JobFailure, attempt: number, ctx: Context, crashedEngine?: string): Promise<void> {
  await store.transition(jobId, { name: "fail", errorCode: f.errorCode, message: f.message, attempt, failure: f, crashedEngine }, { ctx });
}

async function finishCancelled(store: JobStore, jobId: string, ctx: Context): Promise<void> {
  await store.transition(jobId, { name: "cancel" }, { ctx });
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}
