// Result downloads made in the browser from the result the API returned:
// Ripser's barcode text and one NumPy .npy file per dimension. Nothing leaves
// the page but the file.

import type { Interval, PersistenceDiagramJson } from "./api";

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
