// Result downloads made in the browser from the result the API returned:
// Ripser's barcode text, one NumPy .npy file per dimension and the exact Betti
// curves as CSV. Nothing leaves the page but the file.

import type { Interval, PersistenceDiagramJson } from "./api";
import { bettiCurves, type Bar } from "./bars";

function deathOf(i: Interval): number {
  return typeof i.death === "number" ? i.death : Number(i.death);
}

/** Ripser's text: "persistence intervals in dim k:" then " [birth,death)" (" [birth, )" for an essential class). */
export function ripserText(diagrams: PersistenceDiagramJson[]): string {
  const lines: string[] = [];
  for (const d of [...diagrams].sort((a, b) => a.dimension - b.dimension)) {
    lines.push(`persistence intervals in dim ${d.dimension}:`);
    for (const i of d.intervals) {
      const death = deathOf(i);
      lines.push(Number.isFinite(death) ? ` [${i.birth},${death})` : ` [${i.birth}, )`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A NumPy .npy file (format 1.0) of one dimension's intervals: float64, little
 * endian, shape (n, 2), rows (birth, death), death +inf for an essential class
 * (numpy.load reads it as is).
 */
export function npy(intervals: Interval[]): Uint8Array<ArrayBuffer> {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${intervals.length}, 2), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += `${" ".repeat(pad % 64)}\n`;
  const out = new Uint8Array(new ArrayBuffer(10 + header.length + intervals.length * 16));
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY 1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const data = new DataView(out.buffer, 10 + header.length);
  intervals.forEach((iv, k) => {
    data.setFloat64(16 * k, iv.birth, true);
    data.setFloat64(16 * k + 8, deathOf(iv), true);
  });
  return out;
}

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
