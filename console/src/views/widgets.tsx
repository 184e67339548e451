// Small shared pieces: progress bar, error box, job state badge, loader hook.

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { enumLabel } from "../format";

export function ProgressBar({ value, label, testId }: { value: number; label: string; testId?: string }) {
  const v = Math.max(0, Math.min(100, value));
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v)} data-testid={testId}>
      <div class="progress-fill" style={{ width: `${v}%` }} />
      <span class="progress-text">{Math.floor(v)} %</span>
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, String((error as Error)?.message ?? error));
  return (
    <div class="error" role="alert">
      <p>
        {e.message}
        {e.status ? ` (HTTP ${e.status})` : ""}
      </p>
      {e.violations.length > 0 && (
        <ul>
          {e.violations.map((v) => (
            <li key={v.field + v.description}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: string }) {
  const label = enumLabel(state, "JOB_STATE_");
  return <span class={`badge state-${label.replace(/ /g, "-")}`}>{label}</span>;
}

/** Loads `fn()` when `deps` change; returns data, error and a reload. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    fn(ctl.signal).then(
      (d) => {
        setData(d);
        setError(undefined);
      },
      (e: unknown) => {
        if ((e as Error)?.name !== "AbortError") setError(e);
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
