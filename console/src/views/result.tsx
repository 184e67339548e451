// A completed job's result: summary, filters (dimensions, persistence), the
// persistence diagram, barcode and Betti curves, downloads, and the
// vectorisations the API computes.

import { useMemo, useState } from "preact/hooks";
import { api, download, enc, saveBlob, type ResultJson } from "../api";
import { bettiCsv } from "../export";
import { applyFilter, barsOf, dimColour, dimensionsOf, finiteRange, maxFinitePersistence, type Bar } from "../bars";
import { Barcode } from "../charts/barcode";
import { BettiCurves } from "../charts/betti";
import { Diagram } from "../charts/diagram";
import { bytes, count, num, seconds } from "../format";
import { Compare } from "./compare";
import { Vectors } from "./vectors";
import { ErrorBox, useLoad } from "./widgets";

export function Result({ jobId }: { jobId: string }) {
  const { data, error } = useLoad((signal) => api.getResult(jobId, signal), [jobId]);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <p class="muted">loading the result…</p>;
  return <ResultPanels jobId={jobId} result={data} />;
}

function ResultPanels({ jobId, result }: { jobId: string; result: ResultJson }) {
  const bars = useMemo(() => barsOf(result.result), [result]);
  const dims = useMemo(() => dimensionsOf(bars), [bars]);
  const range = useMemo(() => finiteRange(bars), [bars]);
  const [shown, setShown] = useState<Set<number>>(() => new Set(dims));
  const [minPers, setMinPers] = useState(0);
  const filtered = useMemo(() => applyFilter(bars, { dims: shown, minPersistence: minPers }), [bars, shown, minPers]);
  const shownDims = dims.filter((d) => shown.has(d));
  return (
    <>
      <section class="card" aria-labelledby="result-title">
        <h2 id="result-title">Result</h2>
        <Summary result={result} bars={bars} />
        <Filters
          dims={dims}
          shown={shown}
          setShown={setShown}
          minPers={minPers}
          setMinPers={setMinPers}
          maxPers={maxFinitePersistence(bars)}
          shownCount={filtered.length}
          total={bars.length}
        />
        <Downloads jobId={jobId} result={result} />
      </section>
      <div class="charts">
        <section class="card" aria-labelledby="diagram-title">
          <h2 id="diagram-title">Persistence diagram</h2>
          <Diagram bars={filtered} range={range} />
        </section>
        <section class="card" aria-labelledby="barcode-title">
          <h2 id="barcode-title">Barcode</h2>
          <Barcode bars={filtered} range={range} />
        </section>
      </div>
      <section class="card" aria-labelledby="betti-title">
        <h2 id="betti-title">Betti curves</h2>
        <BettiCurves bars={filtered} dims={shownDims} />
        <div class="downloads">
          <span>download</span>
          <button
            type="button"
            onClick={() => saveBlob(new Blob([bettiCsv(filtered, shownDims)], { type: "text/csv" }), `${jobId}-betti-curves.csv`)}
            data-testid="download-betti-csv"
          >
            Betti curves CSV
          </button>
        </div>
      </section>
      <Vectors jobId={jobId} dims={dims} />
      <Compare jobId={jobId} />
    </>
  );
}

function Summary({ result, bars }: { result: ResultJson; bars: Bar[] }) {
  const s = result.result.stats;
  const betti = result.result.betti_numbers;
  return (
    <dl class="facts" data-testid="result-summary" data-intervals={bars.length}>
      <dt>intervals</dt>
      <dd>{count(bars.length)}</dd>
      <dt>Betti numbers</dt>
      <dd>{betti.map((b, i) => `β${i} = ${b}`).join(", ") || "—"}</dd>
      {s && (
        <>
          <dt>points</dt>
          <dd>
            {count(s.points)}
            {Number(s.edges) > 0 ? `, ${count(s.edges)} edges` : ""}
          </dd>
          <dt>computed in</dt>
          <dd>
            {seconds(s.elapsed_seconds)}
            {s.threads ? ` on ${s.threads} threads` : ""}, peak memory {bytes(s.peak_bytes)}
          </dd>
          {s.threshold_used > 0 && (
            <>
              <dt>threshold used</dt>
              <dd>{num(s.threshold_used)}</dd>
            </>
          )}
        </>
      )}
      {result.cache_hit && (
        <>
          <dt>cache</dt>
          <dd>served from the result cache</dd>
        </>
      )}
    </dl>
  );
}

