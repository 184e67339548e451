import { readFileSync } from "node:fs";
import path from "node:path";
import { TdaError, pbUpload } from "@tda/common";
import { UploadParser, sniffFormat } from "./formats";

const F = pbUpload.DataFormat;
const FIXTURES = path.resolve(__dirname, "../../../../test/fixtures");

interface Parsed {
  values: Float64Array;
  n: number;
  dim: number;
  sha: string;
  format: pbUpload.DataFormat;
  min: number[];
  max: number[];
}

function parse(input: Buffer | string, format: pbUpload.DataFormat, opts: { dim?: number; chunk?: number; maxPoints?: number; maxDim?: number } = {}): Parsed {
  const buf = typeof input === "string" ? Buffer.from(input) : input;
  const p = new UploadParser(format, { maxPoints: opts.maxPoints ?? 1e9, maxDim: opts.maxDim ?? 1000, maxTokenBytes: 256, declaredDim: opts.dim ?? 0 });
  const out: Buffer[] = [];
  const step = opts.chunk ?? buf.length;
  for (let o = 0; o < buf.length; o += Math.max(1, step)) {
    p.push(buf.subarray(o, o + Math.max(1, step)));
    out.push(...p.sink.take());
  }
  p.finish();
  out.push(...p.sink.take(true));
  const all = Buffer.concat(out);
  const values = new Float64Array(all.buffer, all.byteOffset, all.length / 8);
  return {
    values: Float64Array.from(values),
    n: p.sink.n,
    dim: p.sink.dim,
    sha: p.sink.sha256(),
    format: p.format,
    min: Array.from(p.sink.min),
    max: Array.from(p.sink.max),
  };
}

function parseError(
  input: Buffer | string,
  format: pbUpload.DataFormat,
  opts: { dim?: number; chunk?: number; maxPoints?: number; maxDim?: number } = {},
): TdaError {
  try {
    parse(input, format, opts);
  } catch (err) {
    if (err instanceof TdaError) return err;
    throw err;
  }
  throw new Error("expected a parse error");
}

function f64(...v: number[]): Buffer {
  return Buffer.from(new Float64Array(v).buffer);
}

function npy(descr: string, shape: number[], body: Buffer, fortran = false): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = 10 + dict.length + 1;
  dict += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, "latin1"), body]);
}

const POINTS = "1,2,3\n4,5,6\n-1,0.5,9\n";
const POINT_VALUES = [1, 2, 3, 4, 5, 6, -1, 0.5, 9];

