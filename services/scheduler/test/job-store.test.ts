import { randomUUID } from "node:crypto";
import IORedis from "ioredis";
import { createEventBus, createLogger, nowTimestamp, pbCommon, pbJobs, pbUpload, type EventBus } from "@tda/common";
import { createJobStore, type JobStore } from "../src/job-store";
import { keys } from "../src/keys";
import { REDIS_URL } from "./helpers";

// Two job stores on their own connections stand for two scheduler processes
// sharing Redis: each builds changes on what it last wrote itself, and the
// apply script must catch the other's changes (real Redis, real Kafka relay).

const { JobState } = pbJobs;
const log = createLogger("job-store-test", process.env.TEST_LOG_LEVEL ?? "silent");
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9192").split(",");

interface Proc {
  redis: IORedis;
  events: EventBus;
  store: JobStore;
}
let a: Proc;
let b: Proc;

function proc(name: string): Proc {
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const events = createEventBus({
    source: `job-store-test-${name}-${randomUUID().slice(0, 8)}`,
    brokers,
    topicPrefix: process.env.KAFKA_TOPIC_PREFIX ?? "",
    redis,
    log,
  });
  return { redis, events, store: createJobStore({ redis, events, log, retentionSeconds: 600 }) };
}

beforeAll(() => {
  a = proc("a");
  b = proc("b");
});

afterAll(async () => {
  for (const p of [a, b]) {
    await p?.events.flush(20_000);
    await p?.events.close();
    p?.redis.disconnect();
  }
});

function newRecord(owner = "tenant-store") {
  const jobId = `job_${randomUUID().replace(/-/g, "")}`;
  const job = pbJobs.Job.fromPartial({
    jobId,
    datasetId: "ds_x",
    owner,
    state: JobState.JOB_STATE_QUEUED,
    createdAt: nowTimestamp(),
    params: pbCommon.ComputeParams.fromPartial({ maxDim: 1 }),
  });
  const dataset = pbUpload.Dataset.fromPartial({ datasetId: "ds_x", sha256: "ab".repeat(32), owner, n: 3, dim: 2 });
  return { job, dataset, trace: {}, paramsHash: "h", deadlineSeconds: 60, resultOf: jobId };
}

const submit = { name: "submit" } as const;
const start = { name: "start", attempt: 1, maxAttempts: 3, engine: "engine-a" } as const;
const progressAt = (dimension: number) =>
  ({
    name: "progress",
    progress: { stage: pbCommon.Stage.STAGE_REDUCTION, dimension, columnsDone: 1, columnsTotal: 7, fraction: 0.5, bytesInUse: 0, elapsedSeconds: 0 },
  }) as const;
const result = pbCommon.PersistenceResult.fromPartial({ bettiNumbers: [1] });

