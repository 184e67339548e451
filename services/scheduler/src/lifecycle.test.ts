import { pbCommon, pbJobs } from "@tda/common";
import { allows, applyStep, fromStates, LIFECYCLE, type Step, type TransitionName } from "./lifecycle";
import { errorEvent } from "./outcome-events";
import { failure } from "./failure";

const { JobState } = pbJobs;
const {
  JOB_STATE_QUEUED: QUEUED,
  JOB_STATE_RUNNING: RUNNING,
  JOB_STATE_COMPLETED: COMPLETED,
  JOB_STATE_FAILED: FAILED,
  JOB_STATE_CANCELLED: CANCELLED,
} = JobState;
const STATES = [QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED];
const result = pbCommon.PersistenceResult.fromPartial({ bettiNumbers: [1, 2] });

/** One step of every transition, with plausible arguments. */
const STEPS: Record<TransitionName, Step> = {
  submit: { name: "submit" },
  queue: { name: "queue" },
  start: { name: "start", attempt: 2, maxAttempts: 3, engine: "10.0.0.7:50061" },
  progress: {
    name: "progress",
    progress: {
      stage: pbCommon.Stage.STAGE_REDUCTION,
      dimension: 1,
      columnsDone: 3,
      columnsTotal: 9,
      fraction: 0.4,
      bytesInUse: 10,
      etaSeconds: 3,
      elapsedSeconds: 2,
    },
  },
  complete: { name: "complete", result },
  fail: { name: "fail", errorCode: "ENGINE_FAILED", message: "it broke", attempt: 3 },
  requeue: { name: "requeue", reason: "retrying", attempt: 1, error: { code: "ENGINE_UNAVAILABLE", message: "gone" } },
  cancel: { name: "cancel" },
};

const jobIn = (state: pbJobs.JobState) => pbJobs.Job.fromPartial({ jobId: "job_x", owner: "t", state, attempts: 1, errorCode: "OLD", errorMessage: "old" });

