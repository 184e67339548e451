// The persistence diagram: one point per interval (birth, death), coloured
// by dimension; essential classes on a dashed line marked ∞ above the rest.
// Hover or step with the arrow keys for a point's birth, death and dimension;
// zoom with the wheel, the +/− keys or the buttons; drag to pan.

import { useMemo, useRef, useState } from "preact/hooks";
import { dimColour, persistence, type Bar } from "../bars";
import { num } from "../format";
import { linear, pan, ticks, tickLabel, zoomAt, type Domain } from "./scale";
import { BarTip, useStepper } from "./stepper";

const W = 480;
const H = 480;
const M = { l: 58, r: 14, t: 14, b: 44 };

interface Props {
  bars: Bar[];
  /** Smallest and largest finite values of the whole result (axes do not move when filtering). */
  range: [number, number];
}

export function Diagram({ bars, range }: Props) {
  const [lo, hi] = range;
  const pad = (hi - lo) * 0.04;
  const infY = hi + (hi - lo) * 0.08;
  const home: Domain = { x0: lo - pad, x1: hi + pad, y0: lo - pad, y1: infY + pad };
  const [view, setView] = useState<Domain | null>(null);
  const d = view ?? home;
  const sx = linear(d.x0, d.x1, M.l, W - M.r);
  const sy = linear(d.y0, d.y1, H - M.b, M.t);
  const ordered = useMemo(() => [...bars].sort((a, b) => persistence(b) - persistence(a)), [bars]);
  const step = useStepper(ordered);
  const drag = useRef<{ x: number; y: number; d: Domain } | null>(null);
  const svgRef = useRef<SVGSVGElement>(null);

  const yOf = (b: Bar) => sy(Number.isFinite(b.death) ? b.death : infY);
  const toData = (e: MouseEvent | WheelEvent): [number, number, number, number] => {
    const r = svgRef.current!.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * W;
    const py = ((e.clientY - r.top) / r.height) * H;
    return [px, py, d.x0 + ((px - M.l) / (W - M.l - M.r)) * (d.x1 - d.x0), d.y0 + ((H - M.b - py) / (H - M.t - M.b)) * (d.y1 - d.y0)];
  };
  const zoom = (factor: number, cx = (d.x0 + d.x1) / 2, cy = (d.y0 + d.y1) / 2) => setView(zoomAt(d, factor, cx, cy));

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const [, , x, y] = toData(e);
    zoom(e.deltaY < 0 ? 1 / 1.25 : 1.25, x, y);
  };
  const onMove = (e: MouseEvent) => {
    const [px, py] = toData(e);
    if (drag.current) {
      const k = (d.x1 - d.x0) / (W - M.l - M.r);
      const ky = (d.y1 - d.y0) / (H - M.t - M.b);
      setView(pan(drag.current.d, -(px - drag.current.x) * k, (py - drag.current.y) * ky));
      return;
    }
    step.hoverNearest(ordered, (b) => Math.hypot(sx(b.birth) - px, yOf(b) - py), 12);
  };
  const onKey = (e: KeyboardEvent) => {
    if (step.onKey(e)) return;
    const k = (d.x1 - d.x0) * 0.1;
    const moves: Record<string, () => void> = {
      "+": () => zoom(1 / 1.25),
      "=": () => zoom(1 / 1.25),
      "-": () => zoom(1.25),
      "0": () => setView(null),
      ArrowUp: () => setView(pan(d, 0, k)),
      ArrowDown: () => setView(pan(d, 0, -k)),
    };
    const shiftMoves: Record<string, () => void> = { ArrowLeft: () => setView(pan(d, -k, 0)), ArrowRight: () => setView(pan(d, k, 0)) };
    const f = (e.shiftKey ? shiftMoves[e.key] : undefined) ?? moves[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  };

  const xt = ticks(d.x0, d.x1);
  const yt = ticks(d.y0, Math.min(d.y1, hi + pad)).filter((v) => v <= hi + pad);
  const sel = step.current;
  return (
    <figure class="chart">
      <ZoomButtons onIn={() => zoom(1 / 1.25)} onOut={() => zoom(1.25)} onReset={() => setView(null)} label="diagram" />
      <div class="chart-box">
        <svg
          ref={svgRef}
          class="diagram"
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          tabindex={0}
          aria-label={`Persistence diagram, ${bars.length} points. Arrow keys step through the points by persistence, plus and minus zoom, 0 resets.`}
          data-points={bars.length}
          onWheel={onWheel}
          onMouseMove={onMove}
          onMouseDown={(e) => {
            const [px, py] = toData(e as unknown as MouseEvent);
            drag.current = { x: px, y: py, d };
          }}
          onMouseUp={() => (drag.current = null)}
          onMouseLeave={() => {
            drag.current = null;
            step.clearHover();
          }}
          onKeyDown={onKey}
        >
          <defs>
            <clipPath id="diagram-clip">
              <rect x={M.l} y={M.t} width={W - M.l - M.r} height={H - M.t - M.b} />
            </clipPath>
          </defs>
          <rect class="plot-bg" x={M.l} y={M.t} width={W - M.l - M.r} height={H - M.t - M.b} />
          {xt.map((v) => (
            <g key={`x${v}`}>
              <line class="grid" x1={sx(v)} x2={sx(v)} y1={M.t} y2={H - M.b} />
              <text class="tick" x={sx(v)} y={H - M.b + 16} text-anchor="middle">
                {tickLabel(v)}
              </text>
            </g>
          ))}
          {yt.map((v) => (
            <g key={`y${v}`}>
              <line class="grid" x1={M.l} x2={W - M.r} y1={sy(v)} y2={sy(v)} />
              <text class="tick" x={M.l - 6} y={sy(v) + 4} text-anchor="end">
                {tickLabel(v)}
              </text>
            </g>
          ))}
          <text class="axis-label" x={(M.l + W - M.r) / 2} y={H - 6} text-anchor="middle">
            birth
          </text>
          <text class="axis-label" transform={`translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)`} text-anchor="middle">
            death
          </text>
          <g clip-path="url(#diagram-clip)">
            <line class="diagonal" x1={sx(d.x0)} y1={sy(d.x0)} x2={sx(d.x1)} y2={sy(d.x1)} />
            <line class="infinity" x1={M.l} x2={W - M.r} y1={sy(infY)} y2={sy(infY)} />
            {bars.map((b) => (
              <circle key={b.index} class="pt" cx={sx(b.birth)} cy={yOf(b)} r={3.4} fill={dimColour(b.dim)} />
            ))}
            {sel && <circle class="pt-selected" cx={sx(sel.birth)} cy={yOf(sel)} r={7} />}
          </g>
          <text class="tick" x={M.l - 6} y={sy(infY) + 4} text-anchor="end">
            ∞
          </text>
        </svg>
        {sel && <BarTip bar={sel} x={sx(sel.birth) / W} y={yOf(sel) / H} />}
      </div>
      <p class="sr-only" aria-live="polite">
        {sel ? `dimension ${sel.dim}, birth ${num(sel.birth)}, death ${num(sel.death)}` : ""}
      </p>
    </figure>
  );
}

export function ZoomButtons({ onIn, onOut, onReset, label }: { onIn: () => void; onOut: () => void; onReset: () => void; label: string }) {
  return (
    <div class="zoom-buttons" role="group" aria-label={`zoom the ${label}`}>
      <button type="button" onClick={onIn} aria-label={`zoom in the ${label}`}>
        +
      </button>
      <button type="button" onClick={onOut} aria-label={`zoom out the ${label}`}>
        −
      </button>
      <button type="button" onClick={onReset} aria-label={`reset the ${label}'s zoom`}>
        reset
      </button>
    </div>
  );
}
