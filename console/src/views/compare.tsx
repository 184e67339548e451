// This result against another completed job of the tenant: the exact
// bottleneck and p-Wasserstein distances per dimension, as the engine
// computes them (POST /api/v1/tda/distance).

import { useState } from "preact/hooks";
import { api, postJson, toNumber, type JsonDouble } from "../api";
import { enumLabel, num, shortId, when } from "../format";
import { ErrorBox, useLoad } from "./widgets";

interface DistanceJson {
  job_id_a: string;
  job_id_b: string;
  result: {
    dimensions: { dimension: number; bottleneck?: JsonDouble; wasserstein?: JsonDouble; bars_a: string; bars_b: string }[];
    bottleneck?: JsonDouble;
    wasserstein?: JsonDouble;
  };
}

/** A distance cell: "—" when skipped, ∞ when the essential classes differ in number. */
function Dist({ v }: { v: JsonDouble | undefined }) {
  return <td data-value={v === undefined ? "" : String(toNumber(v))}>{v === undefined ? "—" : num(toNumber(v))}</td>;
}

export function Compare({ jobId }: { jobId: string }) {
  const { data: jobs, error: listError } = useLoad((signal) => api.listJobs(signal), [jobId]);
  const others = (jobs?.jobs ?? []).filter((j) => j.state === "JOB_STATE_COMPLETED" && j.job_id !== jobId);
  const [other, setOther] = useState("");
  const [order, setOrder] = useState("");
  const [internalP, setInternalP] = useState("");
  const [answer, setAnswer] = useState<DistanceJson | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [pending, setPending] = useState(false);
  const chosen = other || others[0]?.job_id || "";

  const compare = (e: Event) => {
    e.preventDefault();
    if (!chosen) return;
    const params: Record<string, number> = {};
    if (order.trim() !== "") params.order = Number(order);
    if (internalP.trim() !== "") params.internal_p = Number(internalP);
    setPending(true);
    setError(undefined);
    postJson<DistanceJson>("/api/v1/tda/distance", { job_id_a: jobId, job_id_b: chosen, params })
      .then(setAnswer)
      .catch(setError)
      .finally(() => setPending(false));
  };

  return (
    <section class="card" aria-labelledby="compare-title" data-testid="compare">
      <h2 id="compare-title">Compare with another result</h2>
      <ErrorBox error={listError} />
      {jobs && others.length === 0 ? (
        <p class="muted">No other completed job to compare with yet.</p>
      ) : (
        <form class="vector-form" onSubmit={compare}>
          <label>
            job{" "}
            <select value={chosen} onChange={(e) => setOther((e.currentTarget as HTMLSelectElement).value)} data-testid="compare-job">
              {others.map((j) => (
                <option key={j.job_id} value={j.job_id}>
                  {shortId(j.job_id)} · {enumLabel(j.params?.algorithm, "ALGORITHM_")} H≤{j.params?.max_dim ?? "?"} · {when(j.finished_at)}
                </option>
              ))}
            </select>
          </label>
          <div class="vector-params">
            <label>
              Wasserstein order p
              <input
                type="number"
                min={1}
                step="any"
                value={order}
                placeholder="1"
                onInput={(e) => setOrder((e.currentTarget as HTMLInputElement).value)}
                data-testid="compare-order"
              />
            </label>
            <label>
              internal p
              <input
                type="number"
                min={1}
                step="any"
                value={internalP}
                placeholder="∞"
                onInput={(e) => setInternalP((e.currentTarget as HTMLInputElement).value)}
              />
            </label>
          </div>
          <button type="submit" disabled={pending || !chosen} data-testid="compare-submit">
            {pending ? "computing…" : "compare"}
          </button>
        </form>
      )}
      <ErrorBox error={error} />
      {answer && (
        <div class="table-scroll">
          <table data-testid="compare-result" data-other={answer.job_id_b}>
            <thead>
              <tr>
                <th scope="col">dimension</th>
                <th scope="col">bars here</th>
                <th scope="col">bars there</th>
                <th scope="col">bottleneck</th>
                <th scope="col">Wasserstein</th>
              </tr>
            </thead>
            <tbody>
              {answer.result.dimensions.map((d) => (
                <tr key={d.dimension}>
                  <th scope="row">H{d.dimension}</th>
                  <td>{d.bars_a}</td>
                  <td>{d.bars_b}</td>
                  <Dist v={d.bottleneck} />
                  <Dist v={d.wasserstein} />
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">all</th>
                <td colSpan={2} />
                <Dist v={answer.result.bottleneck} />
                <Dist v={answer.result.wasserstein} />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  );
}
