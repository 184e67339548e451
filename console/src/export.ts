// Downloads made in the browser (the others come from the API's routes): the
// exact Betti curves the console draws, as CSV.

import { bettiCurves, type Bar } from "./bars";

/**
 * The exact Betti curves as CSV: one row per filtration value where a curve
 * changes, `t,betti_0,betti_1,…`; each β_k holds from its row's t up to the
 * next row's (the last row: for ever, the essential classes).
 */
export function bettiCsv(bars: Bar[], dims: number[]): string {
  const { xs, ys } = bettiCurves(bars, dims);
  const lines = [["t", ...dims.map((d) => `betti_${d}`)].join(",")];
  // bettiCurves adds a margin past the last value for drawing: only births and deaths make rows
  const changes = new Set(bars.flatMap((b) => [b.birth, b.death]));
  xs.forEach((x, i) => {
    if (changes.has(x)) lines.push([x, ...ys.map((y) => y[i]!)].join(","));
  });
  return `${lines.join("\n")}\n`;
}
