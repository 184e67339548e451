import type { Context } from "@opentelemetry/api";
import type { ChainableCommander } from "ioredis";
import { nowTimestamp, pbJobs, pbUpload, type EventBus, type Logger, type Redis } from "@tda/common";
import { keys } from "./keys";
import { fromStates, transitionOf, type Step } from "./lifecycle";

const { JobState } = pbJobs;
type Job = pbJobs.Job;
type JobState = pbJobs.JobState;
type JobUpdate = pbJobs.JobUpdate;

// Job records, their update log and their lifecycle events. Every change of a
// job is a transition of the declared lifecycle (lifecycle.ts), applied by
// `transition`: one Lua script checks the current state, writes the
// record, takes the next sequence number, appends the update to the replay list
// and publishes it live, atomically — so the list order, the live order and the
// sequence numbers agree, and WatchJob can splice replay and live without gaps.
// The Kafka event (tda_jobs, key = job id, same sequence number) is appended to
// the event outbox by the same script, so events are in sequence order and none
// is lost to a crash; a per-job chain serialises this process's changes.
//
// Round trips: the script is told the sequence number the change was built
// on and refuses it (-3) when another process moved the job on. So this process
// remembers the job and sequence of its own last change and builds the next one
// on them without reading first; a refusal means "read and build again". Writes
// that belong with a change (the new record, the result) and reads that follow
// it (the cancel flag) ride in the same pipeline.

export interface JobRecord {
  job: Job;
  /** The dataset as it was at submit time. */
  dataset: pbUpload.Dataset;
  /** W3C trace carrier of the submit span. */
  trace: Record<string, string>;
  paramsHash: string;
  deadlineSeconds: number;
  cancelRequested: boolean;
  /** Job id whose result key holds this job's result (itself unless a cache hit). */
  resultOf: string;
}

export interface NewJobRecord extends Omit<JobRecord, "cancelRequested"> {}

/** How a transition is applied (besides the step itself). */
export interface TransitionOptions {
  ctx?: Context;
  /** Apply only from these of the transition's from-states (lifecycle.fromStates). */
  only?: readonly JobState[];
  /**
   * Commands sent ahead of the change in the same pipeline (once, on the first
   * try); their errors fail the transition. The pipeline is not a transaction: name
   * in `requires` a key they write, and the change applies only if it exists.
   */
  before?: (pipe: TxPipeline) => void;
  requires?: string;
  /** Also read the job's cancel flag after the change (`ApplyResult.cancelRequested`). */
  readCancel?: boolean;
}

/** A step with the states it may apply from and its options. */
interface Change {
  step: Step;
  from: readonly JobState[];
  opts: TransitionOptions;
}

export type ApplyResult = { ok: true; job: Job; sequence: number; cancelRequested: boolean } | { ok: false; job: Job | undefined };

export const TERMINAL_STATES: readonly JobState[] = [JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED];
export const isTerminal = (s: JobState): boolean => TERMINAL_STATES.includes(s);