describe("job store across processes", () => {
  it("creates the record and its first update in one step", async () => {
    const rec = newRecord();
    const [res] = await a.store.create(rec, [submit]);
    expect(res?.sequence).toBe(1);
    const loaded = await b.store.load(rec.job.jobId);
    expect(loaded?.job.state).toBe(JobState.JOB_STATE_QUEUED);
    expect(loaded?.dataset.sha256).toBe(rec.dataset.sha256);
    expect((await b.store.updates(rec.job.jobId)).map((u) => [u.sequence, u.eventType])).toEqual([[1, "job.submitted"]]);
    expect(await a.redis.zscore(keys.ownerJobs(rec.job.owner), rec.job.jobId)).not.toBeNull();
  });

  it("creates the record with several first changes in order", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    const res = await a.store.create(rec, [submit, { name: "complete", result, cacheHit: true }]);
    expect(res.map((r) => [r.sequence, r.job.state])).toEqual([
      [1, JobState.JOB_STATE_QUEUED],
      [2, JobState.JOB_STATE_COMPLETED],
    ]);
    expect((await b.store.updates(id)).map((u) => [u.sequence, u.eventType])).toEqual([
      [1, "job.submitted"],
      [2, "job.completed"],
    ]);
    expect((await b.store.loadJob(id))?.state).toBe(JobState.JOB_STATE_COMPLETED);
    // a change that does not fit the state built so far is refused before anything is sent
    const other = newRecord();
    await expect(a.store.create(other, [submit, progressAt(0)])).rejects.toThrow(/does not apply/);
    expect(await b.store.loadJob(other.job.jobId)).toBeUndefined();
  });

  it("builds on the other process's change when it moved the job on", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    await a.store.create(rec, [submit]);
    expect((await a.store.transition(id, start)).ok).toBe(true);
    // b changes the job (same state) without a knowing
    const byB = await b.store.transition(id, progressAt(2));
    expect(byB.ok && byB.sequence).toBe(3);
    // a's next change: refused on the stale sequence, rebuilt on b's record
    const byA = await a.store.transition(id, { name: "complete", result }, { only: [JobState.JOB_STATE_RUNNING] });
    expect(byA.ok).toBe(true);
    if (!byA.ok) return;
    expect(byA.sequence).toBe(4);
    expect(byA.job.progress?.dimension).toBe(2);
    expect(byA.job.progress?.columnsDone).toBe(7);
    const stored = await b.store.loadJob(id);
    expect(stored?.state).toBe(JobState.JOB_STATE_COMPLETED);
    expect(stored?.progress?.dimension).toBe(2);
    expect((await a.store.updates(id)).map((u) => [u.sequence, u.eventType])).toEqual([
      [1, "job.submitted"],
      [2, "job.started"],
      [3, "job.progress"],
      [4, "job.completed"],
    ]);
  });

  it("refuses a change the other process's new state does not allow", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    await a.store.create(rec, [submit]);
    const cancelled = await b.store.transition(id, { name: "cancel" }, { only: [JobState.JOB_STATE_QUEUED] });
    expect(cancelled.ok).toBe(true);
    // a still remembers QUEUED: its start must not apply
    const started = await a.store.transition(id, start);
    expect(started.ok).toBe(false);
    expect(started.job?.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect((await a.store.updates(id)).map((u) => u.eventType)).toEqual(["job.submitted", "job.cancelled"]);
  });

  it("reads the cancel flag with the change", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    await a.store.create(rec, [submit]);
    expect(await b.store.requestCancel(id)).toBe(true);
    const started = await a.store.transition(id, start, { readCancel: true });
    expect(started.ok && started.cancelRequested).toBe(true);
  });

  it("starts a job from the record it created without reading it; another process's change since is caught by the start", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    await a.store.create(rec, [submit, { name: "queue" }]);
    // the record as created, not read: the read would need the hash in Redis
    await a.redis.hdel(keys.job(id), "dataset");
    const mine = await a.store.loadForRun(id);
    expect(mine?.dataset.sha256).toBe(rec.dataset.sha256);
    expect(mine?.job.state).toBe(JobState.JOB_STATE_QUEUED);
    // b does not know the job: it reads (and finds the field gone)
    expect((await b.store.loadForRun(id))?.dataset.sha256).toBe("");
    // b cancels it: a's start, built on what a created, does not apply
    expect((await b.store.transition(id, { name: "cancel" }, { only: [JobState.JOB_STATE_QUEUED] })).ok).toBe(true);
    const started = await a.store.transition(id, start, { readCancel: true });
    expect(started.ok).toBe(false);
    expect(started.job?.state).toBe(JobState.JOB_STATE_CANCELLED);
    // once a made another change, it reads again
    const other = newRecord();
    await a.store.create(other, [submit, { name: "queue" }]);
    expect((await a.store.transition(other.job.jobId, start)).ok).toBe(true);
    await a.redis.hdel(keys.job(other.job.jobId), "dataset");
    expect((await a.store.loadForRun(other.job.jobId))?.dataset.sha256).toBe("");
  });

  it("takes a finished job out of its owner's active-job set in the same step", async () => {
    const rec = newRecord(`tenant-active-${randomUUID().slice(0, 8)}`);
    const id = rec.job.jobId;
    expect(await a.store.claimActive(rec.job.owner, id, 5)).toBe(true);
    await a.store.create(rec, [submit, { name: "queue" }]);
    expect((await b.store.transition(id, start)).ok).toBe(true);
    expect(await a.redis.zscore(keys.activeJobs(rec.job.owner), id)).not.toBeNull();
    // b finishes it: the entry is gone when the transition returns (no separate command)
    expect((await b.store.transition(id, { name: "complete", result })).ok).toBe(true);
    expect(await a.redis.zscore(keys.activeJobs(rec.job.owner), id)).toBeNull();
  });

  it("does not apply a change whose required write is missing", async () => {
    const rec = newRecord();
    const id = rec.job.jobId;
    await a.store.create(rec, [submit]);
    const missing = `tda:test-missing:${id}`;
    await expect(a.store.transition(id, { name: "complete", result }, { requires: missing })).rejects.toThrow(/missing/);
    expect((await b.store.loadJob(id))?.state).toBe(JobState.JOB_STATE_QUEUED);
    expect((await b.store.updates(id)).length).toBe(1);
    // with the write in the same pipeline it applies
    const done = await a.store.transition(id, { name: "complete", result }, { before: (pipe) => void pipe.set(missing, "1", "EX", 60), requires: missing });
    expect(done.ok && done.sequence).toBe(2);
  });
});

describe("subscriber", () => {
  it("delivers channels under a prefix through one pattern, others by their own subscription", async () => {
    const { createSubscriber } = await import("../src/subscriber");
    const prefix = `tda:test-sub-${randomUUID().slice(0, 8)}:`;
    const sub = createSubscriber(a.redis, log, [prefix]);
    try {
      const got: string[] = [];
      const offOne = await sub.subscribe(`${prefix}one`, (m) => got.push(`one:${m}`));
      const offTwo = await sub.subscribe(`${prefix}two`, (m) => got.push(`two:${m}`));
      const offPlain = await sub.subscribe(`tda:test-plain-${prefix}`, (m) => got.push(`plain:${m}`));
      await b.redis.publish(`${prefix}one`, "1");
      await b.redis.publish(`${prefix}two`, "2");
      await b.redis.publish(`${prefix}nobody`, "x");
      await b.redis.publish(`tda:test-plain-${prefix}`, "3");
      await offOne();
      await b.redis.publish(`${prefix}one`, "after");
      await b.redis.publish(`${prefix}two`, "4");
      for (let i = 0; i < 100 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual(["one:1", "two:2", "plain:3", "two:4"]);
      await offTwo();
      await offPlain();
    } finally {
      await sub.close();
    }
  });

  it("refuses a prefix with glob characters", async () => {
    const { createSubscriber } = await import("../src/subscriber");
    expect(() => createSubscriber(a.redis, log, ["tda:*:"])).toThrow(/glob/);
  });
});
