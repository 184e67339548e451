import { execFileSync } from "node:child_process";

// Barcodes as Ripser prints them, and a comparison as per-dimension multisets
// at Ripser's printed precision (6 significant digits of float32 values).

export type Barcode = Map<number, string[]>;

/** C++ iostream default formatting (precision 6, like %g). */
export function formatG(x: number): string {
  if (!Number.isFinite(x)) return "";
  const f = Math.fround(x);
  if (f === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(f)));
  let s: string;
  if (exp < -5 || exp >= 6) {
    s = f
      .toExponential(5)
      .replace(/\.?0+e/, "e")
      .replace(/e([+-])(\d)$/, "e$10$2");
  } else {
    s = f.toPrecision(6);
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  }
  return s;
}

export function bar(birth: number, death: number): string {
  return `[${formatG(birth)},${Number.isFinite(death) ? formatG(death) : " "})`;
}

/** Parses ripser's stdout into sorted bar strings per dimension. */
export function parseRipserOutput(text: string): Barcode {
  const out: Barcode = new Map();
  let dim = -1;
  for (const line of text.split("\n")) {
    const h = /^persistence intervals in dim (\d+):/.exec(line);
    if (h) {
      dim = Number(h[1]);
      out.set(dim, []);
      continue;
    }
    const b = /^\s*(\[.*\))\s*$/.exec(line);
    if (b && dim >= 0) out.get(dim)!.push(b[1]!);
  }
  for (const v of out.values()) v.sort();
  return out;
}

export function runRipser(args: string[], bin = "/usr/bin/ripser"): Barcode {
  const text = execFileSync(bin, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] });
  return parseRipserOutput(text);
}

/** Diagram (intervals per dimension) to the same form; zero-length bars dropped as Ripser does. */
export function barcodeOf(diagrams: { dimension: number; intervals: { birth: number; death: number }[] }[]): Barcode {
  const out: Barcode = new Map();
  for (const d of diagrams) {
    const bars = d.intervals.filter((i) => !(Number.isFinite(i.death) && Math.fround(i.death) === Math.fround(i.birth))).map((i) => bar(i.birth, i.death));
    out.set(d.dimension, bars.sort());
  }
  return out;
}
