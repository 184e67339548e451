import type { ServerWritableStream } from "@grpc/grpc-js";
import { notFound, pbJobs, tenantOf, writeUnlessCancelled } from "@tda/common";
import { isTerminal, parseUpdateRecord, type JobStore } from "./job-store";
import { keys } from "./keys";
import type { Subscriber } from "./subscriber";

type WatchCall = ServerWritableStream<pbJobs.WatchJobRequest, pbJobs.WatchJobResponse>;

export interface WatchDeps {
  store: JobStore;
  subscriber: Subscriber;
  /** A watch that heard nothing for this long re-reads the job (lost pub/sub messages). */
  resyncMs: number;
  /** Counts the WatchJob streams in progress (the scheduler's tda_scheduler_job_watches gauge). */
  active?: { streams: number };
}

// WatchJob: the job's updates so far (replay list), then the live ones (the
// update channel), spliced by sequence number, until a final state.

/** Live updates of one job, queued until the stream takes them; `wait` resolves on news, close or `resyncMs`. */
async function follow(deps: WatchDeps, call: WatchCall, jobId: string) {
  const state = { pending: [] as pbJobs.JobUpdate[], closed: false, resync: false };
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onClose = () => {
    state.closed = true;
    wake?.();
  };
  call.on("cancelled", onClose);
  call.on("close", onClose);
  if (call.cancelled) state.closed = true; // cancelled before the listeners were there
  const unsubscribe = await deps.subscriber.subscribe(keys.updatesChannel(jobId), (msg) => {
    state.pending.push(parseUpdateRecord(msg));
    wake?.();
  });
  const offReconnect = deps.subscriber.onReconnect(() => {
    state.resync = true;
    wake?.();
  });
  return {
    state,
    async wait(): Promise<void> {
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(() => {
          state.resync = true;
          r();
        }, deps.resyncMs);
      });
      clearTimeout(timer);
      wake = undefined;
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      offReconnect();
      call.off("cancelled", onClose);
      call.off("close", onClose);
      await unsubscribe();
    },
  };
}

export async function watchJob(deps: WatchDeps, call: WatchCall): Promise<void> {
  const owner = tenantOf(call.metadata);
  const jobId = call.request.jobId;
  // listen first, then read the job and its list (in that order, one round
  // trip): an update lands in the list, the live messages or both, and the
  // sequence numbers drop the duplicates
  if (deps.active) deps.active.streams++;
  let live: Awaited<ReturnType<typeof follow>>;
  try {
    live = await follow(deps, call, jobId);
  } catch (err) {
    if (deps.active) deps.active.streams--;
    throw err;
  }
  const { state } = live;
  try {
    const snap = await deps.store.snapshot(jobId);
    if (!snap.job || snap.job.owner !== owner) throw notFound(`job "${jobId}"`);
    let last = 0;
    // true: the watch is over (a final state was sent, or the client went away meanwhile)
    const emit = async (u: pbJobs.JobUpdate): Promise<boolean> => {
      if (u.sequence <= last) return false;
      last = u.sequence;
      if (!(await writeUnlessCancelled(call, { update: u }))) {
        state.closed = true;
        return true;
      }
      return isTerminal(u.state);
    };
    // a job finished when read has its terminal update in the list read after
    // it (a finished job whose update log expired ends after the list too)
    for (const u of snap.updates) if (await emit(u)) return;
    if (isTerminal(snap.job.state)) return;
    while (!state.closed) {
      while (state.pending.length > 0) if (await emit(state.pending.shift()!)) return;
      if (state.resync) {
        // the live messages may have a gap: the list has every update
        state.resync = false;
        const again = await deps.store.snapshot(jobId);
        for (const u of again.updates) if (await emit(u)) return;
        if (!again.job || isTerminal(again.job.state)) return;
        continue;
      }
      await live.wait();
    }
  } finally {
    if (deps.active) deps.active.streams--;
    await live.stop();
  }
}
