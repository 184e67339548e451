import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { channelOptions, createLogger, decodeDetails, insecure, pbCommon, pbJobs, pbUpload } from "@tda/common";
import { loadConfig, paramsHash, startSchedulerServer, type SchedulerServer } from "../src";
import { keys } from "../src/keys";
import { startUploadForTest, type UploadForTest } from "./upload-harness";
import {
  call,
  freePort,
  jobsApi,
  noisyCircle,
  randomCloud,
  REDIS_URL,
  REPO,
  startEngine,
  uploadBytes,
  uploadPoints,
  waitFor,
  type EngineProcess,
} from "./helpers";

// Integration: real Redis, the real upload service (in-process), real engine
// processes, the scheduler started from its config.

const { JobState } = pbJobs;
const RIPS = pbCommon.Algorithm.ALGORITHM_RIPS;
const log = createLogger("scheduler-test", process.env.TEST_LOG_LEVEL ?? "silent");

let dataDir: string;
let upload: UploadForTest;
let engine: EngineProcess;
let sched: SchedulerServer;
let idle: SchedulerServer; // same API, no worker: its jobs stay queued
let client: pbJobs.JobServiceClient;
let idleClient: pbJobs.JobServiceClient;

function schedulerEnv(extra: Record<string, string>): Record<string, string> {
  return {
    REDIS_URL,
    SCHEDULER_PORT: "0",
    SCHEDULER_BACKOFF_MS: "100",
    SCHEDULER_PROGRESS_INTERVAL_MS: "100",
    SCHEDULER_SHUTDOWN_GRACE_MS: "2000",
    JOB_RETENTION_SECONDS: "3600",
    UPLOAD_ADDRESS: upload.address,
    ...extra,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sched-test-"));
  upload = await startUploadForTest(dataDir, REDIS_URL);
  // the big test jobs (600 points in R^4 up to H3) are estimated at ~13 GB and only run for
  // seconds (cancelled / past their deadline): admit them whatever memory the machine has free
  engine = await startEngine(["--memory-limit", "64G"]);
  const run = randomUUID().slice(0, 8);
  sched = await startSchedulerServer(loadConfig(schedulerEnv({ ENGINE_ADDRESSES: engine.address, SCHEDULER_QUEUE_NAME: `test-${run}` })), log);
  idle = await startSchedulerServer(
    loadConfig(schedulerEnv({ SCHEDULER_WORKER: "false", ENGINE_ADDRESSES: "", SCHEDULER_QUEUE_NAME: `test-idle-${run}` })),
    log,
  );
  client = new pbJobs.JobServiceClient(sched.address, insecure(), channelOptions);
  idleClient = new pbJobs.JobServiceClient(idle.address, insecure(), channelOptions);
}, 60_000);

