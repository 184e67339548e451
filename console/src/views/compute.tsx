// Pick a dataset, Rips or Alpha and their parameters; the engine's limits and
// its memory and time estimate for exactly these parameters are shown before
// the job is submitted.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, getJson, postJson, type Dataset } from "../api";
import { bytes, count, seconds } from "../format";
import { ErrorBox } from "./widgets";

export interface Limits {
  max_dim: number;
  max_modulus: number;
  max_threads: number;
  max_deadline_seconds: number;
  engine_memory_limit_bytes: string;
  engine_threads: number;
  algorithms: string[];
}

export interface Estimate {
  memory_bytes: string;
  seconds: number;
  memory_limit_bytes: string;
  admissible: boolean;
}

interface Form {
  algorithm: "ALGORITHM_RIPS" | "ALGORITHM_ALPHA";
  maxDim: number;
  threshold: string;
  modulus: string;
  radius: boolean;
  maxAlpha: string;
}

const INITIAL: Form = { algorithm: "ALGORITHM_RIPS", maxDim: 1, threshold: "", modulus: "2", radius: false, maxAlpha: "" };

/** The ComputeParams JSON of the form (the estimate's body and the submit's fields). */
export function paramsOf(f: Form): Record<string, unknown> {
  const p: Record<string, unknown> = { algorithm: f.algorithm, max_dim: f.maxDim };
  if (f.algorithm === "ALGORITHM_RIPS") {
    if (f.threshold.trim() !== "") p.threshold = Number(f.threshold);
    p.modulus = Number(f.modulus || "2");
  } else {
    p.alpha_radius = f.radius;
    if (f.maxAlpha.trim() !== "") p.max_alpha = Number(f.maxAlpha);
  }
  return p;
}

function submitBody(datasetId: string, f: Form): Record<string, unknown> {
  const p = paramsOf(f);
  if (f.algorithm === "ALGORITHM_RIPS") return { dataset_id: datasetId, max_dim: p.max_dim, threshold: p.threshold, modulus: p.modulus };
  return { dataset_id: datasetId, max_dim: p.max_dim, radius: p.alpha_radius, max_alpha: p.max_alpha };
}

function useLimits(): { limits?: Limits; error?: unknown } {
  const [state, setState] = useState<{ limits?: Limits; error?: unknown }>({});
  useEffect(() => {
    getJson<Limits>("/api/v1/tda/limits").then(
      (limits) => setState({ limits }),
      (error: unknown) => setState({ error }),
    );
  }, []);
  return state;
}

