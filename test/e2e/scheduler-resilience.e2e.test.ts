import { readFileSync } from "node:fs";
import { pbCommon, pbJobs } from "@tda/common";
import { procOf, restartProcess, type Mesh } from "../helpers/mesh";
import { startFaultMesh, type FaultMesh } from "../helpers/fault-mesh";
import { api, watchJob, type Gateway } from "../helpers/client";
import { getJob, submitRips, uploadCloud, waitFor, waitTerminal } from "../helpers/jobs";

// The job system under failures, through the gateway with real processes:
// an engine killed mid-job, the scheduler killed with jobs in flight, a cancel
// during the computation, and the shortcuts that must not touch an engine.

jest.setTimeout(300_000);

const { JobState } = pbJobs;

let mesh: Mesh;
let gw: Gateway;
let sphere: string; // 192 points on S^2: Rips up to H3 takes several seconds of reduction

let faults: FaultMesh | undefined;

beforeAll(async () => {
  faults = await startFaultMesh({
    engines: 2,
    // a killed scheduler's jobs come back quickly (lock + stalled check)
    env: { SCHEDULER_LOCK_DURATION_MS: "4000", SCHEDULER_STALLED_INTERVAL_MS: "2000" },
  });
  ({ mesh, gw, sphere } = faults);
});

afterAll(async () => {
  await faults?.stop();
});

const engineLog = (i: number) => readFileSync(procOf(mesh, `engine-${i}`).logFile, "utf8");

/** Waits until the job runs on an engine that is past loading its input. */
async function waitComputing(jobId: string): Promise<pbJobs.Job> {
  return waitFor(
    `job ${jobId} to compute`,
    async () => {
      const j = await getJob(gw, jobId);
      if (j.state !== JobState.JOB_STATE_RUNNING && j.state !== JobState.JOB_STATE_QUEUED)
        throw new Error(`job ended early: ${JobState[j.state]} ${j.errorCode}`);
      return j.state === JobState.JOB_STATE_RUNNING && j.engine !== "" && (j.progress?.stage ?? 0) >= pbCommon.Stage.STAGE_DISTANCES ? j : undefined;
    },
    120_000,
    100,
  );
}

test("an engine killed with SIGKILL mid-job: the job completes on the other engine", async () => {
  const job = await submitRips(gw, sphere, { maxDim: 3 });
  const running = await waitComputing(job.jobId);
  const victim = mesh.engines.indexOf(running.engine);
  expect(victim).toBeGreaterThanOrEqual(0);
  await procOf(mesh, `engine-${victim}`).stop("SIGKILL");
  try {
    const [done] = await waitTerminal(gw, [job.jobId], 240_000);
    expect({ state: JobState[done!.state], error: done!.errorCode }).toEqual({ state: "JOB_STATE_COMPLETED", error: "" });
    expect(done!.engine).toBe(mesh.engines[1 - victim]);
    expect(done!.attempts).toBeGreaterThanOrEqual(2);
    const updates = await watchJob(gw, job.jobId);
    const types = updates.map((u) => u.eventType);
    // started on the victim, requeued because the engine went away, started again, completed
    expect(types.filter((t) => t === "job.started").length).toBeGreaterThanOrEqual(2);
    expect(updates.some((u) => u.eventType === "job.queued" && u.errorCode === "ENGINE_UNAVAILABLE")).toBe(true);
    expect(types.at(-1)).toBe("job.completed");
    const res = await api(gw).getResult({ jobId: job.jobId });
    expect(res.result!.bettiNumbers[0]).toBe(1);
  } finally {
    await restartProcess(mesh, `engine-${victim}`);
  }
});

test("the scheduler killed with SIGKILL while jobs run: after a restart they all complete", async () => {
  // several jobs of about a second each (sphere up to H2), distinct parameters (no cache)
  const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => submitRips(gw, sphere, { maxDim: 2, threshold: 10 + i })));
  const ids = jobs.map((j) => j.jobId);
  await waitFor(
    "a job to run",
    async () => ((await Promise.all(ids.map((id) => getJob(gw, id)))).some((j) => j.state === JobState.JOB_STATE_RUNNING) ? true : undefined),
    60_000,
    50,
  );
  await procOf(mesh, "scheduler").stop("SIGKILL");
  await restartProcess(mesh, "scheduler");
  const done = await waitTerminal(gw, ids, 240_000);
  expect(done.map((j) => `${JobState[j.state]}${j.errorCode ? ` ${j.errorCode}` : ""}`)).toEqual(ids.map(() => "JOB_STATE_COMPLETED"));
  let rerun = 0;
  for (const id of ids) {
    const updates = await watchJob(gw, id);
    expect(updates.at(-1)?.eventType).toBe("job.completed");
    // the replay has no holes across the crash
    expect(updates.map((u) => u.sequence)).toEqual(updates.map((_, k) => k + 1));
    if (updates.filter((u) => u.eventType === "job.started").length >= 2) rerun++;
  }
  // the job(s) running at the kill were picked up again (stalled-job detection)
  expect(rerun).toBeGreaterThanOrEqual(1);
});

