// A result's vectorisations, computed by the engine through the API
// (GET /api/v1/tda/results/{job_id}/features): Betti curves, persistence
// landscapes, persistence images, entropy and amplitudes, with their
// parameters editable (blank: the API's default), drawn, and downloadable as
// CSV or as the API's JSON.

import { useEffect, useState } from "preact/hooks";
import { enc, getJson, saveBlob } from "../api";
import { dimColour } from "../bars";
import { Heatmap } from "../charts/heatmap";
import { SeriesChart } from "../charts/series";
import { num } from "../format";
import {
  DEFAULT_PARAMS,
  featuresCsv,
  KINDS,
  PARAMS_OF,
  featuresQuery,
  vectorsOf,
  type FeatureKind,
  type FeaturesJson,
  type Vector,
  type VectorParams,
} from "../vectors";
import { ErrorBox } from "./widgets";

const LAYER_DASH: (number[] | undefined)[] = [undefined, [8, 4], [3, 3], [10, 3, 2, 3], [1, 3]];

interface Field {
  key: Exclude<keyof VectorParams, "dims" | "weight">;
  label: string;
  hint: string;
  integer?: boolean;
}

const FIELDS: Field[] = [
  { key: "rangeMin", label: "range from", hint: "smallest birth" },
  { key: "rangeMax", label: "range to", hint: "largest death" },
  { key: "persistenceMin", label: "persistence from", hint: "smallest" },
  { key: "persistenceMax", label: "persistence to", hint: "largest" },
  { key: "resolution", label: "resolution", hint: "100 points", integer: true },
  { key: "layers", label: "layers k", hint: "5", integer: true },
  { key: "bandwidth", label: "bandwidth σ", hint: "1" },
  { key: "weightPower", label: "weight power", hint: "1" },
  { key: "order", label: "order p", hint: "1" },
  { key: "internalP", label: "internal p", hint: "∞" },
];

