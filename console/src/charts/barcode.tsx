// The barcode: one horizontal bar per interval, grouped by dimension and
// sorted by birth; essential bars run to the right edge with an arrow.
// Hover or step with the arrow keys; zoom the filtration axis with the wheel,
// +/− or the buttons; drag to pan.

import { useMemo, useRef, useState } from "preact/hooks";
import { dimColour, dimensionsOf, type Bar } from "../bars";
import { num } from "../format";
import { ZoomButtons } from "./diagram";
import { linear, ticks, tickLabel } from "./scale";
import { BarTip, useStepper } from "./stepper";

const W = 640;
const M = { l: 44, r: 18, t: 10, b: 30 };
const GAP = 14;

interface Props {
  bars: Bar[];
  range: [number, number];
}

interface Row {
  bar: Bar;
  y: number;
}

function layout(bars: Bar[], rowH: number): { rows: Row[]; groups: { dim: number; y0: number; y1: number }[]; height: number } {
  const rows: Row[] = [];
  const groups: { dim: number; y0: number; y1: number }[] = [];
  let y = M.t;
  for (const dim of dimensionsOf(bars)) {
    const y0 = y;
    const mine = bars.filter((b) => b.dim === dim).sort((a, b) => a.birth - b.birth || b.death - a.death);
    for (const bar of mine) {
      rows.push({ bar, y });
      y += rowH;
    }
    groups.push({ dim, y0, y1: y });
    y += GAP;
  }
  return { rows, groups, height: Math.max(y - GAP, M.t + 20) + M.b };
}

export function Barcode({ bars, range }: Props) {
  const [lo, hi] = range;
  const pad = (hi - lo) * 0.03;
  const home: [number, number] = [lo - pad, hi + pad];
  const [view, setView] = useState<[number, number] | null>(null);
  const [x0, x1] = view ?? home;
  const rowH = bars.length > 400 ? 2 : bars.length > 120 ? 3 : 6;
  const { rows, groups, height } = useMemo(() => layout(bars, rowH), [bars, rowH]);
  const sx = linear(x0, x1, M.l, W - M.r);
  const ordered = useMemo(() => rows.map((r) => r.bar), [rows]);
  const step = useStepper(ordered);
  const svgRef = useRef<SVGSVGElement>(null);
  const drag = useRef<{ px: number; v: [number, number] } | null>(null);
  const yOf = useMemo(() => new Map(rows.map((r) => [r.bar.index, r.y])), [rows]);

  const px = (e: MouseEvent): [number, number] => {
    const r = svgRef.current!.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * W, ((e.clientY - r.top) / r.height) * height];
  };
  const zoom = (f: number, c = (x0 + x1) / 2) => setView([c - (c - x0) * f, c + (x1 - c) * f]);
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const [x] = px(e);
    zoom(e.deltaY < 0 ? 1 / 1.25 : 1.25, x0 + ((x - M.l) / (W - M.l - M.r)) * (x1 - x0));
  };
  const onMove = (e: MouseEvent) => {
    const [x, y] = px(e);
    if (drag.current) {
      const k = (drag.current.v[1] - drag.current.v[0]) / (W - M.l - M.r);
      const dx = -(x - drag.current.px) * k;
      setView([drag.current.v[0] + dx, drag.current.v[1] + dx]);
      return;
    }
    const v = x0 + ((x - M.l) / (W - M.l - M.r)) * (x1 - x0);
    step.hoverNearest(
      ordered,
      (b) => {
        const dy = Math.abs((yOf.get(b.index) ?? 0) + rowH / 2 - y);
        const inside = v >= b.birth && v <= (Number.isFinite(b.death) ? b.death : Infinity);
        return inside ? dy : dy + 1000;
      },
      Math.max(rowH, 4),
    );
  };
  const onKey = (e: KeyboardEvent) => {
    if (step.onKey(e)) return;
    const k = (x1 - x0) * 0.1;
    const acts: Record<string, () => void> = {
      "+": () => zoom(1 / 1.25),
      "=": () => zoom(1 / 1.25),
      "-": () => zoom(1.25),
      "0": () => setView(null),
    };
    const f =
      e.shiftKey && e.key === "ArrowLeft"
        ? () => setView([x0 - k, x1 - k])
        : e.shiftKey && e.key === "ArrowRight"
          ? () => setView([x0 + k, x1 + k])
          : acts[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  };

  const right = W - M.r;
  const end = (b: Bar) => (Number.isFinite(b.death) ? Math.min(sx(b.death), right) : right);
  const sel = step.current;
  return (
    <figure class="chart">
      <ZoomButtons onIn={() => zoom(1 / 1.25)} onOut={() => zoom(1.25)} onReset={() => setView(null)} label="barcode" />
      <div class="chart-box barcode-box">
        <svg
          ref={svgRef}
          class="barcode"
          viewBox={`0 0 ${W} ${height}`}
          role="img"
          tabindex={0}
          aria-label={`Barcode, ${bars.length} bars. Arrow keys step through the bars, plus and minus zoom, 0 resets.`}
          data-bars={bars.length}
          onWheel={onWheel}
          onMouseMove={onMove}
          onMouseDown={(e) => (drag.current = { px: px(e as unknown as MouseEvent)[0], v: [x0, x1] })}
          onMouseUp={() => (drag.current = null)}
          onMouseLeave={() => {
            drag.current = null;
            step.clearHover();
          }}
          onKeyDown={onKey}
        >
          <defs>
            <clipPath id="barcode-clip">
              <rect x={M.l} y={0} width={W - M.l - M.r + 1} height={height} />
            </clipPath>
          </defs>
          {ticks(x0, x1, 6).map((v) => (
            <g key={v}>
              <line class="grid" x1={sx(v)} x2={sx(v)} y1={M.t} y2={height - M.b} />
              <text class="tick" x={sx(v)} y={height - M.b + 16} text-anchor="middle">
                {tickLabel(v)}
              </text>
            </g>
          ))}
          {groups.map((g) => (
            <text key={g.dim} class="group-label" x={6} y={(g.y0 + g.y1) / 2 + 4} fill={dimColour(g.dim)}>
              H{g.dim}
            </text>
          ))}
          <g clip-path="url(#barcode-clip)">
            {rows.map(({ bar, y }) => (
              <rect
                key={bar.index}
                class="bar"
                x={sx(bar.birth)}
                y={y}
                width={Math.max(end(bar) - sx(bar.birth), 1)}
                height={Math.max(rowH - (rowH > 3 ? 1.5 : 0.5), 1)}
                fill={dimColour(bar.dim)}
              />
            ))}
            {sel && (
              <rect
                class="bar-selected"
                x={sx(sel.birth) - 2}
                y={(yOf.get(sel.index) ?? 0) - 2}
                width={Math.max(end(sel) - sx(sel.birth), 1) + 4}
                height={rowH + 3}
              />
            )}
          </g>
          {rows.filter((r) => !Number.isFinite(r.bar.death)).length > 0 && (
            <text class="tick" x={right} y={M.t - 1} text-anchor="end">
              → ∞
            </text>
          )}
        </svg>
        {sel && <BarTip bar={sel} x={sx(sel.birth) / W} y={(yOf.get(sel.index) ?? 0) / height} />}
      </div>
      <p class="sr-only" aria-live="polite">
        {sel ? `dimension ${sel.dim}, birth ${num(sel.birth)}, death ${num(sel.death)}` : ""}
      </p>
    </figure>
  );
}
