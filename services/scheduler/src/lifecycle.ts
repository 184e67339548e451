import { nowTimestamp, pbCommon, pbJobs, type PublishInput } from "@tda/common";
import type { JobFailure } from "./failure";
import { errorEvent, resultSummaryEvent } from "./outcome-events";

const { JobState } = pbJobs;
type Job = pbJobs.Job;
type JobState = pbJobs.JobState;

// The job lifecycle, declared once. Each transition names the states it may
// leave, the state it enters, the fields it changes (its patch) and what it
// tells the world: the update's event type and message, the attempt number in
// its tda_jobs event, and the events stored with it (tda_results, tda_errors).
// The job store applies a transition atomically (state check, record, update
// log, live update, outbox); callers name the transition and give its
// arguments, nothing more.
//
//   submit    (new record)          → queued     job.submitted
//   queue     queued                → queued     job.queued      (handed to the queue; waiting before any engine took it)
//   start     queued | running      → running    job.started     (running: a stalled attempt picked up again)
//   progress  running               → running    job.progress
//   complete  queued | running      → completed  job.completed   (queued: answered by the result cache at submit)
//   fail      queued | running      → failed     job.failed      (queued: the queue refused the job)
//   requeue   running               → queued     job.queued      (retry, engines busy, worker shutdown)
//
// fail and requeue of an attempt whose engine died mid-job (crashedEngine) add
// that engine to the job's crashed_engines: the job is not handed to it again.
//   cancel    queued | running      → cancelled  job.cancelled
//
// Completed, failed and cancelled are final: no transition leaves them.

/** The arguments of each transition. */
export interface TransitionArgs {
  submit: Record<never, never>;
  /** `reason`: why a queued job waits (e.g. no engine but ones that died running it); none when first queued. */
  queue: { reason?: string };
  start: { attempt: number; maxAttempts: number; engine: string };
  progress: { progress: pbCommon.Progress };
  /** `cacheHit`: the result was taken from the result cache (no engine ran). */
  complete: { result: pbCommon.PersistenceResult; cacheHit?: boolean };
  /**
   * `failure`: the computation's final failure, also reported on tda_errors.
   * `crashedEngine`: the engine that died running this attempt (added to `crashed_engines`).
   */
  fail: { errorCode: string; message: string; attempt?: number; failure?: JobFailure; crashedEngine?: string };
  /** `error`: the failure that made this attempt end, kept on the job while it waits; `crashedEngine` as for fail. */
  requeue: { reason: string; attempt: number; error?: { code: string; message: string }; crashedEngine?: string };
  cancel: Record<never, never>;
}

export type TransitionName = keyof TransitionArgs;

/** A transition with its arguments, e.g. `{ name: "start", attempt: 1, maxAttempts: 3, engine: "10.0.0.5:50061" }`. */
export type Step = { [N in TransitionName]: { name: N } & TransitionArgs[N] }[TransitionName];

export interface Transition<A> {
  /** JobUpdate.event_type and the tda_jobs envelope's event type. */
  eventType: string;
  /** States the job may be in for the transition to apply. */
  from: readonly JobState[];
  /** The state it enters. */
  to: JobState;
  /** The other fields it changes. */
  patch?(job: Job, args: A): void;
  /** JobUpdate.message. */
  message?(args: A, job: Job): string;
  /** The attempt number in the tda_jobs event (default: the job's attempts). */
  attempt?(args: A): number | undefined;
  /** Further events stored atomically after the tda_jobs event. */
  alsoPublish?(job: Job, args: A): PublishInput[];
}

const {
  JOB_STATE_QUEUED: QUEUED,
  JOB_STATE_RUNNING: RUNNING,
  JOB_STATE_COMPLETED: COMPLETED,
  JOB_STATE_FAILED: FAILED,
  JOB_STATE_CANCELLED: CANCELLED,
} = JobState;

