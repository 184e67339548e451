import { UnrecoverableError, Worker, type Job as BullJob } from "bullmq";
import { contextFromCarrier, inSpan, nowTimestamp, pbCommon, pbJobs, SpanKind, type EventBus, type Logger, type Redis } from "@tda/common";
import type { Context } from "@opentelemetry/api";
import { compute, estimate, JobFailureError, specFor } from "./engine-call";
import type { EnginePool } from "./engine-pool";
import { failure, fromEngineError, type JobFailure } from "./failure";
import { isTerminal, type JobRecord, type JobStore } from "./job-store";
import { keys } from "./keys";
import type { Subscriber } from "./subscriber";
import type { UploadClient } from "./upload-client";
import { publishError, publishResultSummary } from "./outcome-events";

const { JobState } = pbJobs;

// The BullMQ worker: runs one job on one engine per attempt. The engine does
// the computing; this process only pipes bytes and records what happens, so
// its event loop stays free for lock renewal and progress.

export interface JobData {
  jobId: string;
}

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
  subscriber: Subscriber;
  log: Logger;
  retentionSeconds: number;
  progressIntervalMs: number;
  rpcTimeoutMs: number;
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

  const unsubscribe = await deps.subscriber.subscribe(keys.cancelChannel, (jobId) => {
    const ctl = running.get(jobId);
    if (ctl) {
      log.info({ jobId }, "cancelling running job");
      ctl.abort();
    }
  });

  async function processJob(bj: BullJob<JobData>, _token?: string, bullSignal?: AbortSignal): Promise<void> {
    const jobId = bj.data.jobId;
    const rec = await store.load(jobId);
    if (!rec) {
      log.warn({ jobId }, "job record missing (expired?), dropping the queue entry");
      return;
    }
    if (isTerminal(rec.job.state)) return;
    const parent = contextFromCarrier(rec.trace);
    await inSpan("scheduler.run_job", parent, SpanKind.CONSUMER, (span, ctx) => runJob(bj, rec, ctx, bullSignal), { "tda.job_id": jobId });
  }

  async function runJob(bj: BullJob<JobData>, rec: JobRecord, ctx: Context, bullSignal: AbortSignal | undefined): Promise<void> {
    const jobId = rec.job.jobId;
    const attempt = bj.attemptsMade + 1;
    const maxAttempts = bj.opts.attempts ?? 1;
    const ctl = new AbortController();
    bullSignal?.addEventListener("abort", () => ctl.abort(), { once: true });
    running.set(jobId, ctl);
    const engine = deps.engines.acquire();
    try {
      if (rec.cancelRequested) {
        await finishCancelled(jobId, ctx);
        return;
      }
      const started = await store.apply(jobId, {
        from: [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING],
        mutate: (j) => {
          j.state = JobState.JOB_STATE_RUNNING;
          j.startedAt = nowTimestamp();
          j.attempts = attempt;
          j.engine = engine.address;
          j.errorCode = "";
          j.errorMessage = "";
          j.progress = { stage: pbCommon.Stage.STAGE_LOADING, dimension: 0, columnsDone: 0, columnsTotal: 0, fraction: 0, bytesInUse: 0 };
        },
        eventType: "job.started",
        message: `attempt ${attempt} of ${maxAttempts} on ${engine.address}`,
        attempt,
        ctx,
      });
      if (!started.ok) return; // cancelled (or gone) meanwhile
      // a cancel request that raced with the start: the flag is set before the
      // broadcast, and our controller was registered before this read
      if (await store.isCancelRequested(jobId)) ctl.abort();

      const params = rec.job.params ?? pbCommon.ComputeParams.fromPartial({});
      const spec = specFor(rec.dataset, params, jobId);
      const deadline = Date.now() + rec.deadlineSeconds * 1000;
      const progress = progressReporter(bj, jobId, ctx);

      const est = await estimate({ client: engine.client, spec, rpcTimeoutMs: deps.rpcTimeoutMs, ctx, signal: ctl.signal }).catch((err: unknown) => {
        // an engine without Estimate can still compute
        if (err instanceof JobFailureError && err.failure.errorCode === "UNIMPLEMENTED") return undefined;
        throw err;
      });
      if (est && !est.admissible) {
        throw new JobFailureError(
          failure("MEMORY_LIMIT_EXCEEDED", `the computation needs about ${formatBytes(est.memoryBytes)}, more than the engine's limit of ${formatBytes(est.memoryLimitBytes)}`, false, "resource"),
        );
      }
      const result = await compute({
        client: engine.client,
        spec,
        openPoints: () => deps.upload.readPoints(rec.job.owner, rec.job.datasetId, ctx, deadline),
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
      if (f.errorCode === "ENGINE_UNAVAILABLE") deps.engines.markUnavailable(engine);
      if (f.errorCode === "ENGINE_BUSY") deps.engines.markBusy(engine, 2000);
      if (ctl.signal.aborted && f.errorCode === "CANCELLED") {
        // aborted by BullMQ / shutdown, not by the user: let the queue run it again
        Object.assign(f, { retryable: true });
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
      deps.engines.release(engine);
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
    await deps.redis
      .multi()
      .set(keys.result(jobId), bytes, "EX", deps.retentionSeconds)
      .set(keys.cache(rec.dataset.sha256, rec.paramsHash), jobId, "EX", deps.retentionSeconds)
      .exec();
    const done = await store.apply(jobId, {
      from: [JobState.JOB_STATE_RUNNING],
      mutate: (j) => {
        j.state = JobState.JOB_STATE_COMPLETED;
        j.finishedAt = nowTimestamp();
        j.progress = { stage: pbCommon.Stage.STAGE_DONE, dimension: j.progress?.dimension ?? 0, columnsDone: j.progress?.columnsTotal ?? 0, columnsTotal: j.progress?.columnsTotal ?? 0, fraction: 1, bytesInUse: 0 };
        j.errorCode = "";
        j.errorMessage = "";
      },
      eventType: "job.completed",
      message: `betti numbers ${JSON.stringify(result.bettiNumbers)}`,
      ctx,
    });
    if (done.ok) await publishResultSummary(deps.events, done.job, result, ctx);
  }

  async function finishFailed(rec: JobRecord, f: JobFailure, attempt: number, ctx: Context): Promise<void> {
    const res = await store.apply(rec.job.jobId, {
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
    });
    if (res.ok) await publishError(deps.events, rec.job.jobId, f, ctx);
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
    lockDuration: 30_000,
    maxStalledCount: 2,
  });
  worker.on("error", (err) => log.warn({ err: err.message }, "worker error"));
  // a job that BullMQ failed without our processor deciding (stalled too often)
  worker.on("failed", (bj, err) => {
    if (!bj) return;
    void (async () => {
      const rec = await store.load(bj.data.jobId);
      if (!rec || rec.job.state !== JobState.JOB_STATE_RUNNING || !(await bj.isFailed())) return;
      await finishFailed(rec, failure("WORKER_LOST", "the worker running the job stopped", false, "system", err), bj.attemptsMade, contextFromCarrier(rec.trace));
    })().catch((e: unknown) => log.warn({ err: e }, "failed-job bookkeeping failed"));
  });
  await worker.waitUntilReady();

  return {
    worker,
    running: () => [...running.keys()],
    async close(graceMs) {
      await unsubscribe();
      const t = setTimeout(() => {
        log.warn({ running: [...running.keys()] }, "worker grace period over: abandoning running jobs to stalled-job recovery");
        void worker.close(true);
      }, graceMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(t);
      }
    },
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}
