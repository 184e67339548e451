import type { Parser } from "./parser";
import type { CanonicalSink } from "./sink";
import type { TextOptions } from "./text-parsers";
import { TextScanner } from "./text-scanner";
import { ELEMENT_TYPES, RecordReader, type ElementType } from "./binary-parsers";
import { dimTooLarge, lineError, parseError, tooManyPoints } from "./errors";

// Stanford PLY (ascii, binary_little_endian, binary_big_endian). The points
// are the vertex element, which must come first; x, y, z (and w) are kept when
// present, otherwise every scalar property. Later elements (faces) are ignored.

const MAX_HEADER = 1 << 16;
const TYPE_NAMES: Record<string, string> = {
  char: "i1",
  int8: "i1",
  uchar: "u1",
  uint8: "u1",
  short: "i2",
  int16: "i2",
  ushort: "u2",
  uint16: "u2",
  int: "i4",
  int32: "i4",
  uint: "u4",
  uint32: "u4",
  float: "f4",
  float32: "f4",
  double: "f8",
  float64: "f8",
};

interface PlyHeader {
  encoding: "ascii" | "binary_little_endian" | "binary_big_endian";
  vertices: number;
  props: { name: string; type: string }[];
  lines: number;
}

function parseHeader(text: string, maxPoints: number): PlyHeader {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "").trim());
  let encoding: PlyHeader["encoding"] | undefined;
  let vertices = -1;
  let element = "";
  let elementIndex = 0;
  const props: PlyHeader["props"] = [];
  for (let i = 0; i < lines.length; i++) {
    const w = lines[i]!.split(/\s+/);
    switch (w[0]) {
      case "ply":
      case "comment":
      case "obj_info":
      case "":
      case "end_header":
        break;
      case "format":
        if (w[1] !== "ascii" && w[1] !== "binary_little_endian" && w[1] !== "binary_big_endian") throw lineError(i + 1, `unknown PLY format '${w[1] ?? ""}'`);
        encoding = w[1];
        break;
      case "element":
        element = w[1] ?? "";
        if (element === "vertex") {
          if (elementIndex !== 0) throw lineError(i + 1, `the vertex element must be the first PLY element`);
          vertices = Number(w[2]);
          if (!Number.isInteger(vertices) || vertices < 0) throw lineError(i + 1, `bad vertex count '${w[2] ?? ""}'`);
          if (vertices > maxPoints) throw tooManyPoints(maxPoints);
        }
        elementIndex++;
        break;
      case "property":
        if (element !== "vertex") break;
        if (w[1] === "list") throw lineError(i + 1, `list properties in the vertex element are not supported`);
        if (!TYPE_NAMES[w[1] ?? ""]) throw lineError(i + 1, `unknown PLY property type '${w[1] ?? ""}'`);
        props.push({ type: TYPE_NAMES[w[1]!]!, name: w[2] ?? "" });
        break;
      default:
        throw lineError(i + 1, `unexpected PLY header line '${lines[i]!.slice(0, 40)}'`);
    }
  }
  if (!encoding) throw parseError("PLY header has no format line");
  if (vertices < 0) throw parseError("PLY header has no vertex element");
  if (props.length === 0) throw parseError("PLY vertex element has no properties");
  return { encoding, vertices, props, lines: lines.length };
}

function keptColumns(props: PlyHeader["props"]): boolean[] {
  const names = props.map((p) => p.name);
  if (names.includes("x")) return names.map((n) => n === "x" || n === "y" || n === "z" || n === "w");
  return props.map(() => true);
}

class PlyAsciiBody extends TextScanner {
  private readonly vals: number[] = [];
  constructor(
    private readonly sink: CanonicalSink,
    opts: TextOptions,
    private readonly keep: boolean[],
    private readonly vertices: number,
    firstLine: number,
  ) {
    super(opts);
    this.line = firstLine;
    sink.setDim(keep.filter(Boolean).length);
  }
  private row = new Float64Array(0);
  protected onValue(v: number): void {
    if (this.sink.n >= this.vertices) return;
    if (this.col < this.keep.length && this.keep[this.col]) this.vals.push(v);
  }
  protected override onWord(b: Uint8Array, s: number, e: number): void {
    if (this.sink.n >= this.vertices) return;
    throw this.badToken(b, s, e);
  }
  protected onEol(): void {
    if (this.sink.n >= this.vertices || this.col === 0) return;
    if (this.col !== this.keep.length) throw lineError(this.line, `expected ${this.keep.length} vertex properties, got ${this.col}`);
    if (this.row.length !== this.vals.length) this.row = new Float64Array(this.vals.length);
    this.row.set(this.vals);
    this.vals.length = 0;
    this.sink.row(this.row);
  }
}

export class PlyParser implements Parser {
  private head: Buffer = Buffer.alloc(0);
  private ascii: PlyAsciiBody | undefined;
  private binary: RecordReader | undefined;
  private vertices = 0;

  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.ascii) return this.ascii.push(chunk);
    if (this.binary) {
      this.binary.push(chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length >= 4 && this.head.subarray(0, 4).toString("latin1") !== "ply\n" && this.head.subarray(0, 5).toString("latin1") !== "ply\r\n") {
      throw lineError(1, "not a PLY file (expected 'ply')");
    }
    const m = /end_header\r?\n/.exec(this.head.subarray(0, MAX_HEADER).toString("latin1"));
    if (!m) {
      if (this.head.length > MAX_HEADER) throw parseError(`PLY header longer than ${MAX_HEADER} bytes`);
      return;
    }
    const end = m.index + m[0].length;
    const h = parseHeader(this.head.subarray(0, m.index).toString("latin1"), this.opts.maxPoints);
    const body = this.head.subarray(end);
    this.head = Buffer.alloc(0);
    this.vertices = h.vertices;
    const keep = keptColumns(h.props);
    const kept = keep.filter(Boolean).length;
    if (kept > this.opts.maxDim) throw dimTooLarge(`PLY vertex element has ${kept} coordinates: `, this.opts.maxDim);
    if (this.opts.declaredDim > 0 && keep.filter(Boolean).length !== this.opts.declaredDim) {
      throw parseError(`PLY vertices have ${keep.filter(Boolean).length} coordinates but the declared dim is ${this.opts.declaredDim}`);
    }
    if (h.encoding === "ascii") {
      this.ascii = new PlyAsciiBody(this.sink, this.opts, keep, h.vertices, h.lines + 1);
      this.ascii.push(body);
    } else {
      const e = h.encoding === "binary_little_endian" ? "<" : ">";
      const cols: ElementType[] = h.props.map((p) => ELEMENT_TYPES[(p.type.endsWith("1") ? "|" : e) + p.type]!);
      this.binary = new RecordReader(this.sink, cols, keep, h.vertices);
      this.binary.push(body);
    }
  }

  finish(): void {
    if (this.ascii) this.ascii.finish();
    else if (!this.binary) throw parseError(this.head.length === 0 ? "empty input" : "input ends inside the PLY header");
    if (this.sink.n < this.vertices) {
      throw parseError(`${this.binary ? `record ${this.sink.n}` : "end of input"}: PLY data ends after ${this.sink.n} of ${this.vertices} vertices`);
    }
  }
}
