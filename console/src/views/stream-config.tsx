// A stream's settings (POST /api/v1/stream/configure): the window (count or
// event time), the homology, the Betti scale, the noise and the alert level.
// Prefilled with the stored configuration; the API's field violations are
// shown as they come (every problem at once). A new configuration applies from
// the next points published (a change of window drops the window being filled).

import { useEffect, useState } from "preact/hooks";
import { postJson, toNumber, type StreamConfigJson } from "../api";
import { ErrorBox } from "./widgets";

interface Form {
  kind: "count" | "time";
  size: string;
  slide: string;
  sizeMs: string;
  slideMs: string;
  delayMs: string;
  latenessMs: string;
  maxDim: string;
  threshold: string;
  bettiScale: string;
  noise: string;
  alert: string;
}

const text = (v: unknown): string => (v === undefined || v === null ? "" : String(typeof v === "string" ? toNumber(v) : v));

export function formOf(c: StreamConfigJson | undefined): Form {
  return {
    kind: c?.time ? "time" : "count",
    size: text(c?.count?.size ?? 256),
    slide: text(c?.count?.slide ?? 64),
    sizeMs: c?.time?.size_ms ?? "10000",
    slideMs: c?.time?.slide_ms ?? "5000",
    delayMs: c?.time?.watermark_delay_ms ?? "0",
    latenessMs: c?.time?.allowed_lateness_ms ?? "0",
    maxDim: text(c?.max_dim || 1),
    threshold: text(c?.threshold),
    bettiScale: text(c?.betti_scale),
    noise: text(c?.noise_level ?? 0),
    alert: text(c?.alert_level),
  };
}

/** The ConfigureStream body of the form (blank optional numbers left out). */
export function configOf(f: Form): Record<string, unknown> {
  const c: Record<string, unknown> =
    f.kind === "count"
      ? { count: { size: Number(f.size), slide: Number(f.slide) } }
      : { time: { size_ms: f.sizeMs, slide_ms: f.slideMs, watermark_delay_ms: f.delayMs || "0", allowed_lateness_ms: f.latenessMs || "0" } };
  c.max_dim = Number(f.maxDim);
  c.noise_level = Number(f.noise || "0");
  if (f.threshold.trim() !== "") c.threshold = Number(f.threshold);
  if (f.bettiScale.trim() !== "") c.betti_scale = Number(f.bettiScale);
  if (f.alert.trim() !== "") c.alert_level = Number(f.alert);
  return c;
}

function Field({
  label,
  value,
  set,
  testId,
  hint,
  step = "any",
}: {
  label: string;
  value: string;
  set: (v: string) => void;
  testId: string;
  hint?: string;
  step?: string;
}) {
  return (
    <label>
      {label}
      <input
        type="number"
        min="0"
        step={step}
        value={value}
        onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
        data-testid={testId}
        placeholder={hint}
      />
    </label>
  );
}

export function StreamConfigForm({ id, config, onSaved }: { id: string; config: StreamConfigJson | undefined; onSaved: () => void }) {
  const [f, setF] = useState<Form>(() => formOf(config));
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  // follow the stored configuration until the user edits the form
  useEffect(() => {
    if (!touched) setF(formOf(config));
  }, [JSON.stringify(config), touched]);
  const set = (k: keyof Form) => (v: string) => {
    setTouched(true);
    setSaved(false);
    setF((x) => ({ ...x, [k]: v }));
  };
  return (
    <details class="stream-config">
      <summary>Settings</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          postJson("/api/v1/stream/configure", { stream_id: id, config: configOf(f) }).then(
            () => {
              setBusy(false);
              setError(undefined);
              setSaved(true);
              setTouched(false);
              onSaved();
            },
            (err: unknown) => {
              setBusy(false);
              setError(err);
            },
          );
        }}
      >
        <fieldset>
          <legend>window</legend>
          <label class="inline">
            <input type="radio" name="kind" checked={f.kind === "count"} onChange={() => set("kind")("count")} /> count of points
          </label>
          <label class="inline">
            <input type="radio" name="kind" checked={f.kind === "time"} onChange={() => set("kind")("time")} /> event time
          </label>
          <div class="inline-form">
            {f.kind === "count" ? (
              <>
                <Field label="size (points)" value={f.size} set={set("size")} testId="cfg-size" step="1" />
                <Field label="slide (points)" value={f.slide} set={set("slide")} testId="cfg-slide" step="1" />
              </>
            ) : (
              <>
                <Field label="size (ms)" value={f.sizeMs} set={set("sizeMs")} testId="cfg-size-ms" step="1" />
                <Field label="slide (ms)" value={f.slideMs} set={set("slideMs")} testId="cfg-slide-ms" step="1" />
                <Field label="watermark delay (ms)" value={f.delayMs} set={set("delayMs")} testId="cfg-delay-ms" step="1" />
                <Field label="allowed lateness (ms)" value={f.latenessMs} set={set("latenessMs")} testId="cfg-lateness-ms" step="1" />
              </>
            )}
          </div>
        </fieldset>
        <div class="inline-form">
          <label>
            homology up to
            <select value={f.maxDim} onChange={(e) => set("maxDim")((e.currentTarget as HTMLSelectElement).value)} data-testid="cfg-max-dim">
              <option value="1">H1</option>
              <option value="2">H2</option>
            </select>
          </label>
          <Field label="Rips threshold" value={f.threshold} set={set("threshold")} testId="cfg-threshold" hint="none" />
          <Field label="Betti scale" value={f.bettiScale} set={set("bettiScale")} testId="cfg-betti-scale" hint="threshold / end" />
          <Field label="noise level" value={f.noise} set={set("noise")} testId="cfg-noise" />
          <Field label="alert level (change score)" value={f.alert} set={set("alert")} testId="cfg-alert" hint="no alerts" />
        </div>
        <button type="submit" class="primary" disabled={busy} data-testid="cfg-save">
          apply
        </button>
        {saved && (
          <span class="ok" role="status" data-testid="cfg-saved">
            {" "}
            applied: from the next points published
          </span>
        )}
        <ErrorBox error={error} />
      </form>
    </details>
  );
}