afterAll(async () => {
  client?.close();
  idleClient?.close();
  await idle?.queue.obliterate({ force: true }).catch(() => undefined);
  await sched?.queue.obliterate({ force: true }).catch(() => undefined);
  await idle?.close();
  await sched?.close();
  if (process.env.SHOW_ENGINE_LOG) console.log(engine?.stderr());
  await engine?.stop();
  await upload?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const tenant = () => `t-${randomUUID().slice(0, 8)}`;

function expectGrpcError(err: unknown, code: status): ServiceError {
  expect((err as ServiceError).code).toBe(code);
  return err as ServiceError;
}

describe("computing a job", () => {
  it("runs a Rips job on the engine to COMPLETED, with a result and an ordered update log", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, noisyCircle(60));
    const api = jobsApi(client, t);
    const submitted = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
    expect(submitted.jobId).toMatch(/^job_[0-9a-f]{32}$/);
    expect(submitted.state).toBe(JobState.JOB_STATE_QUEUED);
    expect(submitted.owner).toBe(t);

    const updates = await api.watch(submitted.jobId);
    const types = updates.map((u) => u.eventType);
    expect(types[0]).toBe("job.submitted");
    expect(types[1]).toBe("job.queued");
    expect(types[2]).toBe("job.started");
    expect(types[types.length - 1]).toBe("job.completed");
    expect(types.slice(3, -1).every((x) => x === "job.progress")).toBe(true);
    expect(updates.map((u) => u.sequence)).toEqual(updates.map((_, i) => i + 1));

    const job = await api.get(submitted.jobId);
    expect(job.state).toBe(JobState.JOB_STATE_COMPLETED);
    expect(job.engine).toBe(engine.address);
    expect(job.attempts).toBe(1);
    expect(job.cacheHit).toBe(false);
    expect(job.startedAt).toBeDefined();
    expect(job.finishedAt).toBeDefined();

    const res = await api.result(submitted.jobId);
    expect(res.cacheHit).toBe(false);
    const r = res.result!;
    expect(r.bettiNumbers[0]).toBe(1);
    const h1 = r.diagrams.find((d) => d.dimension === 1)!;
    // the circle: one H1 bar far longer than every other
    const lengths = h1.intervals.map((i) => i.death - i.birth).sort((a, b) => b - a);
    expect(lengths[0]).toBeGreaterThan(0.5);
    expect(lengths[1] ?? 0).toBeLessThan(0.2);
    const h0 = r.diagrams.find((d) => d.dimension === 0)!;
    expect(h0.intervals.filter((i) => i.death === Infinity)).toHaveLength(1);

    // stored in Redis with retention
    expect(await sched.redis.ttl(keys.result(submitted.jobId))).toBeGreaterThan(0);
    expect(await sched.redis.ttl(keys.job(submitted.jobId))).toBeGreaterThan(0);
  });

  it("answers an identical job from the cache at once, without the engine", async () => {
    const t = tenant();
    const points = noisyCircle(40);
    const ds = await uploadPoints(upload.address, t, points);
    const api = jobsApi(client, t);
    const params = { algorithm: RIPS, maxDim: 1, threshold: 2 };
    const first = await api.submit({ datasetId: ds.datasetId, params });
    await api.watch(first.jobId);
    const firstResult = await api.result(first.jobId);

    // the same content uploaded by another tenant, the same result-changing params (threads differ)
    const t2 = tenant();
    const ds2 = await uploadPoints(upload.address, t2, points);
    expect(ds2.sha256).toBe(ds.sha256);
    const api2 = jobsApi(client, t2);
    const dispatched = sched.engines!.engines()[0]!.dispatched;
    const second = await api2.submit({ datasetId: ds2.datasetId, params: { ...params, threads: 1 } });
    expect(second.jobId).not.toBe(first.jobId);
    expect(second.owner).toBe(t2);
    expect(second.state).toBe(JobState.JOB_STATE_COMPLETED);
    expect(second.cacheHit).toBe(true);
    expect(second.engine).toBe("");
    expect(second.attempts).toBe(0);
    expect(sched.engines!.engines()[0]!.dispatched).toBe(dispatched);
    const updates = await api2.watch(second.jobId);
    expect(updates.map((u) => u.eventType)).toEqual(["job.submitted", "job.completed"]);
    const res = await api2.result(second.jobId);
    expect(res.cacheHit).toBe(true);
    expect(res.result).toEqual(firstResult.result);

    // a parameter that changes the result misses the cache
    const third = await api.submit({ datasetId: ds.datasetId, params: { ...params, threshold: 1.5 } });
    expect(third.state).toBe(JobState.JOB_STATE_QUEUED);
    expect(third.cacheHit).toBe(false);
    await api.watch(third.jobId);
    expect((await api.get(third.jobId)).state).toBe(JobState.JOB_STATE_COMPLETED);
  });

  it("computes a distance matrix, with the coefficient field taken into account", async () => {
    const t = tenant();
    const file = readFileSync(join(REPO, "test", "fixtures", "projective_plane.lower_distance_matrix"));
    const ds = await uploadBytes(upload.address, t, file, pbUpload.DataFormat.DATA_FORMAT_LOWER_DISTANCE_MATRIX);
    expect(ds.kind).toBe(pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX);
    const api = jobsApi(client, t);
    const bars = async (modulus: number) => {
      const params = pbCommon.ComputeParams.fromPartial({ algorithm: RIPS, maxDim: 2, modulus });
      // the fixture's content is the same on every run: make sure the engine computes it
      await sched.redis.del(keys.cache(ds.datasetId, paramsHash(params)));
      const job = await api.submit({ datasetId: ds.datasetId, params });
      expect(job.cacheHit).toBe(false);
      await api.watch(job.jobId);
      expect((await api.get(job.jobId)).engine).toBe(engine.address);
      const r = (await api.result(job.jobId)).result!;
      return [0, 1, 2].map((d) => r.diagrams.find((x) => x.dimension === d)?.intervals.map((i) => [i.birth, i.death]) ?? []);
    };
    // Ripser's projective plane: H1 and H2 bars over Z/2, none over Z/3
    const z2 = await bars(2);
    expect(z2[0]).toHaveLength(13);
    expect(z2[1]).toEqual([[1, 2]]);
    expect(z2[2]).toEqual([[1, 2]]);
    const z3 = await bars(3);
    expect(z3[0]).toHaveLength(13);
    expect(z3[1]).toEqual([]);
    expect(z3[2]).toEqual([]);
  });

  it("replays the whole update log to a late watcher and ends", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, noisyCircle(30));
    const api = jobsApi(client, t);
    const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
    const live = await api.watch(job.jobId);
    const replay = await api.watch(job.jobId);
    expect(replay).toEqual(live);
    expect(replay[replay.length - 1]!.state).toBe(JobState.JOB_STATE_COMPLETED);
  });
});