export function Vectors({ jobId, dims }: { jobId: string; dims: number[] }) {
  const [kind, setKind] = useState<FeatureKind>("FEATURE_KIND_BETTI_CURVE");
  const [params, setParams] = useState<VectorParams>({ ...DEFAULT_PARAMS, dims });
  const [answer, setAnswer] = useState<{ kind: FeatureKind; json: FeaturesJson; query: string } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [pending, setPending] = useState(false);

  const compute = (k: FeatureKind, p: VectorParams) => {
    const query = featuresQuery(k, p);
    setPending(true);
    setError(undefined);
    getJson<FeaturesJson>(`/api/v1/tda/results/${enc(jobId)}/features?${query}`)
      .then((json) => setAnswer({ kind: k, json, query }))
      .catch(setError)
      .finally(() => setPending(false));
  };
  // a first picture with the defaults, and a new one whenever the kind changes
  useEffect(() => compute(kind, params), [jobId, kind]);

  const set = (key: keyof VectorParams, v: string) => setParams({ ...params, [key]: v });
  const toggleDim = (d: number) =>
    setParams({ ...params, dims: params.dims.includes(d) ? params.dims.filter((x) => x !== d) : [...params.dims, d].sort((a, b) => a - b) });
  const used = PARAMS_OF[kind];
  const vectors = answer ? vectorsOf(answer.json) : [];
  const short = KINDS.find((k) => k.kind === answer?.kind)?.short ?? "features";

  return (
    <section class="card" aria-labelledby="vectors-title" data-testid="vectors">
      <h2 id="vectors-title">Vectorisations</h2>
      <form
        class="vector-form"
        onSubmit={(e) => {
          e.preventDefault();
          compute(kind, params);
        }}
      >
        <label>
          kind{" "}
          <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as FeatureKind)} data-testid="vectors-kind">
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <fieldset class="inline-fields">
          <legend>dimensions</legend>
          {dims.map((d) => (
            <label key={d} class="inline">
              <input type="checkbox" checked={params.dims.includes(d)} onChange={() => toggleDim(d)} data-testid={`vectors-dim-${d}`} /> H{d}
            </label>
          ))}
        </fieldset>
        <div class="vector-params">
          {FIELDS.filter((f) => used.includes(f.key) && (f.key !== "weightPower" || params.weight === "IMAGE_WEIGHT_PERSISTENCE_POWER")).map((f) => (
            <label key={f.key}>
              {f.label}
              <input
                type="number"
                step={f.integer ? 1 : "any"}
                min={f.integer ? 1 : undefined}
                value={params[f.key]}
                placeholder={f.key === "resolution" && kind === "FEATURE_KIND_PERSISTENCE_IMAGE" ? "20 px" : f.hint}
                onInput={(e) => set(f.key, (e.currentTarget as HTMLInputElement).value)}
                data-testid={`vectors-${f.key}`}
              />
            </label>
          ))}
          {used.includes("weight") && (
            <label>
              weight
              <select value={params.weight} onChange={(e) => set("weight", (e.currentTarget as HTMLSelectElement).value)} data-testid="vectors-weight">
                <option value="IMAGE_WEIGHT_CONSTANT">constant 1</option>
                <option value="IMAGE_WEIGHT_PERSISTENCE_POWER">persistence ^ power</option>
              </select>
            </label>
          )}
        </div>
        <button type="submit" disabled={pending} data-testid="vectors-compute">
          {pending ? "computing…" : "compute"}
        </button>
      </form>
      <ErrorBox error={error} />
      {answer && (
        <div class="vector-result" data-testid="vectors-result" data-kind={answer.kind} data-pending={String(pending)} data-query={answer.query}>
          <VectorCharts kind={answer.kind} vectors={vectors} />
          <div class="downloads" role="group" aria-label="download the vectorisation">
            <span>download</span>
            <button
              type="button"
              onClick={() => saveBlob(new Blob([featuresCsv(answer.kind, vectors)], { type: "text/csv" }), `${jobId}-${short}.csv`)}
              data-testid="vectors-csv"
            >
              CSV
            </button>
            <button
              type="button"
              onClick={() => saveBlob(new Blob([JSON.stringify(answer.json, null, 2)], { type: "application/json" }), `${jobId}-${short}.json`)}
              data-testid="vectors-json"
            >
              JSON
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

function VectorCharts({ kind, vectors }: { kind: FeatureKind; vectors: Vector[] }) {
  if (vectors.length === 0) return <p class="muted">No dimension chosen.</p>;
  switch (kind) {
    case "FEATURE_KIND_BETTI_CURVE":
      return (
        <SeriesChart
          title="Betti curves on the grid"
          xs={vectors[0]!.grid}
          xLabel="filtration value"
          yLabel="β"
          series={vectors.map((v) => ({ label: `β${v.dimension}`, colour: dimColour(v.dimension), values: v.values }))}
          testId="vectors-betti"
        />
      );
    case "FEATURE_KIND_LANDSCAPE":
      return (
        <div class="vector-grid">
          {vectors.map((v) => (
            <SeriesChart
              key={v.dimension}
              title={`H${v.dimension}: ${v.rows} landscape layers`}
              xs={v.grid}
              xLabel="filtration value"
              yLabel="λ"
              series={Array.from({ length: v.rows }, (_, k) => ({
                label: `λ${k + 1}`,
                colour: dimColour(v.dimension),
                dash: LAYER_DASH[k % LAYER_DASH.length],
                values: v.values.slice(k * v.cols, (k + 1) * v.cols),
              }))}
              testId={`vectors-landscape-${v.dimension}`}
            />
          ))}
        </div>
      );
    case "FEATURE_KIND_PERSISTENCE_IMAGE":
      return (
        <div class="vector-grid">
          {vectors.map((v) => (
            <Heatmap
              key={v.dimension}
              title={`H${v.dimension}: persistence image`}
              rows={v.rows}
              cols={v.cols}
              values={v.values}
              births={v.grid}
              persistences={v.gridY}
              testId={`vectors-image-${v.dimension}`}
            />
          ))}
        </div>
      );
    default: {
      const names = vectors[0]!.names.length ? vectors[0]!.names : ["entropy"];
      return (
        <div class="table-scroll">
          <table data-testid="vectors-table">
            <thead>
              <tr>
                <th scope="col">dimension</th>
                {names.map((n) => (
                  <th key={n} scope="col">
                    {n.replace(/_/g, " ")}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {vectors.map((v) => (
                <tr key={v.dimension}>
                  <th scope="row">H{v.dimension}</th>
                  {v.values.map((x, i) => (
                    <td key={i} data-value={String(x)}>
                      {num(x)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
  }
}