function useEstimate(datasetId: string, f: Form): { estimate?: Estimate; error?: unknown; pending: boolean } {
  const [state, setState] = useState<{ estimate?: Estimate; error?: unknown; pending: boolean }>({ pending: false });
  const key = JSON.stringify([datasetId, paramsOf(f)]);
  useEffect(() => {
    if (!datasetId) return setState({ pending: false });
    let live = true;
    setState((s) => ({ ...s, pending: true }));
    const t = setTimeout(() => {
      postJson<Estimate>("/api/v1/tda/estimate", { dataset_id: datasetId, params: paramsOf(f) }).then(
        (estimate) => live && setState({ estimate, pending: false }),
        (error: unknown) => live && setState({ error, pending: false }),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [key]);
  return state;
}

export function Compute({
  datasets,
  selected,
  onSelect,
  onSubmitted,
}: {
  datasets: Dataset[];
  selected: string;
  onSelect: (id: string) => void;
  onSubmitted: (jobId: string) => void;
}) {
  const [f, setF] = useState<Form>(INITIAL);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const { limits, error: limitsError } = useLimits();
  const est = useEstimate(selected, f);
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setF((x) => ({ ...x, [k]: v }));
  const ds = datasets.find((d) => d.dataset_id === selected);
  const maxDim = limits?.max_dim ?? 8;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = submitBody(selected, f);
      const res = f.algorithm === "ALGORITHM_RIPS" ? await api.computeRips(body) : await api.computeAlpha(body);
      onSubmitted(res.job.job_id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="compute-title">
      <h2 id="compute-title">2. Compute persistent homology</h2>
      <form onSubmit={submit} class="compute-form">
        <label>
          dataset
          <select value={selected} onChange={(e) => onSelect((e.currentTarget as HTMLSelectElement).value)} data-testid="dataset-select" required>
            <option value="">— pick a dataset —</option>
            {datasets.map((d) => (
              <option key={d.dataset_id} value={d.dataset_id}>
                {d.name} ({count(d.n)} × {d.dim})
              </option>
            ))}
          </select>
        </label>
        <fieldset class="algorithms">
          <legend>filtration</legend>
          <label class="inline">
            <input type="radio" name="algorithm" checked={f.algorithm === "ALGORITHM_RIPS"} onChange={() => set("algorithm", "ALGORITHM_RIPS")} /> Vietoris–Rips
          </label>
          <label class="inline">
            <input type="radio" name="algorithm" checked={f.algorithm === "ALGORITHM_ALPHA"} onChange={() => set("algorithm", "ALGORITHM_ALPHA")} /> Alpha
            complex
          </label>
        </fieldset>
        <label>
          highest dimension (0–{maxDim})
          <input
            type="number"
            min={0}
            max={maxDim}
            value={f.maxDim}
            onInput={(e) => set("maxDim", Number((e.currentTarget as HTMLInputElement).value))}
            data-testid="max-dim"
            required
          />
        </label>
        {f.algorithm === "ALGORITHM_RIPS" ? (
          <>
            <label>
              threshold (blank: none)
              <input type="number" min={0} step="any" value={f.threshold} onInput={(e) => set("threshold", (e.currentTarget as HTMLInputElement).value)} />
            </label>
            <label>
              coefficients Z/p, p =
              <input
                type="number"
                min={2}
                max={limits?.max_modulus ?? 65521}
                value={f.modulus}
                onInput={(e) => set("modulus", (e.currentTarget as HTMLInputElement).value)}
              />
            </label>
          </>
        ) : (
          <>
            <label>
              largest alpha (blank: none)
              <input type="number" min={0} step="any" value={f.maxAlpha} onInput={(e) => set("maxAlpha", (e.currentTarget as HTMLInputElement).value)} />
            </label>
            <label class="inline">
              <input type="checkbox" checked={f.radius} onChange={(e) => set("radius", (e.currentTarget as HTMLInputElement).checked)} /> report radii (not
              squared radii)
            </label>
          </>
        )}
        <EstimatePanel dataset={ds} estimate={est} limits={limits} limitsError={limitsError} />
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || !selected} data-testid="submit">
          {busy ? "submitting…" : "Compute"}
        </button>
      </form>
    </section>
  );
}

function EstimatePanel({
  dataset,
  estimate,
  limits,
  limitsError,
}: {
  dataset?: Dataset;
  estimate: { estimate?: Estimate; error?: unknown; pending: boolean };
  limits?: Limits;
  limitsError?: unknown;
}) {
  const e = estimate.estimate;
  const unavailable = (x: unknown) => x instanceof ApiError && (x.status === 404 || x.status === 501);
  return (
    <div class="estimate" aria-live="polite" data-testid="estimate" data-pending={estimate.pending ? "true" : "false"}>
      <h3>Before you submit</h3>
      {limits ? (
        <p class="muted">
          Engine limits: dimension ≤ {limits.max_dim}, prime ≤ {limits.max_modulus}, memory{" "}
          {Number(limits.engine_memory_limit_bytes) > 0 ? bytes(limits.engine_memory_limit_bytes) : "not reported"} per job
          {limits.engine_threads ? `, ${limits.engine_threads} threads` : ""}.
        </p>
      ) : limitsError ? (
        <p class="muted">{unavailable(limitsError) ? "This API does not publish its limits." : `Limits unavailable: ${(limitsError as Error).message}`}</p>
      ) : null}
      {!dataset ? (
        <p class="muted">Pick a dataset to see the memory estimate.</p>
      ) : estimate.pending && !e ? (
        <p class="muted">estimating…</p>
      ) : e ? (
        <p class={e.admissible ? "" : "warn"} data-testid="estimate-memory" data-memory-bytes={e.memory_bytes}>
          {estimate.pending ? "(updating) " : ""}Estimated memory <b>{bytes(e.memory_bytes)}</b>
          {Number(e.memory_limit_bytes) > 0 ? ` of ${bytes(e.memory_limit_bytes)} allowed` : ""}, time about {seconds(e.seconds)}.
          {e.admissible ? "" : " The engine would refuse this job: lower the dimension or set a threshold."}
        </p>
      ) : estimate.error ? (
        unavailable(estimate.error) ? (
          <p class="muted">This API gives no estimate.</p>
        ) : (
          <ErrorBox error={estimate.error} />
        )
      ) : null}
    </div>
  );
}