describe("the job lifecycle table", () => {
  it("declares exactly the eight transitions, each with its event type", () => {
    expect(Object.fromEntries(Object.entries(LIFECYCLE).map(([n, t]) => [n, t.eventType]))).toEqual({
      submit: "job.submitted",
      queue: "job.queued",
      start: "job.started",
      progress: "job.progress",
      complete: "job.completed",
      fail: "job.failed",
      requeue: "job.queued",
      cancel: "job.cancelled",
    });
  });

  it("allows each transition from its declared states only, and nothing from a final state", () => {
    const allowed = Object.fromEntries(Object.keys(LIFECYCLE).map((n) => [n, STATES.filter((s) => allows(n as TransitionName, s))]));
    expect(allowed).toEqual({
      submit: [QUEUED],
      queue: [QUEUED],
      start: [QUEUED, RUNNING],
      progress: [RUNNING],
      complete: [QUEUED, RUNNING],
      fail: [QUEUED, RUNNING],
      requeue: [RUNNING],
      cancel: [QUEUED, RUNNING],
    });
  });

  it("refuses every illegal transition and enters the declared state on every legal one", () => {
    for (const [name, step] of Object.entries(STEPS)) {
      for (const s of STATES) {
        const t = LIFECYCLE[name as TransitionName];
        if (t.from.includes(s)) expect(applyStep(jobIn(s), step).state).toBe(t.to);
        else expect(() => applyStep(jobIn(s), step)).toThrow(/does not apply/);
      }
    }
  });

  it("lets a caller narrow the from-states, never widen them", () => {
    expect(fromStates("cancel", [QUEUED])).toEqual([QUEUED]);
    expect(fromStates("complete")).toEqual([QUEUED, RUNNING]);
    expect(() => fromStates("requeue", [QUEUED])).toThrow(/does not leave/);
    expect(() => fromStates("start", [COMPLETED])).toThrow(/does not leave/);
  });

  it("patches the fields each transition owns and leaves the job it was given alone", () => {
    const queued = jobIn(QUEUED);
    const started = applyStep(queued, STEPS.start);
    expect(queued.state).toBe(QUEUED);
    expect(started).toMatchObject({ state: RUNNING, attempts: 2, engine: "10.0.0.7:50061", errorCode: "", errorMessage: "" });
    expect(started.progress?.stage).toBe(pbCommon.Stage.STAGE_LOADING);
    expect(started.startedAt).toBeDefined();

    const progressed = applyStep(started, STEPS.progress);
    expect(progressed.progress?.columnsDone).toBe(3);
    const done = applyStep(progressed, STEPS.complete);
    expect(done.progress).toMatchObject({ stage: pbCommon.Stage.STAGE_DONE, dimension: 1, columnsDone: 9, columnsTotal: 9, fraction: 1 });
    expect(done.cacheHit).toBe(false);
    expect(done.finishedAt).toBeDefined();

    const requeued = applyStep(started, STEPS.requeue);
    expect(requeued).toMatchObject({ state: QUEUED, errorCode: "ENGINE_UNAVAILABLE", errorMessage: "gone", engine: "10.0.0.7:50061" });
    const failed = applyStep(requeued, STEPS.fail);
    expect(failed).toMatchObject({ state: FAILED, errorCode: "ENGINE_FAILED", errorMessage: "it broke" });
    expect(applyStep(started, STEPS.cancel).finishedAt).toBeDefined();
  });

  it("records the engines that died running the job, on requeue and on the final failure, and keeps them across attempts", () => {
    const first = applyStep(jobIn(RUNNING), { name: "requeue", reason: "died", attempt: 1, crashedEngine: "10.0.0.7:50061" });
    expect(first.crashedEngines).toEqual(["10.0.0.7:50061"]);
    const again = applyStep(applyStep(first, STEPS.start), STEPS.requeue);
    expect(again.crashedEngines).toEqual(["10.0.0.7:50061"]);
    const failed = applyStep(applyStep(again, STEPS.start), {
      name: "fail",
      errorCode: "ENGINE_CRASHED",
      message: "died twice",
      attempt: 3,
      crashedEngine: "10.0.0.8:50061",
    });
    expect(failed).toMatchObject({ state: FAILED, errorCode: "ENGINE_CRASHED", crashedEngines: ["10.0.0.7:50061", "10.0.0.8:50061"] });
    expect(applyStep(jobIn(RUNNING), STEPS.fail).crashedEngines).toEqual([]);
  });

  it("a cache hit completes a queued job at once, with a message that names no other job", () => {
    const t = LIFECYCLE.complete;
    const job = applyStep(jobIn(QUEUED), { name: "complete", result, cacheHit: true });
    expect(job.cacheHit).toBe(true);
    expect(job.progress).toMatchObject({ stage: pbCommon.Stage.STAGE_DONE, columnsDone: 0, fraction: 1 });
    expect(t.message!({ result, cacheHit: true }, job)).toBe("result taken from the result cache");
    expect(t.message!({ result }, job)).toBe("betti numbers [1,2]");
  });

  it("declares the events stored with a transition: the result summary, the final failure", () => {
    const done = applyStep(jobIn(RUNNING), STEPS.complete);
    const [summary] = LIFECYCLE.complete.alsoPublish!(done, { result });
    expect(summary).toMatchObject({ topic: "tda_results", key: "job_x", eventType: "result.summary" });
    const f = failure("ENGINE_FAILED", "it broke", false, "computation");
    expect(LIFECYCLE.fail.alsoPublish!(done, { errorCode: f.errorCode, message: f.message, failure: f })).toEqual([errorEvent("job_x", f)]);
    // a job the queue refused is failed without a tda_errors event
    expect(LIFECYCLE.fail.alsoPublish!(done, { errorCode: "QUEUE_UNAVAILABLE", message: "x" })).toEqual([]);
    expect(LIFECYCLE.start.attempt!({ attempt: 2, maxAttempts: 3, engine: "e" })).toBe(2);
    expect(LIFECYCLE.start.message!({ attempt: 2, maxAttempts: 3, engine: "e" }, done)).toBe("attempt 2 of 3 on e");
  });
});