describe("submit rules", () => {
  it("returns the first job for a repeated idempotency key, per tenant", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, randomCloud(20, 3));
    const api = jobsApi(idleClient, t);
    const req = { datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 }, idempotencyKey: "order-42" };
    const [a, b] = await Promise.all([api.submit(req), api.submit(req)]);
    expect(b.jobId).toBe(a.jobId);
    const c = await api.submit({ ...req, params: { algorithm: RIPS, maxDim: 2 } });
    expect(c.jobId).toBe(a.jobId);
    const d = await api.submit({ ...req, idempotencyKey: "order-43" });
    expect(d.jobId).not.toBe(a.jobId);
    const listed = await api.list({});
    expect(listed.jobs.map((j) => j.jobId).sort()).toEqual([a.jobId, d.jobId].sort());
  });

  it("rejects bad params with INVALID_ARGUMENT and field violations, creating nothing", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, randomCloud(10, 2));
    const api = jobsApi(idleClient, t);
    const err = await api
      .submit({ datasetId: ds.datasetId, params: { algorithm: pbCommon.Algorithm.ALGORITHM_UNSPECIFIED, maxDim: 99, threshold: -1, modulus: 4 } })
      .catch((e: unknown) => e);
    const se = expectGrpcError(err, status.INVALID_ARGUMENT);
    const fields = decodeDetails(se)
      .badRequest!.fieldViolations.map((v) => v.field)
      .sort();
    expect(fields).toEqual(["params.algorithm", "params.max_dim", "params.modulus", "params.threshold"]);

    const nan = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1, threshold: Number.NaN } }).catch((e: unknown) => e);
    expect(decodeDetails(expectGrpcError(nan, status.INVALID_ARGUMENT)).badRequest!.fieldViolations[0]!.field).toBe("params.threshold");

    const missing = await api.submit({ datasetId: "ds_does_not_exist", params: { algorithm: RIPS, maxDim: 1 } }).catch((e: unknown) => e);
    expect(expectGrpcError(missing, status.NOT_FOUND).details).toMatch(/ds_does_not_exist/);

    expect((await api.list({})).jobs).toEqual([]);
  });

  it("checks params and dataset sizes against the limits the engines publish (GetInfo), not only its own", async () => {
    const t = tenant();
    const api = jobsApi(client, t);
    // the scheduler's own bounds (max_dim 16, primes up to 65521) are wider than the engine's
    const limits = await call<pbJobs.GetLimitsRequest, pbJobs.GetLimitsResponse>(client.getLimits.bind(client), {}, t);
    expect([limits.maxDim, limits.maxModulus]).toEqual([8, 251]);
    const ds = await uploadPoints(upload.address, t, randomCloud(10, 2));
    for (const [params, field] of [
      [{ algorithm: RIPS, maxDim: 9 }, "params.max_dim"],
      [{ algorithm: RIPS, maxDim: 1, modulus: 257 }, "params.modulus"],
      [{ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, maxDim: 1 }, undefined],
    ] as const) {
      const res = await api.submit({ datasetId: ds.datasetId, params }).catch((e: unknown) => e);
      if (field === undefined) expect((res as pbJobs.Job).jobId).toMatch(/^job_/);
      else expect(decodeDetails(expectGrpcError(res, status.INVALID_ARGUMENT)).badRequest!.fieldViolations.map((v) => v.field)).toEqual([field]);
    }
    // points in R^4: the engines' Alpha complex takes dimension 2 or 3 only, refused at submit rather than failed on the engine
    const ds4 = await uploadPoints(upload.address, t, randomCloud(10, 4));
    const alpha4 = await api
      .submit({ datasetId: ds4.datasetId, params: { algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, maxDim: 1 } })
      .catch((e: unknown) => e);
    const v = decodeDetails(expectGrpcError(alpha4, status.INVALID_ARGUMENT)).badRequest!.fieldViolations;
    expect(v.map((x) => [x.field, /dimension 2, 3/.test(x.description)])).toEqual([["dataset_id", true]]);
  });

  it("does not show a job to another tenant", async () => {
    const owner = tenant();
    const ds = await uploadPoints(upload.address, owner, randomCloud(10, 2));
    const job = await jobsApi(idleClient, owner).submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
    const other = jobsApi(idleClient, tenant());
    for (const op of [
      () => other.get(job.jobId),
      () => other.result(job.jobId),
      () => other.cancel(job.jobId),
      () => other.watch(job.jobId),
      () => other.get("job_unknown"),
    ]) {
      expectGrpcError(
        await op().then(
          () => undefined,
          (e: unknown) => e,
        ),
        status.NOT_FOUND,
      );
    }
    // a dataset of another tenant is not found either
    const steal = await other.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } }).catch((e: unknown) => e);
    expectGrpcError(steal, status.NOT_FOUND);
    expect((await other.list({})).jobs).toEqual([]);
  });

  it("reads the dataset's record at submit: a deleted dataset is not found by the next submit", async () => {
    const owner = tenant();
    const ds = await uploadPoints(upload.address, owner, randomCloud(12, 2));
    const api = jobsApi(idleClient, owner);
    const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
    expect(job.datasetId).toBe(ds.datasetId);
    const uc = new pbUpload.UploadServiceClient(upload.address, insecure(), channelOptions);
    try {
      await call<pbUpload.DeleteDatasetRequest, pbUpload.DeleteDatasetResponse>(uc.deleteDataset.bind(uc), { datasetId: ds.datasetId }, owner);
    } finally {
      uc.close();
    }
    const gone = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1, threshold: 0.5 } }).catch((e: unknown) => e);
    expect(expectGrpcError(gone, status.NOT_FOUND).details).toContain(ds.datasetId);
  });

  it("limits a tenant's queued or running jobs inside its submit (TOO_MANY_ACTIVE_JOBS with a retry hint); a finished job frees its place", async () => {
    // no worker: submitted jobs stay queued
    const limited = await startSchedulerServer(
      loadConfig(
        schedulerEnv({
          SCHEDULER_WORKER: "false",
          ENGINE_ADDRESSES: "",
          SCHEDULER_QUEUE_NAME: `test-limit-${randomUUID().slice(0, 8)}`,
          SCHEDULER_MAX_ACTIVE_JOBS: "2",
          SCHEDULER_ACTIVE_JOBS_RETRY_MS: "3000",
        }),
      ),
      log,
    );
    const lc = new pbJobs.JobServiceClient(limited.address, insecure(), channelOptions);
    try {
      const owner = tenant();
      const ds = await uploadPoints(upload.address, owner, randomCloud(12, 2));
      const api = jobsApi(lc, owner);
      // two submits at once race for the places: both fit
      const [a, b] = await Promise.all(
        [0.5, 0.6].map((threshold) => api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1, threshold } })),
      );
      const refused = expectGrpcError(
        await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1, threshold: 0.7 } }).catch((e: unknown) => e),
        status.RESOURCE_EXHAUSTED,
      );
      const d = decodeDetails(refused);
      expect(d.errorInfo?.reason).toBe("TOO_MANY_ACTIVE_JOBS");
      expect(d.errorInfo?.metadata).toEqual({ limit: "2", active: "2" });
      expect(Number(d.retryInfo?.retryDelay?.seconds)).toBe(3);
      // another tenant is not affected
      const other = tenant();
      const ods = await uploadPoints(upload.address, other, randomCloud(12, 2));
      await jobsApi(lc, other).submit({ datasetId: ods.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
      // a cancelled (finished) job frees its place
      expect((await api.cancel(a!.jobId)).state).toBe(JobState.JOB_STATE_CANCELLED);
      await waitFor(
        "the cancelled job to leave the active set",
        async () => ((await limited.redis.zscore(keys.activeJobs(owner), a!.jobId)) === null ? true : undefined),
        5_000,
      );
      const c = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1, threshold: 0.8 } });
      expect(c.state).toBe(JobState.JOB_STATE_QUEUED);
      expect(b!.state).toBe(JobState.JOB_STATE_QUEUED);
    } finally {
      lc.close();
      await limited.queue.obliterate({ force: true }).catch(() => undefined);
      await limited.close();
    }
  });
});

