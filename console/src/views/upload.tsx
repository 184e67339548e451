// Upload a file: drop it on the zone (or pick it), watch the progress bar,
// and read a validation error at its line, shown in the file's own text.

import { useRef, useState } from "preact/hooks";
import { ApiError, uploadFile, type Dataset } from "../api";
import { bytes, count } from "../format";
import { ProgressBar } from "./widgets";

export const FORMATS: [string, string][] = [
  ["auto", "detect from the content"],
  ["csv", "CSV"],
  ["tsv", "TSV"],
  ["whitespace", "numbers separated by blanks"],
  ["json", "JSON"],
  ["npy", "NumPy .npy"],
  ["off", "OFF"],
  ["ply", "PLY"],
  ["distance_matrix", "full distance matrix"],
  ["lower_distance_matrix", "lower distance matrix"],
  ["upper_distance_matrix", "upper distance matrix"],
];

/** Where in the file a validation error points: 1-based line (and column, value index). */
export interface ErrorPlace {
  line: number;
  column?: number;
}

export function placeOf(err: ApiError): ErrorPlace | undefined {
  const line = Number(err.metadata.line);
  if (!Number.isInteger(line) || line < 1) return undefined;
  const column = Number(err.metadata.column);
  return { line, column: Number.isInteger(column) && column > 0 ? column : undefined };
}

/** Lines around `line` of a text file (read only as far as needed). */
export async function excerpt(file: Blob, line: number, around = 2): Promise<{ first: number; lines: string[] }> {
  const first = Math.max(1, line - around);
  const last = line + around;
  const reader = file.stream().pipeThrough(new TextDecoderStream()).getReader();
  const out: string[] = [];
  let current = 1;
  let partial = "";
  try {
    while (current <= last) {
      const { done, value } = await reader.read();
      if (done) break;
      const parts = (partial + value).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) {
        if (current >= first && current <= last) out.push(p.replace(/\r$/, ""));
        current++;
      }
    }
    if (current >= first && current <= last && partial !== "") out.push(partial);
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return { first, lines: out };
}

interface Failure {
  err: ApiError;
  place?: ErrorPlace;
  lines?: { first: number; lines: string[] };
}

export function Upload({ onUploaded }: { onUploaded: (d: Dataset) => void }) {
  const [format, setFormat] = useState("auto");
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [done, setDone] = useState<{ dataset: Dataset; deduplicated: boolean } | null>(null);
  const [over, setOver] = useState(false);
  const abort = useRef<(() => void) | null>(null);

  const start = async (f: File) => {
    setFile(f);
    setFailure(null);
    setDone(null);
    setProgress({ sent: 0, total: f.size });
    const up = uploadFile(f, { name: f.name, format, onProgress: (sent, total) => setProgress({ sent, total }) });
    abort.current = up.abort;
    try {
      const res = await up.done;
      setProgress({ sent: f.size, total: f.size });
      setDone(res);
      onUploaded(res.dataset);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, String(err));
      const place = placeOf(e);
      setFailure({ err: e, place, lines: place ? await excerpt(f, place.line).catch(() => undefined) : undefined });
    } finally {
      abort.current = null;
    }
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer?.files[0];
    if (f) void start(f);
  };

  const pct = progress && progress.total > 0 ? (100 * progress.sent) / progress.total : 0;
  return (
    <section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">1. Upload a point cloud or distance matrix</h2>
      <div
        class={`drop${over ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        data-testid="drop-zone"
      >
        <p>Drop a file here, or</p>
        <label class="button">
          choose a file
          <input
            type="file"
            class="file-input"
            data-testid="file-input"
            onChange={(e) => {
              const f = (e.currentTarget as HTMLInputElement).files?.[0];
              if (f) void start(f);
            }}
          />
        </label>
        <label class="inline">
          format{" "}
          <select value={format} onChange={(e) => setFormat((e.currentTarget as HTMLSelectElement).value)}>
            {FORMATS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {progress && file && (
        <div class="upload-status">
          <ProgressBar value={pct} label={`upload of ${file.name}`} testId="upload-progress" />
          <span class="muted">
            {bytes(progress.sent)} of {bytes(progress.total)}
          </span>
          {abort.current && (
            <button type="button" onClick={() => abort.current?.()}>
              cancel
            </button>
          )}
        </div>
      )}
      {done && (
        <p class="ok" data-testid="upload-done" role="status">
          {done.deduplicated ? "Already stored: " : "Stored: "}
          <b>{done.dataset.name}</b> — {count(done.dataset.n)} points of dimension {done.dataset.dim} ({done.dataset.dataset_id})
        </p>
      )}
      {failure && <UploadError failure={failure} />}
    </section>
  );
}

function UploadError({ failure }: { failure: Failure }) {
  const { err, place, lines } = failure;
  return (
    <div class="error" role="alert" data-testid="upload-error">
      <p>
        <b>The upload was refused</b>
        {place && (
          <>
            {" "}
            at <span data-testid="error-line">line {place.line}</span>
            {place.column ? `, value ${place.column}` : ""}
          </>
        )}
        : {err.message}
      </p>
      {err.violations.length > 0 && !place && (
        <ul>
          {err.violations.map((v) => (
            <li key={v.field + v.description}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      )}
      {place && lines && lines.lines.length > 0 && (
        <pre class="excerpt" aria-label={`the file around line ${place.line}`}>
          {lines.lines.map((text, i) => {
            const n = lines.first + i;
            return (
              <div key={n} class={n === place.line ? "bad-line" : ""} data-line={n}>
                <span class="line-no">{n}</span>
                {text}
              </div>
            );
          })}
        </pre>
      )}
    </div>
  );
}