test("cancel during the computation: state cancelled, the engine stops, and the slot is free for the next job", async () => {
  const job = await submitRips(gw, sphere, { maxDim: 3, threshold: 10 });
  const running = await waitComputing(job.jobId);
  const idx = mesh.engines.indexOf(running.engine);
  const res = await api(gw).cancelJob({ jobId: job.jobId });
  expect(JobState[res.job!.state]).toBe("JOB_STATE_CANCELLED");
  const updates = await watchJob(gw, job.jobId);
  expect(updates.at(-1)?.eventType).toBe("job.cancelled");
  // the engine logs that it stopped this job's computation
  await waitFor("the engine to stop the computation", async () => (engineLog(idx).includes(`job ${job.jobId} cancelled`) ? true : undefined), 30_000);
  // and the engines take new work at once
  const ds = await uploadCloud(gw, 40, 3, 0.77);
  const next = await submitRips(gw, ds, { maxDim: 1 });
  const [fin] = await waitTerminal(gw, [next.jobId], 60_000);
  expect(JobState[fin!.state]).toBe("JOB_STATE_COMPLETED");
  const after = await getJob(gw, job.jobId);
  expect(JobState[after.state]).toBe("JOB_STATE_CANCELLED");
  await expect(api(gw).getResult({ jobId: job.jobId })).rejects.toMatchObject({ code: 9 });
});

test("a cache hit completes without an engine; a repeated idempotency key returns the first job", async () => {
  const ds = await uploadCloud(gw, 60, 3, 0.5);
  const first = await submitRips(gw, ds, { maxDim: 1, threshold: 0.9 });
  const [done] = await waitTerminal(gw, [first.jobId], 60_000);
  expect(JobState[done!.state]).toBe("JOB_STATE_COMPLETED");
  const accepted = () => [engineLog(0), engineLog(1)].map((l) => l.split("\n").filter((x) => / accepted from /.test(x)).length);
  const acceptedBefore = accepted();

  const hit = await submitRips(gw, ds, { maxDim: 1, threshold: 0.9 });
  expect(hit.jobId).not.toBe(first.jobId);
  expect({ state: JobState[hit.state], cacheHit: hit.cacheHit, engine: hit.engine, attempts: hit.attempts }).toEqual({
    state: "JOB_STATE_COMPLETED",
    cacheHit: true,
    engine: "",
    attempts: 0,
  });
  const a = await api(gw).getResult({ jobId: first.jobId });
  const b = await api(gw).getResult({ jobId: hit.jobId });
  expect(b.result!.diagrams).toEqual(a.result!.diagrams);
  const hitUpdates = await watchJob(gw, hit.jobId);
  expect(hitUpdates.map((u) => u.eventType)).toEqual(["job.submitted", "job.completed"]);
  // no engine saw a call for it: neither log mentions the job
  expect([engineLog(0), engineLog(1)].some((l) => l.includes(hit.jobId))).toBe(false);
  expect(accepted()).toEqual(acceptedBefore);

  const key = `idem-${Date.now()}`;
  const ds2 = await uploadCloud(gw, 45, 3, 0.61);
  const [k1, k2] = await Promise.all([submitRips(gw, ds2, { maxDim: 1, idempotencyKey: key }), submitRips(gw, ds2, { maxDim: 1, idempotencyKey: key })]);
  expect(k2!.jobId).toBe(k1!.jobId);
  // even with other parameters, later
  const k3 = await submitRips(gw, ds2, { maxDim: 2, threshold: 0.3, idempotencyKey: key });
  expect(k3.jobId).toBe(k1!.jobId);
  const list = await api(gw).listJobs({ pageSize: 1000, pageToken: "", state: 0 });
  expect(list.jobs.filter((j) => j.datasetId === ds2).length).toBe(1);
});
