// The tenant's datasets and jobs.

import { useEffect } from "preact/hooks";
import { api, TERMINAL_STATES } from "../api";
import { bytes, count, enumLabel, seconds, shortId, when } from "../format";
import { ErrorBox, StateBadge, useLoad } from "./widgets";

export function DatasetsView() {
  const { data, error, reload } = useLoad((s) => api.listDatasets(s), []);
  const remove = async (id: string, name: string) => {
    if (!window.confirm(`Delete the dataset ${name} (${id})?`)) return;
    await api.deleteDataset(id).catch((e: unknown) => window.alert((e as Error).message));
    reload();
  };
  return (
    <section class="card" aria-labelledby="datasets-title">
      <h2 id="datasets-title">Datasets</h2>
      <ErrorBox error={error} />
      {data && data.datasets.length === 0 && (
        <p class="muted">
          No datasets yet: <a href="#/">upload one</a>.
        </p>
      )}
      {data && data.datasets.length > 0 && (
        <div class="table-scroll">
          <table data-testid="datasets">
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">id</th>
                <th scope="col">format</th>
                <th scope="col">points</th>
                <th scope="col">dim</th>
                <th scope="col">stored</th>
                <th scope="col">uploaded</th>
                <th scope="col">
                  <span class="sr-only">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.datasets.map((d) => (
                <tr key={d.dataset_id}>
                  <td>{d.name}</td>
                  <td>
                    <code title={d.dataset_id}>{shortId(d.dataset_id)}</code>
                  </td>
                  <td>{enumLabel(d.format, "DATA_FORMAT_")}</td>
                  <td class="num">{count(d.n)}</td>
                  <td class="num">{d.dim}</td>
                  <td class="num">{bytes(d.size_bytes)}</td>
                  <td>{when(d.created_at)}</td>
                  <td class="actions">
                    <a class="button" href={`#/?dataset=${encodeURIComponent(d.dataset_id)}`}>
                      compute
                    </a>
                    <button type="button" onClick={() => void remove(d.dataset_id, d.name)} aria-label={`delete ${d.name}`}>
                      delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function duration(start?: string, end?: string): string {
  if (!start || !end) return "—";
  const ms = new Date(end).getTime() - new Date(start).getTime();
  return Number.isFinite(ms) && ms >= 0 ? seconds(ms / 1000) : "—";
}

export function JobsView() {
  const { data, error, reload } = useLoad((s) => api.listJobs(s), []);
  const active = data?.jobs.some((j) => !TERMINAL_STATES.has(j.state)) ?? false;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(reload, 3000);
    return () => clearInterval(t);
  }, [active]);
  return (
    <section class="card" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Jobs</h2>
      <ErrorBox error={error} />
      {data && data.jobs.length === 0 && <p class="muted">No jobs yet.</p>}
      {data && data.jobs.length > 0 && (
        <div class="table-scroll">
          <table data-testid="jobs">
            <thead>
              <tr>
                <th scope="col">job</th>
                <th scope="col">state</th>
                <th scope="col">filtration</th>
                <th scope="col">dataset</th>
                <th scope="col">submitted</th>
                <th scope="col">ran for</th>
              </tr>
            </thead>
            <tbody>
              {data.jobs.map((j) => (
                <tr key={j.job_id}>
                  <td>
                    <a href={`#/jobs/${encodeURIComponent(j.job_id)}`}>
                      <code>{shortId(j.job_id)}</code>
                    </a>
                  </td>
                  <td>
                    <StateBadge state={j.state} />
                  </td>
                  <td>
                    {enumLabel(j.params?.algorithm, "ALGORITHM_")} ≤ H{j.params?.max_dim ?? 0}
                  </td>
                  <td>
                    <code title={j.dataset_id}>{shortId(j.dataset_id)}</code>
                  </td>
                  <td>{when(j.created_at)}</td>
                  <td>{duration(j.started_at, j.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
