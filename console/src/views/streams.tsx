// Live streams.
//   #/streams       the tenant's streams (GET /api/v1/stream/streams, refreshed
//                   every 5 s): published points, windows, last Betti numbers,
//                   change score and alert
//   #/streams/ID    one stream: the pipeline's status (GET /api/v1/stream/status,
//                   every 3 s) and its windows live from the watch stream
//                   (GET /api/v1/stream/watch, NDJSON): charts of the Betti
//                   numbers, total persistence, entropy and change score per
//                   window, the latest windows and the alerts. A dropped watch
//                   reconnects after the last event it saw (`after`), so no
//                   window is shown twice or missed. The stream's settings can
//                   be changed there too (stream-config.tsx).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  api,
  toNumber,
  watchStream,
  type JsonDouble,
  type StreamAlert,
  type StreamConfigJson,
  type StreamFeatures,
  type StreamStatus,
  type StreamSummary,
} from "../api";
import { dimColour } from "../bars";
import { SeriesChart, type Series } from "../charts/series";
import { count, num, when } from "../format";
import { StreamConfigForm } from "./stream-config";
import { ErrorBox } from "./widgets";

/** Windows kept in the page per stream (the API keeps the last 500). */
const KEPT = 500;
const HISTORY = 300;

function d(v: JsonDouble | undefined): string {
  return v === undefined ? "—" : num(toNumber(v));
}

function bettiOf(f: StreamFeatures | undefined): string {
  if (!f) return "—";
  return f.dimensions.map((x) => `β${x.dimension}=${x.betti}`).join(" ");
}

export function StreamsView({ id, navigate }: { id: string; navigate: (hash: string) => void }) {
  // keyed by the stream: another stream's page starts from scratch (its settings form too)
  return id ? <StreamView key={id} id={id} /> : <StreamList navigate={navigate} />;
}

