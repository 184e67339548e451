import { TdaError, pbUpload } from "@tda/common";
import { UploadParser } from "./formats";

// Property: any mutation of a valid input either parses into a consistent
// canonical form or fails with a TdaError (INVALID_ARGUMENT, or
// RESOURCE_EXHAUSTED with a reason) - never another exception.

const F = pbUpload.DataFormat;

function f64(v: number[]): Buffer {
  return Buffer.from(new Float64Array(v).buffer);
}

function npy(shape: number[], body: Buffer): Buffer {
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(", ")}), }`.padEnd(118) + "\n";
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, "latin1"), body]);
}

const plyHead = (fmt: string) => `ply\nformat ${fmt} 1.0\nelement vertex 3\nproperty double x\nproperty double y\nend_header\n`;

const SEEDS: [pbUpload.DataFormat, Buffer, number][] = [
  [F.DATA_FORMAT_CSV, Buffer.from("x,y,z\n1.5,2,3\n-4e-3,5,6\n7,8,9.25\n"), 0],
  [F.DATA_FORMAT_WHITESPACE, Buffer.from("# c\n1 2\n3 4\n\n5 6\n"), 0],
  [F.DATA_FORMAT_TSV, Buffer.from("1\t2\t3\r\n4\t5\t6\r\n"), 3],
  [F.DATA_FORMAT_AUTO, Buffer.from("[[1,2],[3,4],[5,6]]"), 0],
  [F.DATA_FORMAT_JSON, Buffer.from('{"name":"p","points":[[1,2,3],[4,5,6]]}'), 0],
  [F.DATA_FORMAT_AUTO, Buffer.from("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"), 0],
  [F.DATA_FORMAT_AUTO, Buffer.from(`${plyHead("ascii")}1 2\n3 4\n5 6\n`), 0],
  [F.DATA_FORMAT_PLY, Buffer.concat([Buffer.from(plyHead("binary_little_endian")), f64([1, 2, 3, 4, 5, 6])]), 0],
  [F.DATA_FORMAT_NPY, npy([3, 2], f64([1, 2, 3, 4, 5, 6])), 0],
  [F.DATA_FORMAT_RAW_FLOAT64, f64([1, 2, 3, 4, 5, 6]), 2],
  [F.DATA_FORMAT_RAW_FLOAT32, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer), 2],
  [F.DATA_FORMAT_LOWER_DISTANCE_MATRIX, Buffer.from("\n1,\n2,3,\n4,5,6,\n"), 0],
  [F.DATA_FORMAT_UPPER_DISTANCE_MATRIX, Buffer.from("1 2 4\n3 5\n6\n"), 0],
  [F.DATA_FORMAT_DISTANCE_MATRIX, Buffer.from("0,1,2\n1,0,3\n2,3,0\n"), 0],
];

const SNIPPETS = [
  "nan",
  "inf",
  "-",
  ",",
  ",,",
  "\n",
  "\r\n",
  "\t",
  " ",
  "e",
  "1e999",
  "[",
  "]",
  "{",
  "}",
  '"',
  "#",
  "0x1",
  "\u00ff",
  "\0",
  "1.5",
  "OFF",
  "ply",
];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function mutate(input: Buffer, r: () => number): Buffer {
  let b = Buffer.from(input);
  const edits = 1 + Math.floor(r() * 3);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
        break;
      case 1: // insert a snippet
        b = Buffer.concat([b.subarray(0, at), Buffer.from(SNIPPETS[Math.floor(r() * SNIPPETS.length)]!, "latin1"), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 8))]);
        break;
      case 3: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(r() * 16)), b.subarray(at)]);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      default: // random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 4) }, () => Math.floor(r() * 256))), b.subarray(at)]);
    }
  }
  return b;
}

/** Mutated inputs fed through the parsers (spread evenly over every seed format). */
const INPUTS = 12000;

describe("parser robustness", () => {
  it("ends every mutated input in success or a TdaError", () => {
    const r = rng(20261123);
    const outcomes = { ok: 0, invalid: 0, exhausted: 0 };
    const crashes: string[] = [];
    let slowest = 0;
    for (let i = 0; i < INPUTS; i++) {
      const [format, seed, dim] = SEEDS[i % SEEDS.length]!;
      const input = mutate(seed, r);
      const chunk = 1 + Math.floor(r() * 12);
      const started = process.hrtime.bigint();
      try {
        const p = new UploadParser(format, { maxPoints: 100000, maxDim: 64, maxTokenBytes: 64, declaredDim: dim });
        const out: Buffer[] = [];
        for (let o = 0; o < input.length; o += chunk) {
          p.push(input.subarray(o, o + chunk));
          out.push(...p.sink.take());
        }
        p.finish();
        out.push(...p.sink.take(true));
        const bytes = Buffer.concat(out);
        const vals = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
        const s = p.sink;
        const expected = s.kind === "points" ? s.n * s.dim : (s.n * (s.n - 1)) / 2;
        if (vals.length !== expected || !vals.every((v) => Number.isFinite(v)) || s.n === 0 || /^[0-9a-f]{64}$/.test(s.sha256()) === false) {
          crashes.push(`#${i} inconsistent result: ${JSON.stringify(input.toString("latin1"))}`);
        }
        outcomes.ok++;
      } catch (err) {
        if (err instanceof TdaError && err.code === 3 && err.violations.length > 0 && err.message.length > 0) outcomes.invalid++;
        else if (err instanceof TdaError && err.code === 8 && err.reason) outcomes.exhausted++;
        else crashes.push(`#${i} ${pbUpload.dataFormatToJSON(format)} ${String(err)} on ${JSON.stringify(input.toString("latin1").slice(0, 200))}`);
      }
      slowest = Math.max(slowest, Number(process.hrtime.bigint() - started) / 1e6);
    }
    // no input of a few hundred bytes may make a parser spin (a generous bound, not a benchmark)
    expect(slowest).toBeLessThan(5000);
    expect(outcomes.ok + outcomes.invalid + outcomes.exhausted).toBe(INPUTS);
    expect(crashes.slice(0, 5)).toEqual([]);
    // the mutations are strong enough to exercise both outcomes
    expect(outcomes.ok).toBeGreaterThan(200);
    expect(outcomes.invalid).toBeGreaterThan(200);
  });
});
