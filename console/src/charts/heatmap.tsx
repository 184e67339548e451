// A persistence image as a heatmap: one cell per pixel of the API's image
// (birth across, persistence upwards), coloured on a viridis-like scale from
// 0 to the image's largest value. Hover, or focus and use the arrow keys, to
// read a cell's birth, persistence and value.

import { useEffect, useRef, useState } from "preact/hooks";
import { num } from "../format";

interface Props {
  title: string;
  rows: number;
  cols: number;
  /** Row-major, row 0 the lowest persistence. */
  values: number[];
  births: number[];
  persistences: number[];
  testId?: string;
}

// viridis at 0, 0.25, 0.5, 0.75, 1
const STOPS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

export function Heatmap({ title, rows, cols, values, births, persistences, testId }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [at, setAt] = useState<{ r: number; c: number } | null>(null);
  const max = values.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, v) : m), 0);
  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext("2d");
    if (!el || !ctx || rows === 0 || cols === 0) return;
    const img = ctx.createImageData(cols, rows);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const [R, G, B] = viridis(max > 0 ? values[r * cols + c]! / max : 0);
        const o = ((rows - 1 - r) * cols + c) * 4; // persistence upwards
        img.data[o] = R;
        img.data[o + 1] = G;
        img.data[o + 2] = B;
        img.data[o + 3] = 255;
      }
    ctx.putImageData(img, 0, 0);
  }, [values, rows, cols, max]);

  const cellAt = (e: MouseEvent) => {
    const box = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const c = Math.floor(((e.clientX - box.left) / box.width) * cols);
    const r = rows - 1 - Math.floor(((e.clientY - box.top) / box.height) * rows);
    return c >= 0 && c < cols && r >= 0 && r < rows ? { r, c } : null;
  };
  const onKey = (e: KeyboardEvent) => {
    const cur = at ?? { r: 0, c: 0 };
    const moves: Record<string, [number, number]> = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [1, 0], ArrowDown: [-1, 0] };
    if (e.key === "Escape") return setAt(null);
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    setAt(at ? { r: Math.max(0, Math.min(rows - 1, cur.r + m[0])), c: Math.max(0, Math.min(cols - 1, cur.c + m[1])) } : cur);
  };
  const lo = (a: number[]) => (a.length ? num(a[0]!) : "—");
  const hi = (a: number[]) => (a.length ? num(a[a.length - 1]!) : "—");
  return (
    <figure class="chart heatmap" data-testid={testId} data-cells={rows * cols}>
      <figcaption>{title}</figcaption>
      <div class="heatmap-body">
        <span class="heatmap-y muted">
          persistence {lo(persistences)} – {hi(persistences)} ↑
        </span>
        <canvas
          ref={canvas}
          width={cols}
          height={rows}
          tabIndex={0}
          role="img"
          aria-label={`${title}: ${rows} × ${cols} pixels, largest value ${num(max)}; arrow keys read the pixels`}
          onMouseMove={(e) => setAt(cellAt(e))}
          onMouseLeave={() => setAt(null)}
          onKeyDown={onKey}
          onBlur={() => setAt(null)}
        />
        <span class="heatmap-x muted">
          birth {lo(births)} – {hi(births)} →
        </span>
        <span class="heatmap-scale" aria-hidden="true">
          0 <span class="heatmap-ramp" /> {num(max)}
        </span>
      </div>
      <p class="muted heatmap-readout" role="status" aria-live="polite">
        {at
          ? `birth ${num(births[at.c] ?? NaN)}, persistence ${num(persistences[at.r] ?? NaN)}: ${num(values[at.r * cols + at.c] ?? NaN)}`
          : "hover or use the arrow keys to read a pixel"}
      </p>
    </figure>
  );
}