function usePoll<T>(fn: (signal: AbortSignal) => Promise<T>, everyMs: number, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = (): void => {
      fn(ctl.signal)
        .then(
          (v) => {
            setData(v);
            setError(undefined);
          },
          (e: unknown) => {
            if ((e as Error)?.name !== "AbortError") setError(e);
          },
        )
        .finally(() => {
          if (!ctl.signal.aborted) timer = setTimeout(poll, everyMs);
        });
    };
    poll();
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

function StreamList({ navigate }: { navigate: (hash: string) => void }) {
  const [id, setId] = useState("");
  const { data, error } = usePoll((s) => api.listStreams(s), 5000, []);
  const streams: StreamSummary[] = data?.streams ?? [];
  return (
    <section class="card" aria-labelledby="streams-title">
      <h2 id="streams-title">Live streams</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (id.trim()) navigate(`#/streams/${encodeURIComponent(id.trim())}`);
        }}
      >
        <label>
          stream id{" "}
          <input
            value={id}
            onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)}
            pattern="[A-Za-z0-9._:\-]{1,128}"
            required
            data-testid="stream-id-input"
          />
        </label>
        <button type="submit">follow</button>
      </form>
      <ErrorBox error={error} />
      {data && streams.length === 0 && (
        <p class="muted">
          No streams yet: publish points with <code>POST /api/v1/stream/publish</code> (and set the window with <code>POST /api/v1/stream/configure</code>).
        </p>
      )}
      {streams.length > 0 && (
        <div class="table-scroll">
          <table data-testid="streams">
            <thead>
              <tr>
                <th scope="col">stream</th>
                <th scope="col">points</th>
                <th scope="col">windows</th>
                <th scope="col">last Betti numbers</th>
                <th scope="col">change score</th>
                <th scope="col">last alert</th>
                <th scope="col">last publish</th>
              </tr>
            </thead>
            <tbody>
              {streams.map((s) => (
                <tr key={s.stream_id} data-stream={s.stream_id}>
                  <td>
                    <a href={`#/streams/${encodeURIComponent(s.stream_id)}`}>
                      <code>{s.stream_id}</code>
                    </a>
                    {s.configured ? "" : <span class="muted"> (defaults)</span>}
                  </td>
                  <td class="num">{count(s.points_published)}</td>
                  <td class="num" data-testid="stream-windows-emitted">
                    {count(s.windows_emitted)}
                  </td>
                  <td>{bettiOf(s.last_features)}</td>
                  <td class="num">{d(s.last_features?.bottleneck_distance)}</td>
                  <td>
                    {s.last_alert ? (
                      <span class="warn">
                        window {s.last_alert.window_seq}: {d(s.last_alert.change_score)}
                      </span>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td>{when(s.last_active_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="muted">Refreshed every 5 s. Open a stream to watch its windows arrive.</p>
    </section>
  );
}

type Connection = "connecting" | "live" | "reconnecting";

interface Live {
  windows: StreamFeatures[];
  alerts: StreamAlert[];
  connection: Connection;
  error: unknown;
}

/** The stream's windows and alerts from the watch stream, reconnecting after its last event. */
function useStreamWatch(id: string): Live {
  const [live, setLive] = useState<Live>({ windows: [], alerts: [], connection: "connecting", error: undefined });
  useEffect(() => {
    const ctl = new AbortController();
    const windows = new Map<number, StreamFeatures>();
    const alerts = new Map<number, StreamAlert>();
    let cursor = "";
    let connection: Connection = "connecting";
    let error: unknown;
    let frame = 0;
    // many events in one go (the history): one render per animation frame
    const publish = (): void => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        const ws = [...windows.values()].sort((a, b) => Number(a.window_seq) - Number(b.window_seq));
        const as = [...alerts.values()].sort((a, b) => Number(b.window_seq) - Number(a.window_seq));
        setLive({ windows: ws, alerts: as, connection, error });
      });
    };
    const run = async (): Promise<void> => {
      let failures = 0;
      while (!ctl.signal.aborted) {
        try {
          await watchStream(
            id,
            {
              history: HISTORY,
              after: cursor || undefined,
              onOpen: () => {
                connection = "live";
                error = undefined;
                failures = 0;
                publish();
              },
            },
            (e) => {
              cursor = e.cursor;
              if (e.features) {
                windows.set(Number(e.features.window_seq), e.features);
                if (windows.size > KEPT) windows.delete(Math.min(...windows.keys()));
              }
              if (e.alert) alerts.set(Number(e.alert.window_seq), e.alert);
              publish();
            },
            ctl.signal,
          );
        } catch (err) {
          if (ctl.signal.aborted) return;
          error = err;
        }
        // the stream ended or failed: come back after the last event seen
        failures++;
        connection = "reconnecting";
        publish();
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))));
      }
    };
    void run();
    return () => {
      ctl.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id]);
  return live;
}

function windowText(c: StreamConfigJson | undefined): string {
  if (!c) return "—";
  if (c.count) return `${c.count.size} points, sliding by ${c.count.slide}`;
  if (c.time)
    return `${c.time.size_ms} ms, sliding by ${c.time.slide_ms} ms (watermark delay ${c.time.watermark_delay_ms} ms, lateness ${c.time.allowed_lateness_ms} ms)`;
  return "—";
}

function StatusFacts({ status }: { status: StreamStatus }) {
  const job = status.job;
  const c = status.config;
  return (
    <dl class="facts" data-testid="stream-status">
      <dt>Flink job</dt>
      <dd data-testid="stream-job-state">
        {job?.state ?? "—"}
        {job && Number(job.restarts) > 0 ? ` (${job.restarts} restarts)` : ""}
      </dd>
      <dt>last checkpoint</dt>
      <dd>{job && job.last_checkpoint_id !== "0" ? `#${job.last_checkpoint_id}, ${when(job.last_checkpoint_time)}` : "—"}</dd>
      <dt>consumer lag</dt>
      <dd>{job && job.consumer_lag !== "-1" ? `${count(job.consumer_lag)} record${job.consumer_lag === "1" ? "" : "s"}` : "unknown"}</dd>
      <dt>published</dt>
      <dd>
        {count(status.points_published)} points in {count(status.events_published)} batches
      </dd>
      <dt>windows emitted</dt>
      <dd data-testid="stream-windows-emitted">{count(status.windows_emitted)}</dd>
      <dt>window</dt>
      <dd>{windowText(c)}</dd>
      <dt>homology</dt>
      <dd>
        H0{c && c.max_dim >= 1 ? `…H${c.max_dim}` : ""}
        {c?.threshold !== undefined ? `, threshold ${d(c.threshold)}` : ""}
      </dd>
      <dt>Betti scale</dt>
      <dd>{c?.betti_scale !== undefined ? d(c.betti_scale) : c?.threshold !== undefined ? `the threshold` : "end of the filtration"}</dd>
      <dt>alert level</dt>
      <dd data-testid="stream-alert-level">{c?.alert_level !== undefined ? d(c.alert_level) : "none (no alerts)"}</dd>
    </dl>
  );
}

function StreamView({ id }: { id: string }) {
  const { data: status, error, reload } = usePoll((s) => api.streamStatus(id, s), 3000, [id]);
  const live = useStreamWatch(id);
  const dims = useMemo(() => {
    const ds = new Set<number>();
    for (const w of live.windows) for (const x of w.dimensions) ds.add(x.dimension);
    return [...ds].sort((a, b) => a - b);
  }, [live.windows]);
  const alertLevel = status?.config?.alert_level !== undefined ? toNumber(status.config.alert_level) : undefined;
  const charts = useMemo(() => {
    const xs = live.windows.map((w) => Number(w.window_seq));
    const per = (k: number, f: (x: StreamFeatures["dimensions"][number]) => number): (number | null)[] =>
      live.windows.map((w) => {
        const x = w.dimensions.find((y) => y.dimension === k);
        return x ? f(x) : null;
      });
    const betti: Series[] = dims.map((k) => ({ label: `β${k}`, colour: dimColour(k), values: per(k, (x) => Number(x.betti)), stepped: true }));
    const total: Series[] = dims.map((k) => ({ label: `H${k}`, colour: dimColour(k), values: per(k, (x) => toNumber(x.total_persistence)) }));
    const entropy: Series[] = dims.map((k) => ({ label: `H${k}`, colour: dimColour(k), values: per(k, (x) => toNumber(x.entropy)) }));
    const opt = (v: JsonDouble | undefined): number | null => (v === undefined ? null : toNumber(v));
    const change: Series[] = [
      { label: "bottleneck", colour: "#a1261b", values: live.windows.map((w) => opt(w.bottleneck_distance)) },
      { label: "1-Wasserstein", colour: "#0b5cad", values: live.windows.map((w) => opt(w.wasserstein_distance)) },
    ];
    if (alertLevel !== undefined) change.push({ label: "alert level", colour: "#5b6575", values: xs.map(() => alertLevel), dash: [6, 4] });
    return { xs, betti, total, entropy, change };
  }, [live.windows, dims.join(","), alertLevel]);
  const alertSeqs = useMemo(() => new Set(live.alerts.map((a) => a.window_seq)), [live.alerts]);
  const recent = live.windows.slice(-15).reverse();
  return (
    <>
      <section class="card" aria-labelledby="stream-title">
        <h2 id="stream-title">
          Stream <code>{id}</code>{" "}
          <span class={`badge live-${live.connection}`} data-testid="stream-live" data-state={live.connection}>
            {live.connection === "live" ? "live" : live.connection}
          </span>
        </h2>
        <p>
          <a href="#/streams">all streams</a>
        </p>
        <ErrorBox error={error ?? live.error} />
        {status && <StatusFacts status={status} />}
        {status && <StreamConfigForm id={id} config={status.config} onSaved={reload} />}
      </section>
      <section class="card" aria-labelledby="windows-title">
        <h2 id="windows-title">Windows</h2>
        {live.windows.length === 0 ? (
          <p class="muted" data-testid="stream-no-windows">
            No window yet: they appear here as the Flink job publishes them.
          </p>
        ) : (
          <>
            <div class="stream-charts">
              <SeriesChart title="Betti numbers at the stream's scale" xs={charts.xs} series={charts.betti} yLabel="β" testId="chart-betti" />
              <div>
                <SeriesChart
                  title="Change score: distance to the previous window"
                  xs={charts.xs}
                  series={charts.change}
                  yLabel="distance"
                  testId="chart-change"
                />
                {live.windows.every((w) => w.bottleneck_distance === undefined) && (
                  <p class="muted">No change score yet: it is given from a stream's second window on (the engine's diagram distance to the previous window).</p>
                )}
              </div>
              <SeriesChart title="Total persistence" xs={charts.xs} series={charts.total} yLabel="Σ lifetime" testId="chart-total" />
              <SeriesChart title="Persistence entropy" xs={charts.xs} series={charts.entropy} yLabel="entropy" testId="chart-entropy" />
            </div>
            <h3>Latest windows</h3>
            <div class="table-scroll">
              <table data-testid="stream-windows" data-windows={live.windows.length} data-last-seq={live.windows.at(-1)?.window_seq}>
                <caption class="sr-only">The stream's latest windows, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">window</th>
                    <th scope="col">points</th>
                    {dims.map((k) => (
                      <th scope="col" key={`b${k}`}>
                        β{k}
                      </th>
                    ))}
                    {dims.map((k) => (
                      <th scope="col" key={`t${k}`}>
                        total H{k}
                      </th>
                    ))}
                    {dims.map((k) => (
                      <th scope="col" key={`e${k}`}>
                        entropy H{k}
                      </th>
                    ))}
                    <th scope="col">bottleneck</th>
                    <th scope="col">1-Wasserstein</th>
                  </tr>
                </thead>
                <tbody>
                  {recent.map((w) => (
                    <tr key={w.window_seq} data-seq={w.window_seq} class={alertSeqs.has(w.window_seq) ? "alert-row" : undefined}>
                      <td class="num">
                        {w.window_seq}
                        {alertSeqs.has(w.window_seq) ? <span class="warn"> ⚠ alert</span> : ""}
                      </td>
                      <td class="num">{count(w.points)}</td>
                      {dims.map((k) => (
                        <td class="num" key={`b${k}`} data-betti={k}>
                          {w.dimensions.find((x) => x.dimension === k)?.betti ?? "—"}
                        </td>
                      ))}
                      {dims.map((k) => (
                        <td class="num" key={`t${k}`}>
                          {d(w.dimensions.find((x) => x.dimension === k)?.total_persistence)}
                        </td>
                      ))}
                      {dims.map((k) => (
                        <td class="num" key={`e${k}`}>
                          {d(w.dimensions.find((x) => x.dimension === k)?.entropy)}
                        </td>
                      ))}
                      <td class="num" data-testid="bottleneck">
                        {d(w.bottleneck_distance)}
                      </td>
                      <td class="num">{d(w.wasserstein_distance)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
      <section class="card" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Alerts</h2>
        {live.alerts.length === 0 ? (
          <p class="muted">
            {alertLevel === undefined
              ? "No alert level is set for this stream (ConfigureStream's alert_level)."
              : `None yet: an alert is raised when the change score reaches ${num(alertLevel)}.`}
          </p>
        ) : (
          <ul class="alerts" data-testid="stream-alerts" aria-live="polite">
            {live.alerts.map((a) => (
              <li key={a.window_seq} data-seq={a.window_seq}>
                <strong>window {a.window_seq}</strong>: change score {d(a.change_score)} (1-Wasserstein {d(a.wasserstein_distance)}) reached the alert level{" "}
                {d(a.alert_level)}; the previous window's was {d(a.previous_score)}
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
