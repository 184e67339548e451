// Linear scales, tick values and a zoomable view window for the SVG charts.

export interface Domain {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** About `n` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

/** The window scaled by `factor` (< 1 zooms in) around (cx, cy) in data units. */
export function zoomAt(d: Domain, factor: number, cx: number, cy: number): Domain {
  return {
    x0: cx - (cx - d.x0) * factor,
    x1: cx + (d.x1 - cx) * factor,
    y0: cy - (cy - d.y0) * factor,
    y1: cy + (d.y1 - cy) * factor,
  };
}

export function pan(d: Domain, dx: number, dy: number): Domain {
  return { x0: d.x0 + dx, x1: d.x1 + dx, y0: d.y0 + dy, y1: d.y1 + dy };
}