export function stateName(s: JobState): string {
  switch (s) {
    case JobState.JOB_STATE_QUEUED:
      return "queued";
    case JobState.JOB_STATE_RUNNING:
      return "running";
    case JobState.JOB_STATE_COMPLETED:
      return "completed";
    case JobState.JOB_STATE_FAILED:
      return "failed";
    case JobState.JOB_STATE_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

// KEYS: job hash, seq counter, updates list, event outbox, a key that must
// exist for the change to apply (the job hash when there is none), the owner's
// active-job set. ARGV: allowed states (csv), new state, job blob, update blob,
// channel, ttl seconds, the sequence number the caller built the event with,
// "1" when the new state is final (the job leaves the active-job set), the job
// id, the event's outbox record(s).
// Returns the sequence number, -1 (state not allowed), -2 (no such job), -3
// (the sequence moved on meanwhile: another process changed the job; re-read)
// or -4 (the required key is missing).
// The state change, the replay entry, the live update and the Kafka event
// (outbox) are one atomic step: a crash cannot separate them.
const APPLY_LUA = `
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return -2 end
if redis.call('EXISTS', KEYS[5]) == 0 then return -4 end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then return -1 end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if seq ~= tonumber(ARGV[7]) then return -3 end
redis.call('SET', KEYS[2], seq, 'EX', ARGV[6])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'job', ARGV[3])
local rec = seq .. '|' .. ARGV[4]
redis.call('RPUSH', KEYS[3], rec)
redis.call('PUBLISH', ARGV[5], rec)
redis.call('RPUSH', KEYS[4], unpack(ARGV, 10))
if ARGV[8] == '1' then redis.call('ZREM', KEYS[6], ARGV[9]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[6])
return seq
`;

/** Parses a "<sequence>|<base64 JobUpdate>" record of the update list / channel. */
export function parseUpdateRecord(rec: string): JobUpdate {
  const bar = rec.indexOf("|");
  const update = pbJobs.JobUpdate.decode(Buffer.from(rec.slice(bar + 1), "base64"));
  update.sequence = Number(rec.slice(0, bar));
  return update;
}

const encodeJob = (job: Job): string => Buffer.from(pbJobs.Job.encode(job).finish()).toString("base64");
const decodeJob = (b64: string): Job => pbJobs.Job.decode(Buffer.from(b64, "base64"));

export interface JobStoreDeps {
  redis: Redis;
  events: EventBus;
  log: Logger;
  retentionSeconds: number;
}

export type JobStore = ReturnType<typeof createJobStore>;

/**
 * A pipeline that can hold MULTI ... EXEC transactions: `multi()` opens one,
 * `exec()` then closes it (ioredis); the pipeline itself is sent by the store.
 */
export type TxPipeline = ChainableCommander & { multi(): ChainableCommander };

// KEYS: the owner's active-job set. ARGV: now (ms), stale-after (ms), job id, limit.
// Drops stale entries, then adds the job unless the owner already has `limit`;
// returns 1 when added, else -(the number active).
const CLAIM_ACTIVE_LUA = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
local n = redis.call('zcard', KEYS[1])
if n >= tonumber(ARGV[4]) then return -n end
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
redis.call('pexpireat', KEYS[1], ARGV[2])
return 1
`;

type WithApply<T> = T & { tdaApplyJob(...args: string[]): ChainableCommander };

/** Defines the scripts as commands `tdaApplyJob` and `tdaClaimActive` of `redis` and its pipelines (EVALSHA: the text is not resent every call). */
function defineApply(redis: Redis): void {
  const r = redis as Redis & { tdaApplyJob?: unknown; tdaClaimActive?: unknown };
  if (!r.tdaApplyJob) r.defineCommand("tdaApplyJob", { numberOfKeys: 6, lua: APPLY_LUA });
  if (!r.tdaClaimActive) r.defineCommand("tdaClaimActive", { numberOfKeys: 1, lua: CLAIM_ACTIVE_LUA });
}

/** Throws the first error in the replies of a pipeline. */
function firstError(res: [Error | null, unknown][]): void {
  for (const [err] of res) if (err) throw err;
}

/** How many jobs' last change this process remembers (oldest forgotten first). */
const KNOWN_MAX = 4096;

/** What the store's functions share: its dependencies and this process's memory of its own changes. */
interface Store extends JobStoreDeps {
  redis: Redis & { tdaClaimActive(...args: string[]): Promise<unknown> };
  /** Per-job chains serialising this process's changes of a job. */
  chains: Map<string, Promise<unknown>>;
  /**
   * Job and sequence number of this process's last change of a job (insertion
   * order = age), and the record as this process created it while that was its
   * last change (`loadForRun`).
   */
  known: Map<string, { job: Job; seq: number; created?: NewJobRecord }>;
}

function remember(s: Store, jobId: string, job: Job, seq: number, created?: NewJobRecord): void {
  s.known.delete(jobId);
  if (isTerminal(job.state)) return; // nothing changes a finished job (the apply script took it out of the active-job set)
  s.known.set(jobId, { job, seq, created });
  if (s.known.size > KNOWN_MAX) s.known.delete(s.known.keys().next().value!);
}

/** Runs `fn` after every earlier `serial` call of the same job has settled. */
function serial<T>(s: Store, jobId: string, fn: () => Promise<T>): Promise<T> {
  const prev = s.chains.get(jobId) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  s.chains.set(jobId, tail);
  void tail.then(() => {
    if (s.chains.get(jobId) === tail) s.chains.delete(jobId);
  });
  return next;
}

/** A new job record (state QUEUED, no updates yet) as commands of `pipe`, one MULTI transaction. */
function createCommands(s: Store, pipe: TxPipeline, rec: NewJobRecord): void {
  const id = rec.job.jobId;
  const ownerKey = keys.ownerJobs(rec.job.owner);
  const now = Date.now();
  // queued in `pipe`: the transaction's replies come with the pipeline's exec()
  void pipe
    .multi()
    .hset(keys.job(id), {
      owner: rec.job.owner,
      state: String(rec.job.state),
      job: encodeJob(rec.job),
      dataset: Buffer.from(pbUpload.Dataset.encode(rec.dataset).finish()).toString("base64"),
      trace: JSON.stringify(rec.trace),
      params_hash: rec.paramsHash,
      deadline: String(rec.deadlineSeconds),
      result_of: rec.resultOf,
    })
    .expire(keys.job(id), s.retentionSeconds)
    .zadd(ownerKey, now, id)
    .zremrangebyscore(ownerKey, "-inf", now - s.retentionSeconds * 1000)
    .expire(ownerKey, s.retentionSeconds)
    .exec();
}

/**
 * Stores a new job record and applies its first transitions (`steps`, in order),
 * in one round trip: nobody else knows the job yet, so they are built on the
 * record itself. Rejects (and the caller discards the job) if one is refused.
 */
function create(s: Store, rec: NewJobRecord, steps: Step[], ctx?: Context): Promise<Extract<ApplyResult, { ok: true }>[]> {
  const jobId = rec.job.jobId;
  return serial(s, jobId, async () => {
    s.known.delete(jobId);
    const pipe = s.redis.pipeline() as WithApply<TxPipeline>;
    createCommands(s, pipe, rec);
    let job = rec.job;
    const built: { index: number; job: Job; seq: number }[] = [];
    for (const [i, step] of steps.entries()) {
      const change: Change = { step, from: fromStates(step.name), opts: { ctx } };
      if (!change.from.includes(job.state)) throw new Error(`job ${jobId}: ${step.name} does not apply to a ${stateName(job.state)} job`);
      const index = pipe.length;
      job = addChange(s, pipe, jobId, job, i + 1, change);
      built.push({ index, job, seq: i + 1 });
    }
    const res = (await pipe.exec()) ?? [];
    firstError(res);
    for (const b of built) {
      const got = Number(res[b.index]?.[1]);
      if (got !== b.seq) throw new Error(`job ${jobId}: change ${b.seq} of the new record was refused (${got})`);
    }
    remember(s, jobId, job, steps.length, rec);
    s.events.relay();
    return built.map((b) => ({ ok: true as const, job: b.job, sequence: b.seq, cancelRequested: false }));
  });
}

/** Removes a job that never got an update (used to undo a failed submit). */
async function discard(s: Store, jobId: string, owner: string): Promise<void> {
  s.known.delete(jobId);
  await s.redis
    .multi()
    .del(keys.job(jobId), keys.seq(jobId), keys.updates(jobId))
    .zrem(keys.ownerJobs(owner), jobId)
    .zrem(keys.activeJobs(owner), jobId)
    .exec();
}

/**
 * Counts the job against its owner's limit of queued or running jobs,
 * atomically with the check: true when it fits, else the number active.
 * The entry leaves when the job reaches a final state (or goes stale after
 * the record's retention, should a process die in between).
 */
async function claimActive(s: Store, owner: string, jobId: string, limit: number): Promise<true | number> {
  const now = Date.now();
  const r = Number(await s.redis.tdaClaimActive(keys.activeJobs(owner), String(now), String(now + s.retentionSeconds * 1000), jobId, String(limit)));
  return r === 1 ? true : -r;
}

async function load(s: Store, jobId: string): Promise<JobRecord | undefined> {
  const h = await s.redis.hgetall(keys.job(jobId));
  if (!h.job) return undefined;
  return {
    job: decodeJob(h.job),
    dataset: pbUpload.Dataset.decode(Buffer.from(h.dataset ?? "", "base64")),
    trace: h.trace ? (JSON.parse(h.trace) as Record<string, string>) : {},
    paramsHash: h.params_hash ?? "",
    deadlineSeconds: Number(h.deadline ?? 0),
    cancelRequested: h.cancel === "1",
    resultOf: h.result_of || jobId,
  };
}

/**
 * The record a worker starts a job from: the one this process created, when
 * creating it was this process's last change of the job (no read), else as
 * stored. What it holds besides the job never changes; the job and the cancel
 * flag may have changed in another process meanwhile, which the start
 * transition finds out (it is built on the sequence number, and reads the flag).
 */
async function loadForRun(s: Store, jobId: string): Promise<JobRecord | undefined> {
  const mine = s.known.get(jobId);
  if (mine?.created) return { ...mine.created, job: mine.job, cancelRequested: false };
  return load(s, jobId);
}

async function loadJob(s: Store, jobId: string): Promise<Job | undefined> {
  const b64 = await s.redis.hget(keys.job(jobId), "job");
  return b64 ? decodeJob(b64) : undefined;
}

async function loadMany(s: Store, jobIds: string[]): Promise<(Job | undefined)[]> {
  if (jobIds.length === 0) return [];
  const pipe = s.redis.pipeline();
  for (const id of jobIds) pipe.hget(keys.job(id), "job");
  const res = (await pipe.exec()) ?? [];
  return res.map(([err, v]) => (err || typeof v !== "string" ? undefined : decodeJob(v)));
}

/** Marks the job for cancellation; false when the record does not exist. */
async function requestCancel(s: Store, jobId: string): Promise<boolean> {
  const n = await s.redis.eval(
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cancel', '1') return 1 end return 0",
    1,
    keys.job(jobId),
  );
  return n === 1;
}

async function isCancelRequested(s: Store, jobId: string): Promise<boolean> {
  return (await s.redis.hget(keys.job(jobId), "cancel")) === "1";
}

/**
 * Applies one transition of the lifecycle (record + update + events), if the
 * job is in one of its from-states (narrowed by `opts.only`).
 */
function transition(s: Store, jobId: string, step: Step, opts: TransitionOptions = {}): Promise<ApplyResult> {
  const change: Change = { step, from: fromStates(step.name, opts.only), opts };
  return serial(s, jobId, () =>
    applyNow(s, jobId, change).catch((err: unknown) => {
      s.known.delete(jobId);
      throw err;
    }),
  );
}

/**
 * Builds the change of `current` (sequence number `seq`) and adds its
 * script call to `pipe`; returns the changed job.
 */
function addChange(s: Store, pipe: WithApply<TxPipeline>, jobId: string, current: Job, seq: number, change: Change): Job {
  const { step, opts } = change;
  const t = transitionOf(step);
  const job = pbJobs.Job.fromPartial(current);
  t.patch?.(job, step);
  job.state = t.to;
  const update: JobUpdate = {
    jobId,
    eventType: t.eventType,
    state: job.state,
    progress: job.progress,
    time: nowTimestamp(),
    message: t.message?.(step, job) ?? "",
    errorCode: job.errorCode,
    sequence: 0,
  };
  const updateB64 = Buffer.from(pbJobs.JobUpdate.encode(update).finish()).toString("base64");
  const event = s.events.encode(
    {
      topic: "tda_jobs",
      key: jobId,
      eventType: t.eventType,
      data: {
        $case: "job",
        value: {
          jobId,
          datasetId: job.datasetId,
          owner: job.owner,
          state: stateName(job.state),
          params: job.params,
          progress: job.progress,
          engine: job.engine,
          attempt: t.attempt?.(step) ?? job.attempts,
          errorCode: job.errorCode,
          errorMessage: job.errorMessage,
          cacheHit: job.cacheHit,
          sequence: seq,
        },
      },
    },
    opts.ctx,
  );
  const more = (t.alsoPublish?.(job, step) ?? []).map((e) => s.events.encode(e, opts.ctx).record);
  pipe.tdaApplyJob(
    keys.job(jobId),
    keys.seq(jobId),
    keys.updates(jobId),
    s.events.outboxKey,
    opts.requires ?? keys.job(jobId),
    keys.activeJobs(job.owner),
    change.from.join(","),
    String(job.state),
    encodeJob(job),
    updateB64,
    keys.updatesChannel(jobId),
    String(s.retentionSeconds),
    String(seq),
    isTerminal(job.state) ? "1" : "0",
    jobId,
    event.record,
    ...more,
  );
  return job;
}

async function applyNow(s: Store, jobId: string, change: Change): Promise<ApplyResult> {
  const { opts } = change;
  const eventType = transitionOf(change.step).eventType;
  let before = opts.before;
  for (let tries = 0; ; tries++) {
    // built on this process's own last change when it has one (checked by
    // the script), else on a fresh read
    const mine = tries === 0 ? s.known.get(jobId) : undefined;
    let current: Job | undefined;
    let seq: number;
    if (mine) {
      current = mine.job;
      seq = mine.seq + 1;
    } else {
      const res = (await s.redis.pipeline().hget(keys.job(jobId), "job").get(keys.seq(jobId)).exec()) ?? [];
      firstError(res);
      const jobB64 = res[0]?.[1];
      current = typeof jobB64 === "string" ? decodeJob(jobB64) : undefined;
      seq = Number(res[1]?.[1] ?? 0) + 1;
    }
    if (!current || !change.from.includes(current.state)) {
      if (mine) continue; // what we remember may be stale: read
      s.known.delete(jobId);
      return { ok: false, job: current };
    }
    const pipe = s.redis.pipeline() as WithApply<TxPipeline>;
    before?.(pipe);
    const first = pipe.length;
    const job = addChange(s, pipe, jobId, current, seq, change);
    if (opts.readCancel) pipe.hget(keys.job(jobId), "cancel");
    const res = (await pipe.exec()) ?? [];
    before = undefined;
    firstError(res);
    const got = Number(res[first]?.[1]);
    if (got === -4) throw new Error(`job ${jobId}: ${opts.requires} is missing, the change was not applied`);
    if (got < 0) {
      s.known.delete(jobId);
      if ((got === -3 || mine) && tries < 20) continue;
      return { ok: false, job: await loadJob(s, jobId) };
    }
    remember(s, jobId, job, seq);
    s.events.relay();
    // lifecycle changes at info (with the request's trace_id/span_id), progress ticks at debug
    if (change.step.name === "progress") s.log.debug({ jobId, eventType, seq }, "job update");
    else s.log.info({ jobId, eventType, seq }, "job update");
    return { ok: true, job, sequence: seq, cancelRequested: opts.readCancel ? res[first + 1]?.[1] === "1" : false };
  }
}

/** Updates stored so far (replay), in sequence order. */
async function updates(s: Store, jobId: string): Promise<JobUpdate[]> {
  const list = await s.redis.lrange(keys.updates(jobId), 0, -1);
  return list.map(parseUpdateRecord);
}

/**
 * An owner's job ids, newest first, starting at the cursor: `skip` entries of
 * score `score` were already seen (same-score members come in a fixed order).
 */
async function ownerJobIds(
  s: Store,
  owner: string,
  cursor: { score: number; skip: number } | undefined,
  count: number,
): Promise<{ id: string; score: number }[]> {
  const max = cursor ? String(cursor.score) : "+inf";
  const raw = await s.redis.zrevrangebyscore(keys.ownerJobs(owner), max, "-inf", "WITHSCORES", "LIMIT", cursor?.skip ?? 0, count);
  const out: { id: string; score: number }[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push({ id: raw[i]!, score: Number(raw[i + 1]) });
  return out;
}

/** The job and its updates so far, read in this order in one round trip (a finished job's list holds its last update). */
async function snapshot(s: Store, jobId: string): Promise<{ job: Job | undefined; updates: JobUpdate[] }> {
  const res = (await s.redis.pipeline().hget(keys.job(jobId), "job").lrange(keys.updates(jobId), 0, -1).exec()) ?? [];
  firstError(res);
  const b64 = res[0]?.[1];
  const list = (res[1]?.[1] as string[] | undefined) ?? [];
  return { job: typeof b64 === "string" ? decodeJob(b64) : undefined, updates: list.map(parseUpdateRecord) };
}

export function createJobStore(deps: JobStoreDeps) {
  defineApply(deps.redis);
  const s: Store = { ...deps, redis: deps.redis as Store["redis"], chains: new Map(), known: new Map() };
  return {
    create: (rec: NewJobRecord, steps: Step[], ctx?: Context) => create(s, rec, steps, ctx),
    discard: (jobId: string, owner: string) => discard(s, jobId, owner),
    claimActive: (owner: string, jobId: string, limit: number) => claimActive(s, owner, jobId, limit),
    load: (jobId: string) => load(s, jobId),
    loadForRun: (jobId: string) => loadForRun(s, jobId),
    loadJob: (jobId: string) => loadJob(s, jobId),
    loadMany: (jobIds: string[]) => loadMany(s, jobIds),
    requestCancel: (jobId: string) => requestCancel(s, jobId),
    isCancelRequested: (jobId: string) => isCancelRequested(s, jobId),
    transition: (jobId: string, step: Step, opts?: TransitionOptions) => transition(s, jobId, step, opts),
    updates: (jobId: string) => updates(s, jobId),
    snapshot: (jobId: string) => snapshot(s, jobId),
    ownerJobIds: (owner: string, cursor: { score: number; skip: number } | undefined, count: number) => ownerJobIds(s, owner, cursor, count),
    serial: <T>(jobId: string, fn: () => Promise<T>) => serial(s, jobId, fn),
  };
}