describe("cancel and listing", () => {
  it("cancels a queued job: removed from the queue, CANCELLED, no result", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, randomCloud(10, 2));
    const api = jobsApi(idleClient, t);
    const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
    expect(await idle.queue.getJob(job.jobId)).toBeDefined();
    const res = await api.get(job.jobId);
    expect(res.state).toBe(JobState.JOB_STATE_QUEUED);

    const cancelled = await api.cancel(job.jobId);
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect(await idle.queue.getJob(job.jobId)).toBeUndefined();
    // idempotent
    expect((await api.cancel(job.jobId)).state).toBe(JobState.JOB_STATE_CANCELLED);
    const updates = await api.watch(job.jobId);
    expect(updates.map((u) => u.eventType)).toEqual(["job.submitted", "job.queued", "job.cancelled"]);
    const err = await api.result(job.jobId).catch((e: unknown) => e);
    expect(expectGrpcError(err, status.FAILED_PRECONDITION).details).toBe(`job "${job.jobId}" is not completed`);
  });

  it("pages through ListJobs newest first and filters by state", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, randomCloud(10, 2));
    const api = jobsApi(idleClient, t);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } })).jobId);
    await api.cancel(ids[1]!);
    await api.cancel(ids[3]!);

    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await api.list({ pageSize: 2, pageToken: token });
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((j) => j.jobId));
      token = page.nextPageToken;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual([...ids].reverse());

    const cancelled = await api.list({ state: JobState.JOB_STATE_CANCELLED });
    expect(cancelled.jobs.map((j) => j.jobId)).toEqual([ids[3], ids[1]]);
    const bad = await api.list({ pageToken: "garbage!" }).catch((e: unknown) => e);
    expectGrpcError(bad, status.INVALID_ARGUMENT);
  });

  it("cancels a running job: the engine call stops, state CANCELLED", async () => {
    const t = tenant();
    // large enough that H2 on 600 random 4-D points takes seconds
    const ds = await uploadPoints(upload.address, t, randomCloud(600, 4));
    const api = jobsApi(client, t);
    const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 3 } });
    // wait until the engine computes (input fully streamed), then cancel
    await waitFor("the engine to compute", async () => {
      const j = await api.get(job.jobId);
      return j.state === JobState.JOB_STATE_RUNNING && (j.progress?.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES ? true : undefined;
    });
    const cancelled = await api.cancel(job.jobId);
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);
    const updates = await api.watch(job.jobId);
    expect(updates[updates.length - 1]!.eventType).toBe("job.cancelled");
    // the worker let go of it and the engine stopped computing it
    await waitFor("worker to let go", async () => (sched.worker!.running().includes(job.jobId) ? undefined : true));
    await waitFor("engine to stop", async () => (new RegExp(`job ${job.jobId} cancelled`).test(engine.stderr()) ? true : undefined), 10_000);
  });
});

