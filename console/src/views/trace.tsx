// A job's trace: the spans of every process that worked on it, drawn as a
// waterfall from GET /api/v1/tda/jobs/{job_id}/trace (the REST proxy asks the
// trace store's query API). Without a trace store configured on the proxy,
// only the trace id is shown.

import { useEffect, useState } from "preact/hooks";
import { ApiError, enc, getJson } from "../api";
import { features } from "../features";
import { ErrorBox } from "./widgets";

export interface Span {
  span_id: string;
  parent_span_id: string;
  service: string;
  name: string;
  /** Microseconds since the epoch. */
  start_us: number;
  duration_us: number;
  error: boolean;
}

export interface TraceJson {
  trace_id: string;
  spans: Span[];
}

/** Spans in tree order (parents before children), with their depth. */
export function treeOrder(spans: Span[]): { span: Span; depth: number }[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const kids = new Map<string, Span[]>();
  for (const s of spans) {
    const p = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : "";
    kids.set(p, [...(kids.get(p) ?? []), s]);
  }
  const out: { span: Span; depth: number }[] = [];
  const walk = (p: string, depth: number) => {
    for (const s of (kids.get(p) ?? []).sort((a, b) => a.start_us - b.start_us)) {
      out.push({ span: s, depth });
      if (depth < 64) walk(s.span_id, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

export function TraceView({ jobId, traceId, done }: { jobId: string; traceId: string; done: boolean }) {
  const [trace, setTrace] = useState<TraceJson | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [served, setServed] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    void features().then((f) => setServed(f.trace));
  }, []);
  useEffect(() => {
    if (!done || !served || !traceId) return;
    const ctl = new AbortController();
    getJson<TraceJson>(`/api/v1/tda/jobs/${enc(jobId)}/trace`, ctl.signal).then(setTrace, (e: unknown) => {
      if ((e as Error)?.name !== "AbortError") setError(e);
    });
    return () => ctl.abort();
  }, [jobId, done, served, traceId]);
  const unavailable = error instanceof ApiError && error.status === 503;
  return (
    <section class="card" aria-labelledby="trace-title">
      <h2 id="trace-title">Trace</h2>
      <p>
        trace id <code data-testid="trace-id">{traceId || "—"}</code>
      </p>
      {served === false && <p class="muted">No trace store is connected to this API: look the id up in your trace viewer.</p>}
      {served && !done && <p class="muted">The trace is drawn once the job has ended.</p>}
      {unavailable && <p class="muted">The trace store is unavailable ({(error as ApiError).message}).</p>}
      {error && !unavailable ? <ErrorBox error={error} /> : null}
      {trace && <Waterfall trace={trace} />}
    </section>
  );
}

function Waterfall({ trace }: { trace: TraceJson }) {
  if (trace.spans.length === 0) return <p class="muted">The trace store has no spans for this trace yet.</p>;
  const t0 = Math.min(...trace.spans.map((s) => s.start_us));
  const t1 = Math.max(...trace.spans.map((s) => s.start_us + s.duration_us));
  const span = Math.max(t1 - t0, 1);
  return (
    <table class="waterfall" data-testid="trace-spans">
      <thead>
        <tr>
          <th scope="col">service</th>
          <th scope="col">span</th>
          <th scope="col">duration</th>
          <th scope="col" class="wf-col">
            timeline ({(span / 1000).toFixed(1)} ms)
          </th>
        </tr>
      </thead>
      <tbody>
        {treeOrder(trace.spans).map(({ span: s, depth }) => (
          <tr key={s.span_id} class={s.error ? "span-error" : ""}>
            <td>{s.service}</td>
            <td style={{ paddingLeft: `${0.4 + depth * 0.9}em` }}>{s.name}</td>
            <td>{(s.duration_us / 1000).toFixed(2)} ms</td>
            <td class="wf-col">
              <div class="wf-track">
                <div class="wf-bar" style={{ left: `${(100 * (s.start_us - t0)) / span}%`, width: `${Math.max((100 * s.duration_us) / span, 0.3)}%` }} />
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
