// The persistence intervals of a result as the charts use them, and the
// few computations on them that the console does (filters, Betti curves).

import type { ResultJson } from "./api";

export interface Bar {
  dim: number;
  birth: number;
  /** +Infinity for an essential class. */
  death: number;
  /** Index in the result (dimension order, then the engine's order). */
  index: number;
}

export function barsOf(result: ResultJson["result"]): Bar[] {
  const out: Bar[] = [];
  for (const d of result.diagrams) {
    for (const iv of d.intervals) {
      const death = typeof iv.death === "number" ? iv.death : iv.death === "Infinity" ? Infinity : Number(iv.death);
      out.push({ dim: d.dimension, birth: Number(iv.birth), death, index: out.length });
    }
  }
  return out;
}

export function persistence(b: Bar): number {
  return b.death - b.birth;
}

export interface BarFilter {
  dims: Set<number>;
  /** Bars with death - birth below this are hidden (essential bars never are). */
  minPersistence: number;
}

export function applyFilter(bars: Bar[], f: BarFilter): Bar[] {
  return bars.filter((b) => f.dims.has(b.dim) && persistence(b) >= f.minPersistence);
}

export function dimensionsOf(bars: Bar[]): number[] {
  return [...new Set(bars.map((b) => b.dim))].sort((a, b) => a - b);
}

/** Smallest birth and largest finite value (birth or death) of the bars. */
export function finiteRange(bars: Bar[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of bars) {
    lo = Math.min(lo, b.birth);
    hi = Math.max(hi, b.birth);
    if (Number.isFinite(b.death)) hi = Math.max(hi, b.death);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi <= lo) hi = lo + 1;
  return [lo, hi];
}

/** Largest finite persistence, for the filter's slider. */
export function maxFinitePersistence(bars: Bar[]): number {
  let m = 0;
  for (const b of bars) if (Number.isFinite(b.death)) m = Math.max(m, b.death - b.birth);
  return m;
}

/**
 * Betti curves: for each dimension, the number of bars alive at t
 * (birth <= t < death) at every filtration value where it changes, plus one
 * point past the last finite value so essential bars show. Exact, no grid.
 */
export function bettiCurves(bars: Bar[], dims: number[]): { xs: number[]; ys: number[][] } {
  const [lo, hi] = finiteRange(bars);
  const events = new Set<number>();
  for (const b of bars) {
    events.add(b.birth);
    if (Number.isFinite(b.death)) events.add(b.death);
  }
  const end = hi + (hi - lo) * 0.05;
  events.add(end);
  const xs = [...events].sort((a, b) => a - b);
  const ys = dims.map((d) => {
    const births = bars
      .filter((b) => b.dim === d)
      .map((b) => b.birth)
      .sort((a, b) => a - b);
    const deaths = bars
      .filter((b) => b.dim === d && Number.isFinite(b.death))
      .map((b) => b.death)
      .sort((a, b) => a - b);
    let i = 0;
    let j = 0;
    return xs.map((x) => {
      while (i < births.length && births[i]! <= x) i++;
      while (j < deaths.length && deaths[j]! <= x) j++;
      return i - j;
    });
  });
  return { xs, ys };
}

/** One colour per homological dimension (colour-blind safe, Okabe–Ito). */
export const DIM_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#999999"];
export function dimColour(dim: number): string {
  return DIM_COLOURS[dim % DIM_COLOURS.length]!;
}