describe("shutdown", () => {
  it("hands a running job back to the queue when the grace period ends, without using an attempt", async () => {
    const queueName = `test-shutdown-${randomUUID().slice(0, 8)}`;
    const a = await startSchedulerServer(
      loadConfig(schedulerEnv({ ENGINE_ADDRESSES: engine.address, SCHEDULER_QUEUE_NAME: queueName, SCHEDULER_SHUTDOWN_GRACE_MS: "300" })),
      log,
    );
    const b = await startSchedulerServer(loadConfig(schedulerEnv({ SCHEDULER_WORKER: "false", ENGINE_ADDRESSES: "", SCHEDULER_QUEUE_NAME: queueName })), log);
    const ca = new pbJobs.JobServiceClient(a.address, insecure(), channelOptions);
    const cb = new pbJobs.JobServiceClient(b.address, insecure(), channelOptions);
    try {
      const t = tenant();
      const ds = await uploadPoints(upload.address, t, randomCloud(600, 4));
      const job = await jobsApi(ca, t).submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 3 } });
      const api = jobsApi(cb, t);
      await waitFor("the engine to compute", async () => {
        const j = await api.get(job.jobId);
        return j.state === JobState.JOB_STATE_RUNNING && (j.progress?.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES ? true : undefined;
      });
      await a.close();
      const requeued = await api.get(job.jobId);
      expect(requeued.state).toBe(JobState.JOB_STATE_QUEUED);
      const bull = await b.queue.getJob(job.jobId);
      expect(bull!.attemptsMade).toBe(0);
      expect(["waiting", "prioritized"]).toContain(await bull!.getState());
      // and it is still an ordinary queued job
      expect((await api.cancel(job.jobId)).state).toBe(JobState.JOB_STATE_CANCELLED);
      const types = (await api.watch(job.jobId)).map((u) => u.eventType).filter((x) => x !== "job.progress");
      expect(types).toEqual(["job.submitted", "job.queued", "job.started", "job.queued", "job.cancelled"]);
    } finally {
      ca.close();
      cb.close();
      await b.queue.obliterate({ force: true }).catch(() => undefined);
      await a.close();
      await b.close();
    }
  });
});

