import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job as BullJob } from "bullmq";
import { contextFromCarrier, inSpan, nowTimestamp, pbCommon, pbJobs, SpanKind, type EventBus, type Logger, type Redis } from "@tda/common";
import type { Context } from "@opentelemetry/api";
import { compute, estimate, JobFailureError, needsEstimate, specFor } from "./engine-call";
import type { PointsCache } from "./points-cache";
import type { Engine, EnginePool } from "./engine-pool";
import { failure, fromEngineError, type JobFailure } from "./failure";
import { isTerminal, type JobRecord, type JobStore } from "./job-store";
import { keys } from "./keys";
import type { Subscriber } from "./subscriber";
import type { UploadClient } from "./upload-client";
import { errorEvent, resultSummaryEvent } from "./outcome-events";

const { JobState } = pbJobs;

// The BullMQ worker: runs one job on one engine per attempt. The engine does
// the computing; this process only pipes bytes and records what happens, so
// its event loop stays free for lock renewal and progress.

export interface JobData {
  jobId: string;
  /** When the job first found every engine busy (ms), while it waits for capacity. */
  busySince?: number;
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

export async function startWorker(deps: WorkerDeps): Promise<SchedulerWorker> {
  const { store, log } = deps;
  const running = new Map<string, AbortController>();
  let shuttingDown = false;

  const unsubscribe = await deps.subscriber.subscribe(keys.cancelChannel, (jobId) => {
    const ctl = running.get(jobId);
    if (ctl) {
      log.info({ jobId }, "cancelling running job");
      ctl.abort();
    }
  });

  async function processJob(bj: BullJob<JobData>, token?: string, bullSignal?: AbortSignal): Promise<void> {
    const jobId = bj.data.jobId;
    const rec = await store.load(jobId);
    if (!rec) {
      log.warn({ jobId }, "job record missing (expired?), dropping the queue entry");
      return;
    }
    if (isTerminal(rec.job.state)) return;
    const parent = contextFromCarrier(rec.trace);
    await inSpan("scheduler.run_job", parent, SpanKind.CONSUMER, (_span, ctx) => runJob(bj, rec, ctx, token, bullSignal), { "tda.job_id": jobId });
  }

  async function runJob(bj: BullJob<JobData>, rec: JobRecord, ctx: Context, token: string | undefined, bullSignal: AbortSignal | undefined): Promise<void> {
    const jobId = rec.job.jobId;
    const attempt = bj.attemptsMade + 1;
    const maxAttempts = bj.opts.attempts ?? 1;
    const ctl = new AbortController();
    bullSignal?.addEventListener("abort", () => ctl.abort(), { once: true });
    running.set(jobId, ctl);
    let engine: Engine | undefined;
    try {
      if (rec.cancelRequested) {
        await finishCancelled(jobId, ctx);
        return;
      }
      engine = deps.engines.acquire();
      const engineAddress = engine.address;
      const started = await store.apply(jobId, {
        from: [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING],
        mutate: (j) => {
          j.state = JobState.JOB_STATE_RUNNING;
          j.startedAt = nowTimestamp();
          j.attempts = attempt;
          j.engine = engineAddress;
          j.errorCode = "";
          j.errorMessage = "";
          j.progress = { stage: pbCommon.Stage.STAGE_LOADING, dimension: 0, columnsDone: 0, columnsTotal: 0, fraction: 0, bytesInUse: 0 };
        },
        eventType: "job.started",
        message: `attempt ${attempt} of ${maxAttempts} on ${engine.address}`,
        attempt,
        ctx,
        readCancel: true,
      });
      if (!started.ok) return; // cancelled (or gone) meanwhile
      // a cancel request that raced with the start: the flag is set before the
      // broadcast, and our controller was registered before this read
      if (started.cancelRequested) ctl.abort();

      const params = rec.job.params ?? pbCommon.ComputeParams.fromPartial({});
      const spec = specFor(rec.dataset, params, jobId);
      const deadline = Date.now() + rec.deadlineSeconds * 1000;
      const progress = progressReporter(bj, jobId, ctx);

      const est = !needsEstimate(spec)
        ? undefined
        : await estimate({ client: engine.client, spec, rpcTimeoutMs: deps.rpcTimeoutMs, ctx, signal: ctl.signal }).catch((err: unknown) => {
            // an engine without Estimate can still compute
            if (err instanceof JobFailureError && err.failure.errorCode === "UNIMPLEMENTED") return undefined;
            throw err;
          });
      if (est && !est.admissible) {
        throw new JobFailureError(
          failure(
            "MEMORY_LIMIT_EXCEEDED",
            `the computation needs about ${formatBytes(est.memoryBytes)}, more than the engine's limit of ${formatBytes(est.memoryLimitBytes)}`,
            false,
            "resource",
          ),
        );
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
      await finishCompleted(rec, result, ctx);
    } catch (err) {
      if (ctl.signal.aborted && (await store.isCancelRequested(jobId))) {
        await finishCancelled(jobId, ctx);
        return;
      }
      const f = err instanceof JobFailureError ? err.failure : fromEngineError(err);
      if (engine && f.errorCode === "ENGINE_UNAVAILABLE") deps.engines.markUnavailable(engine);
      if (engine && f.errorCode === "ENGINE_BUSY") deps.engines.markBusy(engine, 2000);
      if (ctl.signal.aborted && shuttingDown) {
        // our shutdown, not the user: back to the queue without using an attempt
        await store.apply(jobId, {
          from: [JobState.JOB_STATE_RUNNING],
          mutate: (j) => {
            j.state = JobState.JOB_STATE_QUEUED;
          },
          eventType: "job.queued",
          message: "the worker shut down during the computation; requeued",
          attempt,
          ctx,
        });
        await bj.moveToWait(token);
        throw new WaitingError();
      }
      if (ctl.signal.aborted && f.errorCode === "CANCELLED") f.retryable = true; // aborted by BullMQ, not the user
      // (no engine known at all, e.g. every engine pod is being replaced: the same wait)
      if ((f.errorCode === "ENGINE_BUSY" || f.errorCode === "NO_ENGINE_AVAILABLE") && token) {
        // no capacity is not the job's fault: wait for it without using attempts,
        // for as long as the job's deadline (then it fails as ENGINE_BUSY)
        const busySince = bj.data.busySince ?? Date.now();
        if (Date.now() - busySince < rec.deadlineSeconds * 1000) {
          await store.apply(jobId, {
            from: [JobState.JOB_STATE_RUNNING],
            mutate: (j) => {
              j.state = JobState.JOB_STATE_QUEUED;
            },
            eventType: "job.queued",
            message: "the engines are busy; waiting for capacity",
            attempt,
            ctx,
          });
          await bj.updateData({ ...bj.data, busySince });
          await bj.moveToDelayed(Date.now() + BUSY_DELAY_MS + Math.floor(Math.random() * BUSY_DELAY_MS), token);
          throw new DelayedError();
        }
      }
      log.warn({ jobId, attempt, errorCode: f.errorCode, retryable: f.retryable, cause: f.cause }, "job attempt failed");
      if (f.retryable && attempt < maxAttempts) {
        await store.apply(jobId, {
          from: [JobState.JOB_STATE_RUNNING],
          mutate: (j) => {
            j.state = JobState.JOB_STATE_QUEUED;
            j.errorCode = f.errorCode;
            j.errorMessage = f.message;
          },
          eventType: "job.queued",
          message: `attempt ${attempt} failed (${f.errorCode}); retrying`,
          attempt,
          ctx,
        });
        throw new Error(`${f.errorCode}: ${f.message}`);
      }
      await finishFailed(rec, f, attempt, ctx);
      throw new UnrecoverableError(`${f.errorCode}: ${f.message}`);
    } finally {
      running.delete(jobId);
      if (engine) deps.engines.release(engine);
    }
  }

  function progressReporter(bj: BullJob<JobData>, jobId: string, ctx: Context) {
    let last = 0;
    let latest: pbCommon.Progress | undefined;
    let inFlight: Promise<void> | undefined;
    const flush = (): void => {
      const p = latest;
      if (!p) return;
      latest = undefined;
      last = Date.now();
      inFlight = (async () => {
        await store.apply(jobId, {
          from: [JobState.JOB_STATE_RUNNING],
          mutate: (j) => {
            j.progress = p;
          },
          eventType: "job.progress",
          ctx,
        });
        await bj.updateProgress(Math.round(Math.min(1, Math.max(0, p.fraction)) * 100));
      })()
        .catch((err: unknown) => log.warn({ jobId, err }, "progress update failed"))
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

  async function finishCompleted(rec: JobRecord, result: pbCommon.PersistenceResult, ctx: Context): Promise<void> {
    const jobId = rec.job.jobId;
    const bytes = Buffer.from(pbCommon.PersistenceResult.encode(result).finish());
    await store.apply(jobId, {
      // the result (and its cache entry) before the state that points at it, same round trip
      before: (pipe) =>
        pipe
          .multi()
          .set(keys.result(jobId), bytes, "EX", deps.retentionSeconds)
          .set(keys.cache(rec.dataset.sha256, rec.paramsHash), jobId, "EX", deps.retentionSeconds)
          .exec(),
      requires: keys.result(jobId),
      from: [JobState.JOB_STATE_RUNNING],
      mutate: (j) => {
        j.state = JobState.JOB_STATE_COMPLETED;
        j.finishedAt = nowTimestamp();
        j.progress = {
          stage: pbCommon.Stage.STAGE_DONE,
          dimension: j.progress?.dimension ?? 0,
          columnsDone: j.progress?.columnsTotal ?? 0,
          columnsTotal: j.progress?.columnsTotal ?? 0,
          fraction: 1,
          bytesInUse: 0,
        };
        j.errorCode = "";
        j.errorMessage = "";
      },
      eventType: "job.completed",
      message: `betti numbers ${JSON.stringify(result.bettiNumbers)}`,
      ctx,
      alsoPublish: (job) => [resultSummaryEvent(job, result)],
    });
  }

  async function finishFailed(rec: JobRecord, f: JobFailure, attempt: number, ctx: Context): Promise<void> {
    await store.apply(rec.job.jobId, {
      from: [JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_QUEUED],
      mutate: (j) => {
        j.state = JobState.JOB_STATE_FAILED;
        j.finishedAt = nowTimestamp();
        j.errorCode = f.errorCode;
        j.errorMessage = f.message;
      },
      eventType: "job.failed",
      message: f.message,
      attempt,
      ctx,
      alsoPublish: () => [errorEvent(rec.job.jobId, f)],
    });
  }

  async function finishCancelled(jobId: string, ctx: Context): Promise<void> {
    await store.apply(jobId, {
      from: [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING],
      mutate: (j) => {
        j.state = JobState.JOB_STATE_CANCELLED;
        j.finishedAt = nowTimestamp();
      },
      eventType: "job.cancelled",
      message: "cancelled by request",
      ctx,
    });
  }

  const worker = new Worker<JobData>(deps.queueName, processJob, {
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
    if (!bj) return;
    void (async () => {
      const rec = await store.load(bj.data.jobId);
      if (!rec || rec.job.state !== JobState.JOB_STATE_RUNNING || !(await bj.isFailed())) return;
      await finishFailed(
        rec,
        failure("WORKER_LOST", "the worker running the job stopped", false, "system", err),
        bj.attemptsMade,
        contextFromCarrier(rec.trace),
      );
    })().catch((e: unknown) => log.warn({ err: e }, "failed-job bookkeeping failed"));
  });
  await worker.waitUntilReady();

  return {
    worker,
    running: () => [...running.keys()],
    async close(graceMs) {
      // let running jobs finish within the grace period; then stop their engine
      // calls so they go back to the queue (retried by this or another worker)
      const abortTimer = setTimeout(() => {
        if (running.size === 0) return;
        log.warn({ running: [...running.keys()] }, "shutdown grace period over: handing running jobs back to the queue");
        shuttingDown = true;
        for (const ctl of running.values()) ctl.abort();
      }, graceMs);
      const forceTimer = setTimeout(() => void worker.close(true), graceMs + 5000);
      try {
        await worker.close();
      } finally {
        clearTimeout(abortTimer);
        clearTimeout(forceTimer);
        await unsubscribe();
      }
    },
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}