export const LIFECYCLE: { readonly [N in TransitionName]: Transition<TransitionArgs[N]> } = {
  submit: { eventType: "job.submitted", from: [QUEUED], to: QUEUED },
  queue: { eventType: "job.queued", from: [QUEUED], to: QUEUED, message: (a) => a.reason ?? "" },
  start: {
    eventType: "job.started",
    from: [QUEUED, RUNNING],
    to: RUNNING,
    patch(j, a) {
      j.startedAt = nowTimestamp();
      j.attempts = a.attempt;
      j.engine = a.engine;
      j.errorCode = "";
      j.errorMessage = "";
      j.progress = { stage: pbCommon.Stage.STAGE_LOADING, dimension: 0, columnsDone: 0, columnsTotal: 0, fraction: 0, bytesInUse: 0, elapsedSeconds: 0 };
    },
    message: (a) => `attempt ${a.attempt} of ${a.maxAttempts} on ${a.engine}`,
    attempt: (a) => a.attempt,
  },
  progress: {
    eventType: "job.progress",
    from: [RUNNING],
    to: RUNNING,
    patch(j, a) {
      j.progress = a.progress;
    },
  },
  complete: {
    eventType: "job.completed",
    from: [QUEUED, RUNNING],
    to: COMPLETED,
    patch(j, a) {
      j.finishedAt = nowTimestamp();
      j.cacheHit = a.cacheHit === true;
      j.progress = {
        stage: pbCommon.Stage.STAGE_DONE,
        dimension: j.progress?.dimension ?? 0,
        columnsDone: j.progress?.columnsTotal ?? 0,
        columnsTotal: j.progress?.columnsTotal ?? 0,
        fraction: 1,
        bytesInUse: 0,
        etaSeconds: 0,
        elapsedSeconds: j.progress?.elapsedSeconds ?? 0,
      };
      j.errorCode = "";
      j.errorMessage = "";
    },
    // a cached result may be another tenant's job: never name it
    message: (a) => (a.cacheHit ? "result taken from the result cache" : `betti numbers ${JSON.stringify(a.result.bettiNumbers)}`),
    alsoPublish: (j, a) => [resultSummaryEvent(j, a.result)],
  },
  fail: {
    eventType: "job.failed",
    from: [QUEUED, RUNNING],
    to: FAILED,
    patch(j, a) {
      j.finishedAt = nowTimestamp();
      j.errorCode = a.errorCode;
      j.errorMessage = a.message;
      if (a.crashedEngine) j.crashedEngines = [...j.crashedEngines, a.crashedEngine];
    },
    message: (a) => a.message,
    attempt: (a) => a.attempt,
    alsoPublish: (j, a) => (a.failure ? [errorEvent(j.jobId, a.failure)] : []),
  },
  requeue: {
    eventType: "job.queued",
    from: [RUNNING],
    to: QUEUED,
    patch(j, a) {
      if (a.crashedEngine) j.crashedEngines = [...j.crashedEngines, a.crashedEngine];
      if (!a.error) return;
      j.errorCode = a.error.code;
      j.errorMessage = a.error.message;
    },
    message: (a) => a.reason,
    attempt: (a) => a.attempt,
  },
  cancel: {
    eventType: "job.cancelled",
    from: [QUEUED, RUNNING],
    to: CANCELLED,
    patch(j) {
      j.finishedAt = nowTimestamp();
    },
    message: () => "cancelled by request",
  },
};

/** The declaration of a step's transition (the table is typed per name; a step is one of them). */
export function transitionOf(step: Step): Transition<Step> {
  return LIFECYCLE[step.name] as Transition<Step>;
}

/** Whether `name` may leave `state`. */
export function allows(name: TransitionName, state: JobState): boolean {
  return LIFECYCLE[name].from.includes(state);
}

/**
 * The states a step may apply from: the transition's, or `only` when the
 * caller expects fewer (e.g. CancelJob cancels a queued job itself and leaves a
 * running one to its worker). `only` naming a state the transition does not
 * leave is a programming error.
 */
export function fromStates(name: TransitionName, only?: readonly JobState[]): readonly JobState[] {
  const declared = LIFECYCLE[name].from;
  if (!only) return declared;
  for (const s of only) if (!declared.includes(s)) throw new Error(`the ${name} transition does not leave state ${s}`);
  return only;
}

/** The job after `step` (a copy; `job` is not changed). Throws when the step does not apply to the job's state. */
export function applyStep(job: Job, step: Step): Job {
  const t = transitionOf(step);
  if (!t.from.includes(job.state)) throw new Error(`job ${job.jobId}: ${step.name} does not apply to a job in state ${job.state}`);
  const next = pbJobs.Job.fromPartial(job);
  t.patch?.(next, step);
  next.state = t.to;
  return next;
}