describe("failures", () => {
  it("fails a job past its deadline with DEADLINE_EXCEEDED, without retrying", async () => {
    const t = tenant();
    const ds = await uploadPoints(upload.address, t, randomCloud(600, 4));
    const api = jobsApi(client, t);
    const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 3 }, deadlineSeconds: 1 });
    const updates = await api.watch(job.jobId);
    expect(updates.map((u) => u.eventType).filter((x) => x !== "job.progress")).toEqual(["job.submitted", "job.queued", "job.started", "job.failed"]);
    const failed = await api.get(job.jobId);
    expect(failed).toMatchObject({ state: JobState.JOB_STATE_FAILED, errorCode: "DEADLINE_EXCEEDED", attempts: 1 });
    expect(await api.result(job.jobId).catch((e: unknown) => (e as ServiceError).code)).toBe(status.FAILED_PRECONDITION);
  });

  it("fails a job over the engine's memory limit with MEMORY_LIMIT_EXCEEDED before computing, without retrying", async () => {
    const small = await startEngine(["--memory-limit", "8M"]);
    const limited = await startSchedulerServer(
      loadConfig(schedulerEnv({ ENGINE_ADDRESSES: small.address, SCHEDULER_QUEUE_NAME: `test-small-${randomUUID().slice(0, 8)}` })),
      log,
    );
    const c = new pbJobs.JobServiceClient(limited.address, insecure(), channelOptions);
    try {
      const t = tenant();
      const ds = await uploadPoints(upload.address, t, randomCloud(600, 4));
      const api = jobsApi(c, t);
      const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 3 } });
      const updates = await api.watch(job.jobId);
      expect(updates.map((u) => u.eventType)).toEqual(["job.submitted", "job.queued", "job.started", "job.failed"]);
      const failed = await api.get(job.jobId);
      expect(failed).toMatchObject({ state: JobState.JOB_STATE_FAILED, errorCode: "MEMORY_LIMIT_EXCEEDED", attempts: 1 });
      expect(failed.errorMessage).toMatch(/limit/);
      // refused at Estimate: the engine never accepted a computation
      expect(small.stderr()).not.toMatch(new RegExp(`job ${job.jobId} accepted`));
    } finally {
      c.close();
      await limited.queue.obliterate({ force: true }).catch(() => undefined);
      await limited.close();
      await small.stop();
    }
  });

  it("fails over from a dead engine to a live one", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const mixed = await startSchedulerServer(
      loadConfig(schedulerEnv({ ENGINE_ADDRESSES: `${dead},${engine.address}`, SCHEDULER_QUEUE_NAME: `test-mixed-${randomUUID().slice(0, 8)}` })),
      log,
    );
    const c = new pbJobs.JobServiceClient(mixed.address, insecure(), channelOptions);
    try {
      const t = tenant();
      const api = jobsApi(c, t);
      const jobs = await Promise.all(
        [0, 1, 2, 3].map(async () =>
          api.submit({ datasetId: (await uploadPoints(upload.address, t, randomCloud(30, 2))).datasetId, params: { algorithm: RIPS, maxDim: 1 } }),
        ),
      );
      for (const j of jobs) {
        await api.watch(j.jobId);
        expect(await api.get(j.jobId)).toMatchObject({ state: JobState.JOB_STATE_COMPLETED, engine: engine.address });
      }
      expect(mixed.engines!.engines().find((e) => e.address === dead)!.healthy).toBe(false);
    } finally {
      c.close();
      await mixed.queue.obliterate({ force: true }).catch(() => undefined);
      await mixed.close();
    }
  });

  it("waits for a busy engine without using attempts", async () => {
    const single = await startEngine(["--max-concurrent", "1", "--queue-depth", "0", "--memory-limit", "64G"]);
    const s = await startSchedulerServer(
      loadConfig(schedulerEnv({ ENGINE_ADDRESSES: single.address, SCHEDULER_QUEUE_NAME: `test-busy-${randomUUID().slice(0, 8)}` })),
      log,
    );
    const c = new pbJobs.JobServiceClient(s.address, insecure(), channelOptions);
    try {
      const t = tenant();
      const api = jobsApi(c, t);
      const big = await api.submit({
        datasetId: (await uploadPoints(upload.address, t, randomCloud(600, 4))).datasetId,
        params: { algorithm: RIPS, maxDim: 3 },
      });
      await waitFor("the big job to compute", async () => ((await api.get(big.jobId)).state === JobState.JOB_STATE_RUNNING ? true : undefined));
      const small = await api.submit({ datasetId: (await uploadPoints(upload.address, t, noisyCircle(20))).datasetId, params: { algorithm: RIPS, maxDim: 1 } });
      // told "busy" three times (all its attempts, were they counted), then capacity frees up
      await waitFor("the small job to wait", async () => {
        const u = await s.store.updates(small.jobId);
        return u.filter((x) => /busy/.test(x.message)).length >= 3 ? true : undefined;
      });
      expect((await api.get(small.jobId)).state).not.toBe(JobState.JOB_STATE_FAILED);
      await api.cancel(big.jobId);
      await api.watch(small.jobId);
      expect(await api.get(small.jobId)).toMatchObject({ state: JobState.JOB_STATE_COMPLETED, attempts: 1 });
    } finally {
      c.close();
      await s.queue.obliterate({ force: true }).catch(() => undefined);
      await s.close();
      await single.stop();
    }
  });

  it("never hands a job back to the engine that died running it: with no other engine it waits (no attempts used), even once that engine is back", async () => {
    const first = await startEngine(["--memory-limit", "64G"]);
    const port = Number(first.address.split(":")[1]);
    const s = await startSchedulerServer(
      loadConfig(
        schedulerEnv({
          ENGINE_ADDRESSES: first.address,
          SCHEDULER_ENGINE_PROBE_MS: "200",
          SCHEDULER_QUEUE_NAME: `test-crash-${randomUUID().slice(0, 8)}`,
        }),
      ),
      log,
    );
    const c = new pbJobs.JobServiceClient(s.address, insecure(), channelOptions);
    let revived: EngineProcess | undefined;
    try {
      const t = tenant();
      const api = jobsApi(c, t);
      const job = await api.submit({
        datasetId: (await uploadPoints(upload.address, t, randomCloud(600, 4))).datasetId,
        params: { algorithm: RIPS, maxDim: 3 },
      });
      await waitFor("the job to compute", async () => {
        const j = await api.get(job.jobId);
        return j.state === JobState.JOB_STATE_RUNNING && (j.progress?.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES ? true : undefined;
      });
      first.proc.kill("SIGKILL");
      await new Promise((r) => first.proc.once("exit", r));
      // the same engine back on the same address, and healthy: still not handed the job
      revived = await startEngine(["--memory-limit", "64G"], port);
      await waitFor("the job to wait for another engine", async () => {
        const u = await s.store.updates(job.jobId);
        return u.some((x) => /no engine other than the one that died running this job/.test(x.message)) ? true : undefined;
      });
      // several retries later (1-2 s each), still waiting, told once
      await new Promise((r) => setTimeout(r, 5000));
      const told = (await s.store.updates(job.jobId)).filter((x) => /no engine other than/.test(x.message));
      expect(told.map((u) => [u.eventType, u.message])).toEqual([
        ["job.queued", "no engine other than the one that died running this job is known to the scheduler; waiting for one"],
      ]);
      await s.engines!.probe();
      expect(s.engines!.engines().map((e) => [e.address, e.healthy])).toEqual([[first.address, true]]);
      const waiting = await api.get(job.jobId);
      expect(waiting).toMatchObject({ state: JobState.JOB_STATE_QUEUED, crashedEngines: [first.address], attempts: 1 });
      expect(revived.stderr()).not.toContain(job.jobId);
      await api.cancel(job.jobId);
      expect((await api.get(job.jobId)).state).toBe(JobState.JOB_STATE_CANCELLED);
    } finally {
      c.close();
      await s.queue.obliterate({ force: true }).catch(() => undefined);
      await s.close();
      await revived?.stop();
      await first.stop();
    }
  });

  it("retries an unreachable engine with backoff, then fails with ENGINE_UNAVAILABLE", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const noEngine = await startSchedulerServer(
      loadConfig(schedulerEnv({ ENGINE_ADDRESSES: dead, SCHEDULER_ATTEMPTS: "3", SCHEDULER_QUEUE_NAME: `test-dead-${randomUUID().slice(0, 8)}` })),
      log,
    );
    const c = new pbJobs.JobServiceClient(noEngine.address, insecure(), channelOptions);
    try {
      const t = tenant();
      const ds = await uploadPoints(upload.address, t, randomCloud(10, 2));
      const api = jobsApi(c, t);
      const job = await api.submit({ datasetId: ds.datasetId, params: { algorithm: RIPS, maxDim: 1 } });
      const updates = await api.watch(job.jobId);
      expect(updates.map((u) => u.eventType)).toEqual([
        "job.submitted",
        "job.queued",
        "job.started",
        "job.queued",
        "job.started",
        "job.queued",
        "job.started",
        "job.failed",
      ]);
      expect(await api.get(job.jobId)).toMatchObject({ state: JobState.JOB_STATE_FAILED, errorCode: "ENGINE_UNAVAILABLE", attempts: 3 });
    } finally {
      c.close();
      await noEngine.queue.obliterate({ force: true }).catch(() => undefined);
      await noEngine.close();
    }
  });
});