describe("text point clouds", () => {
  it("parses CSV into canonical float64 with bounds", () => {
    const r = parse(POINTS, F.DATA_FORMAT_CSV);
    expect(Array.from(r.values)).toEqual(POINT_VALUES);
    expect([r.n, r.dim]).toEqual([3, 3]);
    expect(r.min).toEqual([-1, 0.5, 3]);
    expect(r.max).toEqual([4, 5, 9]);
  });

  it("gives the same hash for CSV, TSV, whitespace, a header row, CRLF, BOM, comments and quotes", () => {
    const want = parse(POINTS, F.DATA_FORMAT_CSV).sha;
    const variants: [string, pbUpload.DataFormat][] = [
      ["1\t2\t3\n4\t5\t6\n-1\t0.5\t9", F.DATA_FORMAT_TSV],
      ["  1 2   3 \n\n4 5 6\n-1 .5 9e0\n\n", F.DATA_FORMAT_WHITESPACE],
      ["x,y,z\n1,2,3\n4,5,6\n-1,0.5,9\n", F.DATA_FORMAT_CSV],
      ["\ufeffx , y , z\r\n1 , 2 , 3\r\n4,5,6\r\n-1,0.5,9\r\n", F.DATA_FORMAT_CSV],
      ["# made by hand\n1,2,3\n# middle\n4,5,6\n-1,0.5,9\n", F.DATA_FORMAT_CSV],
      ['"a","b","c"\n"1","2","3"\n4,5,6\n-1,0.5,9\n', F.DATA_FORMAT_CSV],
      ["1,2,3,\n4,5,6,\n-1,0.5,9,\n", F.DATA_FORMAT_CSV],
      [POINTS, F.DATA_FORMAT_AUTO],
    ];
    for (const [text, fmt] of variants) expect([text, parse(text, fmt).sha]).toEqual([text, want]);
  });

  it("does not depend on how the input is chunked", () => {
    let text = "a b\n";
    for (let i = 0; i < 500; i++) text += `${(Math.sin(i) * 1e3).toString()} ${(i * 1.25e-7).toExponential()}\n`;
    const whole = parse(text, F.DATA_FORMAT_WHITESPACE);
    for (const chunk of [1, 2, 3, 7, 64, 1000]) expect(parse(text, F.DATA_FORMAT_WHITESPACE, { chunk }).sha).toBe(whole.sha);
    expect(whole.n).toBe(500);
  });

  it("names the line of a ragged row", () => {
    const e = parseError("1,2,3\n4,5,6\n7,8\n", F.DATA_FORMAT_CSV);
    expect(e.code).toBe(3);
    expect(e.message).toBe("line 3: expected 3 values, got 2");
    expect(e.violations).toEqual([{ field: "chunk", description: "line 3: expected 3 values, got 2" }]);
    expect(parseError("x,y\n1,2\n\n3,4\n5,6,7\n", F.DATA_FORMAT_CSV, { chunk: 3 }).message).toBe("line 5: expected 2 values, got 3");
  });

  it("gives the place as numbers too (ErrorInfo metadata: line, column; record for binary input)", () => {
    expect(parseError("1,2,3\n4,5,6\n7,8\n", F.DATA_FORMAT_CSV).metadata).toEqual({ line: "3" });
    for (const chunk of [1, 4, 1000]) {
      const e = parseError("0.5 1\n2 3\n\n4 abc\n", F.DATA_FORMAT_WHITESPACE, { chunk });
      expect({ message: e.message, metadata: e.metadata }).toEqual({ message: "line 4: not a number: 'abc' (column 2)", metadata: { line: "4", column: "2" } });
    }
    expect(parseError('{"points": [[1, 2],\n [3, "x"]]}', F.DATA_FORMAT_JSON).metadata).toEqual({ line: "2" });
    expect(parseError("ply\nformat ascii 1.0\nelement vertex 1\nproperty list uchar int x\nend_header\n", F.DATA_FORMAT_PLY).metadata).toEqual({ line: "4" });
    const raw = Buffer.alloc(24);
    raw.writeDoubleLE(1, 0);
    raw.writeDoubleLE(NaN, 16);
    expect(parseError(raw, F.DATA_FORMAT_RAW_FLOAT64, { dim: 1 }).metadata).toEqual({ record: "2" });
  });

  it("rejects NaN, infinities and junk naming line and column", () => {
    expect(parseError("1,2\n3,4\n5,6\n7,8\nnan,1\n", F.DATA_FORMAT_CSV).message).toBe("line 5: not a finite number: 'nan' (column 1)");
    expect(parseError("1 2\n3 -inf\n", F.DATA_FORMAT_WHITESPACE).message).toBe("line 2: not a finite number: '-inf' (column 2)");
    expect(parseError("1 2\n3 1e999\n", F.DATA_FORMAT_WHITESPACE).message).toBe("line 2: not a finite number: '1e999' (column 2)");
    expect(parseError("1,2\n3,4x\n", F.DATA_FORMAT_CSV).message).toBe("line 2: not a number: '4x' (column 2)");
    expect(parseError("1,2\nNaN,4\n", F.DATA_FORMAT_CSV, { chunk: 1 }).message).toBe("line 2: not a finite number: 'NaN' (column 1)");
    // a word on the first line is a header, not on a later one
    expect(parseError("1,2\nx,y\n", F.DATA_FORMAT_CSV).message).toBe("line 2: not a number: 'x' (column 1)");
  });

  it("rejects empty values, empty input and a declared dim mismatch", () => {
    expect(parseError("1,,2\n", F.DATA_FORMAT_CSV).message).toBe("line 1: empty value in column 2");
    expect(parseError(",1\n", F.DATA_FORMAT_CSV).message).toBe("line 1: empty value in column 1");
    expect(parseError("", F.DATA_FORMAT_CSV).message).toMatch(/^empty input/);
    expect(parseError("x,y\n# nothing\n", F.DATA_FORMAT_CSV).message).toMatch(/^empty input/);
    expect(parseError("", F.DATA_FORMAT_AUTO).message).toMatch(/^empty input/);
    expect(parseError("1,2\n3,4\n", F.DATA_FORMAT_CSV, { dim: 3 }).message).toBe("line 1: expected 3 values (declared dim), got 2");
  });

  it("enforces the point limit with RESOURCE_EXHAUSTED and the dimension limit with INVALID_ARGUMENT", () => {
    const e = parseError("1\n2\n3\n", F.DATA_FORMAT_CSV, { maxPoints: 2 });
    expect([e.code, e.reason]).toEqual([8, "UPLOAD_TOO_MANY_POINTS"]);
    const d = parseError("1 2 3 4 5\n", F.DATA_FORMAT_WHITESPACE, { maxDim: 4 });
    expect([d.code, d.reason]).toEqual([3, "UPLOAD_DIM_TOO_LARGE"]);
  });

  it("parses a bundled point cloud fixture", () => {
    const r = parse(readFileSync(path.join(FIXTURES, "o3_1024.txt")), F.DATA_FORMAT_AUTO, { chunk: 4099 });
    expect([r.n, r.dim]).toEqual([1024, 9]);
    expect(r.values[0]).toBe(0.5590688801286003);
  });
});

