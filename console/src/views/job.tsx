// One job, live: the watch stream (NDJSON) drives the progress bar, stage,
// columns and memory, and lists the job's lifecycle events; once completed,
// the result is shown. Also the job's trace, when the API can give it.

import { useEffect, useState } from "preact/hooks";
import { api, TERMINAL_STATES, watchJob, type Job, type JobUpdate, type Progress } from "../api";
import { bytes, count, enumLabel, seconds, when } from "../format";
import { Result } from "./result";
import { TraceView } from "./trace";
import { ErrorBox, ProgressBar, StateBadge } from "./widgets";

interface Live {
  job?: Job;
  updates: JobUpdate[];
  state: string;
  progress?: Progress;
  error?: unknown;
}

/** Follows the job: its record once, then the watch stream until the job ends. */
function useLiveJob(id: string): Live {
  const [live, setLive] = useState<Live>({ updates: [], state: "" });
  useEffect(() => {
    const ctl = new AbortController();
    setLive({ updates: [], state: "" });
    api.getJob(id, ctl.signal).then(
      ({ job }) => setLive((l) => ({ ...l, job, state: l.state || job.state, progress: l.progress ?? job.progress })),
      (error: unknown) => setLive((l) => ({ ...l, error })),
    );
    const onUpdate = (u: JobUpdate) =>
      setLive((l) => ({
        ...l,
        updates: [...l.updates, u],
        state: u.state || l.state,
        progress: u.progress && u.progress.stage !== "STAGE_UNSPECIFIED" ? u.progress : l.progress,
      }));
    watchJob(id, onUpdate, ctl.signal)
      .then(() => api.getJob(id, ctl.signal))
      .then(
        ({ job }) => setLive((l) => ({ ...l, job, state: job.state })),
        (error: unknown) => {
          if ((error as Error)?.name !== "AbortError") setLive((l) => ({ ...l, error }));
        },
      );
    return () => ctl.abort();
  }, [id]);
  return live;
}

function percent(state: string, p?: Progress): number {
  if (state === "JOB_STATE_COMPLETED") return 100;
  return Math.max(0, Math.min(100, (p?.fraction ?? 0) * 100));
}

export function JobView({ id }: { id: string }) {
  const live = useLiveJob(id);
  const { job, state, progress } = live;
  const done = TERMINAL_STATES.has(state);
  const [cancelError, setCancelError] = useState<unknown>(undefined);
  return (
    <>
      <section class="card" aria-labelledby="job-title">
        <h2 id="job-title">
          Job <code>{id}</code> <StateBadge state={state || "JOB_STATE_UNSPECIFIED"} />
        </h2>
        <ErrorBox error={live.error} />
        {job && <JobFacts job={job} />}
        <ProgressBar value={percent(state, progress)} label="job progress" testId="job-progress" />
        <ProgressFacts progress={progress} state={state} />
        {job?.error_message && (
          <div class="error" role="alert">
            <p>
              <b>{job.error_code}</b>: {job.error_message}
            </p>
          </div>
        )}
        {!done && state !== "" && (
          <button type="button" onClick={() => api.cancelJob(id).catch(setCancelError)}>
            cancel the job
          </button>
        )}
        <ErrorBox error={cancelError} />
      </section>
      {state === "JOB_STATE_COMPLETED" && <Result jobId={id} />}
      <Events updates={live.updates} />
      <TraceView jobId={id} traceId={job?.trace_id ?? ""} done={done} />
    </>
  );
}

function JobFacts({ job }: { job: Job }) {
  const p = job.params;
  return (
    <dl class="facts">
      <dt>dataset</dt>
      <dd>
        <a href={`#/?dataset=${encodeURIComponent(job.dataset_id)}`}>{job.dataset_id}</a>
      </dd>
      <dt>filtration</dt>
      <dd>
        {enumLabel(p?.algorithm, "ALGORITHM_")}, dimensions 0–{p?.max_dim ?? 0}
        {p?.threshold !== undefined ? `, threshold ${p.threshold}` : ""}
        {p?.modulus && p.modulus > 2 ? `, Z/${p.modulus}` : ""}
      </dd>
      <dt>submitted</dt>
      <dd>{when(job.created_at)}</dd>
      {job.finished_at && (
        <>
          <dt>finished</dt>
          <dd>
            {when(job.finished_at)}
            {job.cache_hit ? " (from the result cache)" : ""}
          </dd>
        </>
      )}
    </dl>
  );
}

function ProgressFacts({ progress, state }: { progress?: Progress; state: string }) {
  if (!progress) return <p class="muted">{state ? enumLabel(state, "JOB_STATE_") : "connecting…"}</p>;
  const total = Number(progress.columns_total);
  return (
    <p class="progress-facts" data-testid="progress-facts">
      stage <b>{enumLabel(progress.stage, "STAGE_")}</b>
      {progress.stage === "STAGE_REDUCTION" || progress.stage === "STAGE_ASSEMBLY" ? ` (dimension ${progress.dimension})` : ""}
      {total > 0 ? ` · columns ${count(progress.columns_done)} of ${count(total)}` : ""}
      {Number(progress.bytes_in_use) > 0 ? ` · memory ${bytes(progress.bytes_in_use)}` : ""}
      {progress.stage !== "STAGE_DONE" && typeof progress.eta_seconds === "number" ? ` · about ${seconds(progress.eta_seconds)} left` : ""}
    </p>
  );
}

function Events({ updates }: { updates: JobUpdate[] }) {
  const shown = updates.filter((u, i) => u.event_type !== "job.progress" || i === updates.length - 1 || updates[i + 1]?.event_type !== "job.progress");
  return (
    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Lifecycle events</h2>
      {updates.length === 0 ? (
        <p class="muted">none yet</p>
      ) : (
        <div class="table-scroll">
          <table class="events" data-testid="events">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">time</th>
                <th scope="col">event</th>
                <th scope="col">state</th>
                <th scope="col">detail</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((u) => (
                <tr key={u.sequence}>
                  <td>{u.sequence}</td>
                  <td>{when(u.time)}</td>
                  <td>
                    <code>{u.event_type}</code>
                  </td>
                  <td>{enumLabel(u.state, "JOB_STATE_")}</td>
                  <td>
                    {u.error_code ? `${u.error_code}: ` : ""}
                    {u.message}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown.length < updates.length && <p class="muted">{updates.length - shown.length} intermediate progress events folded.</p>}
    </section>
  );
}
