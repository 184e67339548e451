// Live streams: a stream's counters from GET /api/v1/stream/status, polled
// while the page is open. (Per-window features and alerts appear here once the
// API serves them.)

import { useEffect, useState } from "preact/hooks";
import { api, type StreamStatus } from "../api";
import { count } from "../format";
import { ErrorBox } from "./widgets";

export function StreamsView() {
  const [id, setId] = useState("");
  const [watching, setWatching] = useState("");
  const [status, setStatus] = useState<StreamStatus | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (!watching) return;
    let live = true;
    const poll = () =>
      api.streamStatus(watching).then(
        (s) => {
          if (!live) return;
          setStatus(s);
          setError(undefined);
        },
        (e: unknown) => live && setError(e),
      );
    void poll();
    const t = setInterval(poll, 2000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [watching]);
  return (
    <section class="card" aria-labelledby="streams-title">
      <h2 id="streams-title">Live streams</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setStatus(undefined);
          setWatching(id.trim());
        }}
      >
        <label>
          stream id <input value={id} onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} pattern="[A-Za-z0-9._:\-]{1,128}" required />
        </label>
        <button type="submit">follow</button>
      </form>
      <ErrorBox error={error} />
      {status && (
        <dl class="facts" aria-live="polite" data-testid="stream-status">
          <dt>stream</dt>
          <dd><code>{status.stream_id}</code></dd>
          <dt>batches published</dt>
          <dd>{count(status.events_published)}</dd>
          <dt>points published</dt>
          <dd>{count(status.points_published)}</dd>
          <dt>topic</dt>
          <dd><code>{status.topic}</code> ({status.broker_available ? "broker reachable" : "broker unreachable"})</dd>
        </dl>
      )}
      <p class="muted">Points are published with <code>POST /api/v1/stream/publish</code>; this page refreshes every 2 s.</p>
    </section>
  );
}
