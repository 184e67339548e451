import type { PictureDiagram } from "./pictures";

// Downloads of a result in the formats other tools read: Ripser's text
// output, and NumPy .npy arrays (one dimension per file).

export const RIPSER_CONTENT_TYPE = "text/plain; charset=utf-8";
export const NPY_CONTENT_TYPE = "application/octet-stream";
/** Largest homological dimension a download may name. */
export const MAX_DOWNLOAD_DIMENSION = 63;

/** A value as Ripser prints it: C++ iostream defaults (like %g, 6 significant digits) of the float32 value. */
export function ripserNumber(x: number): string {
  const f = Math.fround(x);
  if (f === 0) return "0";
  const [mantissa, expText] = f.toExponential(5).split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const m = mantissa!.includes(".") ? mantissa!.replace(/0+$/, "").replace(/\.$/, "") : mantissa!;
    return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const s = f.toFixed(Math.max(0, 5 - exp));
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** Ripser's output: per dimension a header line, then " [birth,death)" (" [birth, )" when essential); zero-length bars are not printed. */
export function ripserText(diagrams: PictureDiagram[]): string {
  const lines: string[] = [];
  for (const d of [...diagrams].sort((a, b) => a.dimension - b.dimension)) {
    lines.push(`persistence intervals in dim ${d.dimension}:`);
    for (const iv of d.intervals) {
      if (Number.isFinite(iv.death) && Math.fround(iv.death) === Math.fround(iv.birth)) continue;
      lines.push(` [${ripserNumber(iv.birth)},${Number.isFinite(iv.death) ? ripserNumber(iv.death) : " "})`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A .npy file (format 1.0) of little-endian float64, shape (n, 2): birth, death. */
export function diagramNpy(diagram: PictureDiagram | undefined): Buffer {
  const bars = diagram?.intervals ?? [];
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${bars.length}, 2), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = Buffer.alloc(total + bars.length * 16);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, "latin1");
  bars.forEach((iv, i) => {
    out.writeDoubleLE(iv.birth, total + 16 * i);
    out.writeDoubleLE(iv.death, total + 16 * i + 8);
  });
  return out;
}