interface FilterProps {
  dims: number[];
  shown: Set<number>;
  setShown: (s: Set<number>) => void;
  minPers: number;
  setMinPers: (v: number) => void;
  maxPers: number;
  shownCount: number;
  total: number;
}

function Filters({ dims, shown, setShown, minPers, setMinPers, maxPers, shownCount, total }: FilterProps) {
  const toggle = (d: number) => {
    const next = new Set(shown);
    if (next.has(d)) next.delete(d);
    else next.add(d);
    setShown(next);
  };
  const stepSize = maxPers > 0 ? maxPers / 200 : 0.01;
  return (
    <fieldset class="filters">
      <legend>show</legend>
      {dims.map((d) => (
        <label key={d} class="inline">
          <input type="checkbox" checked={shown.has(d)} onChange={() => toggle(d)} data-testid={`dim-${d}`} />
          <span class="swatch" style={{ background: dimColour(d) }} /> H{d}
        </label>
      ))}
      <label class="inline persistence-filter">
        persistence ≥
        <input
          type="range"
          min={0}
          max={maxPers || 1}
          step={stepSize}
          value={minPers}
          onInput={(e) => setMinPers(Number((e.currentTarget as HTMLInputElement).value))}
          aria-label="minimum persistence (slider)"
        />
        <input
          type="number"
          min={0}
          step="any"
          value={minPers}
          onInput={(e) => setMinPers(Number((e.currentTarget as HTMLInputElement).value) || 0)}
          aria-label="minimum persistence"
          data-testid="min-persistence"
        />
      </label>
      <span class="muted" aria-live="polite">
        {shownCount === total ? `all ${count(total)} intervals` : `${count(shownCount)} of ${count(total)} intervals`}
      </span>
    </fieldset>
  );
}

function Downloads({ jobId, result }: { jobId: string; result: ResultJson }) {
  const [error, setError] = useState<unknown>(undefined);
  const get = (path: string, name: string) => () => download(path, name).catch(setError);
  const base = `/api/v1/tda/results/${enc(jobId)}`;
  const diagrams = [...result.result.diagrams].sort((a, b) => a.dimension - b.dimension);
  return (
    <div class="downloads" role="group" aria-label="downloads">
      <span>download</span>
      <button type="button" onClick={() => saveBlob(new Blob([JSON.stringify(result, null, 2)], { type: "application/json" }), `${jobId}.json`)}>
        result JSON
      </button>
      <button type="button" onClick={get(`${base}/ripser.txt`, `${jobId}-ripser.txt`)} data-testid="download-ripser">
        Ripser text
      </button>
      {diagrams.map((d) => (
        <button
          key={d.dimension}
          type="button"
          onClick={get(`${base}/diagram.npy?dimension=${d.dimension}`, `${jobId}-H${d.dimension}.npy`)}
          data-testid={`download-npy-${d.dimension}`}
        >
          H{d.dimension} .npy
        </button>
      ))}
      <button type="button" onClick={get(`${base}/diagram.svg`, `${jobId}-diagram.svg`)} data-testid="download-diagram-svg">
        diagram SVG
      </button>
      <button type="button" onClick={get(`${base}/diagram.png`, `${jobId}-diagram.png`)} data-testid="download-diagram-png">
        diagram PNG
      </button>
      <button type="button" onClick={get(`${base}/barcode.svg`, `${jobId}-barcode.svg`)}>
        barcode SVG
      </button>
      <button type="button" onClick={get(`${base}/barcode.png`, `${jobId}-barcode.png`)} data-testid="download-barcode-png">
        barcode PNG
      </button>
      <ErrorBox error={error} />
    </div>
  );
}