describe("binary point clouds", () => {
  it("RAW_FLOAT64 matches the CSV hash; records may straddle chunks", () => {
    const raw = f64(...POINT_VALUES);
    const want = parse(POINTS, F.DATA_FORMAT_CSV).sha;
    for (const chunk of [1, 5, 8, 24, 1000]) expect(parse(raw, F.DATA_FORMAT_RAW_FLOAT64, { dim: 3, chunk }).sha).toBe(want);
  });

  it("RAW_FLOAT32 widens to float64", () => {
    const raw = Buffer.from(new Float32Array(POINT_VALUES).buffer);
    const r = parse(raw, F.DATA_FORMAT_RAW_FLOAT32, { dim: 3, chunk: 5 });
    expect(Array.from(r.values)).toEqual(POINT_VALUES);
    expect(r.sha).toBe(parse(POINTS, F.DATA_FORMAT_CSV).sha);
  });

  it("needs a dimension, whole records and finite values", () => {
    expect(parseError(f64(1, 2), F.DATA_FORMAT_RAW_FLOAT64).violations[0]!.field).toBe("header.dim");
    expect(parseError(Buffer.concat([f64(1, 2, 3), Buffer.alloc(4)]), F.DATA_FORMAT_RAW_FLOAT64, { dim: 3 }).message).toMatch(
      /^record 1: input ends inside a record/,
    );
    expect(parseError(f64(1, 2, 3, 4, NaN, 6), F.DATA_FORMAT_RAW_FLOAT64, { dim: 3, chunk: 7 }).message).toMatch(
      /^record 1: not a finite number: NaN \(value 2 of 3/,
    );
    expect(parseError(Buffer.from(new Float32Array([1, 2, Infinity, 3]).buffer), F.DATA_FORMAT_RAW_FLOAT32, { dim: 2 }).message).toMatch(
      /^record 1: not a finite number: Infinity/,
    );
  });

  it("reads .npy files (float64, float32, int32, 1-D with declared dim) and sniffs them", () => {
    const want = parse(POINTS, F.DATA_FORMAT_CSV).sha;
    expect(parse(npy("<f8", [3, 3], f64(...POINT_VALUES)), F.DATA_FORMAT_NPY, { chunk: 13 }).sha).toBe(want);
    expect(parse(npy("<f4", [3, 3], Buffer.from(new Float32Array(POINT_VALUES).buffer)), F.DATA_FORMAT_AUTO).sha).toBe(want);
    expect(parse(npy("<f8", [9], f64(...POINT_VALUES)), F.DATA_FORMAT_NPY, { dim: 3 }).sha).toBe(want);
    const ints = parse(npy("<i4", [2, 2], Buffer.from(new Int32Array([1, -2, 3, 4]).buffer)), F.DATA_FORMAT_NPY);
    expect(Array.from(ints.values)).toEqual([1, -2, 3, 4]);
    expect(parseError(npy("<f8", [3, 3], f64(1, 2, 3)), F.DATA_FORMAT_NPY).message).toMatch(/^record 1: .npy data ends early/);
    expect(parseError(npy("<f8", [3, 3], f64(...POINT_VALUES), true), F.DATA_FORMAT_NPY).message).toMatch(/Fortran order/);
    expect(parseError(npy("<c16", [1, 1], Buffer.alloc(16)), F.DATA_FORMAT_NPY).message).toMatch(/dtype '<c16' is not supported/);
  });

  it("refuses to guess binary input as text", () => {
    expect(parseError(f64(1, 2, 3), F.DATA_FORMAT_AUTO).violations[0]!.field).toBe("header.format");
  });
});

describe("sizes a header declares", () => {
  // Each is checked against the limits before anything is sized by it: a
  // 128-byte .npy declaring (1, 4294967295) once made the service allocate a
  // per-column array of 2^32 entries and die of heap exhaustion.
  it("refuses a .npy shape past the dimension or point limit before allocating", () => {
    const wide = npy("<f8", [1, 4294967295], Buffer.alloc(0));
    expect(wide.length).toBe(128);
    const before = process.memoryUsage().heapUsed;
    const e = parseError(wide, F.DATA_FORMAT_NPY, { maxDim: 10_000 });
    expect([e.code, e.reason]).toEqual([3, "UPLOAD_DIM_TOO_LARGE"]);
    expect(e.message).toMatch(/^\.npy shape \(1, 4294967295\): more than 10000 values per point/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    expect(parseError(npy("<f8", [4294967295, 3], Buffer.alloc(0)), F.DATA_FORMAT_AUTO, { maxPoints: 1000 }).reason).toBe("UPLOAD_TOO_MANY_POINTS");
    expect(parseError(npy("<f8", [99999999999999999999], Buffer.alloc(0)), F.DATA_FORMAT_NPY, { dim: 3 }).message).toMatch(/does not split|UPLOAD_MAX_POINTS/);
  });

  it("refuses PLY and OFF counts and dimensions past the limits from the header", () => {
    const ply =
      "ply\nformat binary_little_endian 1.0\nelement vertex 2\n" +
      "abcde"
        .split("")
        .map((c) => `property double ${c}\n`)
        .join("") +
      "end_header\n";
    expect(parseError(ply, F.DATA_FORMAT_PLY, { maxDim: 4 }).reason).toBe("UPLOAD_DIM_TOO_LARGE");
    expect(parseError("ply\nformat ascii 1.0\nelement vertex 4294967295\nproperty float x\nend_header\n", F.DATA_FORMAT_PLY, { maxPoints: 10 }).reason).toBe(
      "UPLOAD_TOO_MANY_POINTS",
    );
    expect(parseError("nOFF\n4294967295\n1 0 0\n", F.DATA_FORMAT_OFF, { maxDim: 100 }).reason).toBe("UPLOAD_DIM_TOO_LARGE");
    expect(parseError("OFF\n4294967295 0 0\n", F.DATA_FORMAT_OFF, { maxPoints: 10 }).reason).toBe("UPLOAD_TOO_MANY_POINTS");
  });

  it("refuses a distance matrix past the point limit as soon as it has too many entries", () => {
    // maxPoints 3: at most 3 entries below the diagonal
    expect(parseError("1 2 3 4", F.DATA_FORMAT_LOWER_DISTANCE_MATRIX, { maxPoints: 3 }).reason).toBe("UPLOAD_TOO_MANY_POINTS");
    expect(parseError("0 1 1 1\n", F.DATA_FORMAT_DISTANCE_MATRIX, { maxPoints: 3 }).reason).toBe("UPLOAD_TOO_MANY_POINTS");
    expect(parseError(Array.from({ length: 2000 }, () => "1").join(" "), F.DATA_FORMAT_UPPER_DISTANCE_MATRIX, { maxPoints: 40 }).reason).toBe(
      "UPLOAD_TOO_MANY_POINTS",
    );
  });
});

describe("OFF, PLY and JSON", () => {
  it("reads OFF and nOFF vertices", () => {
    const off = parse(readFileSync(path.join(FIXTURES, "alphacomplexdoc.off")), F.DATA_FORMAT_AUTO);
    expect(off.format).toBe(F.DATA_FORMAT_OFF);
    expect([off.n, off.dim]).toEqual([7, 3]);
    const n = parse("nOFF\n4\n2 0 0\n1 2 3 4\n5 6 7 8\n", F.DATA_FORMAT_AUTO);
    expect([n.n, n.dim, ...n.values]).toEqual([2, 4, 1, 2, 3, 4, 5, 6, 7, 8]);
    const faces = parse("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", F.DATA_FORMAT_OFF, { chunk: 2 });
    expect([faces.n, faces.dim]).toEqual([3, 3]);
    expect(parseError("OFF\n3 0 0\n0 0 0\n1 0\n", F.DATA_FORMAT_OFF).message).toBe("line 4: expected 3 coordinates, got 2");
    const flat = parse("OFF\n2 0 0\n0.5 1\n-1 2\n", F.DATA_FORMAT_OFF);
    expect([flat.n, flat.dim, ...flat.values]).toEqual([2, 2, 0.5, 1, -1, 2]);
    expect(parseError("OFF\n2 0 0\n0.5 1\n-1 2 3\n", F.DATA_FORMAT_OFF).message).toBe("line 4: expected 2 coordinates, got more");
    expect(parseError("COFF\n1 0 0\n1 2\n", F.DATA_FORMAT_OFF).message).toBe("line 3: expected 3 coordinates, got 2");
    expect(parseError("OFF\n3 0 0\n0 0 0\n", F.DATA_FORMAT_OFF).message).toMatch(/ends after 1 of 3 vertices/);
  });

  it("reads ASCII and binary PLY vertices (x, y, z kept)", () => {
    const want = parse(POINTS, F.DATA_FORMAT_CSV).sha;
    const head = (fmt: string) =>
      `ply\nformat ${fmt} 1.0\ncomment test\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n`;
    const ascii = `${head("ascii")}1 2 3 255\n4 5 6 0\n-1 0.5 9 7\n3 0 1 2\n`;
    expect(parse(ascii, F.DATA_FORMAT_AUTO, { chunk: 9 }).sha).toBe(want);
    const rec = Buffer.alloc(13 * 3);
    POINT_VALUES.forEach((v, i) => rec.writeFloatLE(v, Math.floor(i / 3) * 13 + (i % 3) * 4));
    const bin = Buffer.concat([Buffer.from(head("binary_little_endian")), rec, Buffer.from([3, 0, 0, 0, 0])]);
    expect(parse(bin, F.DATA_FORMAT_PLY, { chunk: 5 }).sha).toBe(want);
    expect(parseError(`${head("ascii")}1 2 3 255\n4 5 6\n`, F.DATA_FORMAT_PLY).message).toBe("line 13: expected 4 vertex properties, got 3");
  });

  it("reads JSON arrays and objects", () => {
    const want = parse(POINTS, F.DATA_FORMAT_CSV).sha;
    expect(parse("[[1,2,3],[4,5,6],[-1,0.5,9]]", F.DATA_FORMAT_AUTO).sha).toBe(want);
    expect(
      parse('{"name": "x [1]", "meta": {"a": [1, {"b": 2}]}, "points": [\n [1, 2, 3],\n [4, 5, 6],\n [-1, 5e-1, 9]\n]}', F.DATA_FORMAT_JSON, { chunk: 3 }).sha,
    ).toBe(want);
    expect(parse("[1,2,3,4,5,6,-1,0.5,9]", F.DATA_FORMAT_JSON, { dim: 3 }).sha).toBe(want);
    expect(parseError("[[1,2,3],\n[4,5]]", F.DATA_FORMAT_JSON).message).toBe("line 2: expected 3 values, got 2");
    expect(parseError("[[1,2],\n[NaN,5]]", F.DATA_FORMAT_JSON).message).toBe("line 2: not a finite number: 'NaN'");
    expect(parseError("[[1,2],[3,4]", F.DATA_FORMAT_JSON).message).toMatch(/ends inside the JSON/);
    expect(parseError('{"other": 1}', F.DATA_FORMAT_JSON).message).toMatch(/holds no points/);
    expect(parseError("[[1 2]]", F.DATA_FORMAT_JSON).message).toBe("line 1: expected ','");
  });
});

describe("distance matrices", () => {
  it("stores lower, upper and full forms of one matrix identically", () => {
    const lower = parse(readFileSync(path.join(FIXTURES, "projective_plane.lower_distance_matrix")), F.DATA_FORMAT_LOWER_DISTANCE_MATRIX);
    const full = parse(readFileSync(path.join(FIXTURES, "projective_plane.csv")), F.DATA_FORMAT_DISTANCE_MATRIX, { chunk: 17 });
    expect(lower.n).toBe(13);
    expect(lower.values.length).toBe(78);
    expect(full.sha).toBe(lower.sha);
    const upperText = (() => {
      const rows: string[] = [];
      const m = (i: number, j: number) => lower.values[(i * (i - 1)) / 2 + j]!; // i > j
      for (let r = 0; r < 13; r++) {
        const row: number[] = [];
        for (let c = r + 1; c < 13; c++) row.push(m(c, r));
        rows.push(row.join(" "));
      }
      return rows.join("\n");
    })();
    expect(parse(upperText, F.DATA_FORMAT_UPPER_DISTANCE_MATRIX).sha).toBe(lower.sha);
  });

  it("keeps points and distances apart in the hash", () => {
    expect(parse("1\n", F.DATA_FORMAT_LOWER_DISTANCE_MATRIX).sha).not.toBe(parse("1\n", F.DATA_FORMAT_CSV).sha);
  });

  it("rejects non-triangular counts, ragged full rows and negative distances", () => {
    expect(parseError("1,2\n", F.DATA_FORMAT_LOWER_DISTANCE_MATRIX).message).toMatch(/^2 values is not a triangular number/);
    expect(parseError("0,1,2\n1,0\n", F.DATA_FORMAT_DISTANCE_MATRIX).message).toBe("line 2: expected 3 values, got 2");
    expect(parseError("\n1,\n2,-3\n", F.DATA_FORMAT_LOWER_DISTANCE_MATRIX).message).toBe("line 3: negative distance: -3");
    expect(parseError("0 1\n1 0\n2 2\n", F.DATA_FORMAT_DISTANCE_MATRIX).message).toBe("line 3: more rows than columns (2)");
    expect(parseError("0 1\n1 0 5\n", F.DATA_FORMAT_DISTANCE_MATRIX).message).toBe("line 2: expected 2 values, got more");
  });
});

describe("sniffing", () => {
  it("recognises the formats by their first bytes", () => {
    expect(sniffFormat(Buffer.from("ply\nformat ascii 1.0\n"))).toBe(F.DATA_FORMAT_PLY);
    expect(sniffFormat(Buffer.from("# c\nOFF\n"))).toBe(F.DATA_FORMAT_OFF);
    expect(sniffFormat(Buffer.from("  [[1]]"))).toBe(F.DATA_FORMAT_JSON);
    expect(sniffFormat(Buffer.from("1 2 3\n"))).toBe(F.DATA_FORMAT_CSV);
  });
});
