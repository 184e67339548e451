import type { Parser } from "./parser";
import type { CanonicalSink } from "./sink";
import { dimTooLarge, headerError, parseError, tooManyPoints } from "./errors";
import type { SinkLimits } from "./sink";

// Fixed-size binary records (raw float64/float32, .npy bodies, binary PLY
// vertices). Records may straddle chunks; only the partial record is carried.

export interface ElementType {
  size: number;
  /** Little-endian float64: bytes are copied as they are. */
  nativeF64: boolean;
  read(dv: DataView, off: number): number;
  name: string;
}

export const ELEMENT_TYPES: Record<string, ElementType> = {
  "<f8": { size: 8, nativeF64: true, read: (d, o) => d.getFloat64(o, true), name: "float64" },
  ">f8": { size: 8, nativeF64: false, read: (d, o) => d.getFloat64(o, false), name: "float64 (big-endian)" },
  "<f4": { size: 4, nativeF64: false, read: (d, o) => d.getFloat32(o, true), name: "float32" },
  ">f4": { size: 4, nativeF64: false, read: (d, o) => d.getFloat32(o, false), name: "float32 (big-endian)" },
  "<i8": { size: 8, nativeF64: false, read: (d, o) => Number(d.getBigInt64(o, true)), name: "int64" },
  ">i8": { size: 8, nativeF64: false, read: (d, o) => Number(d.getBigInt64(o, false)), name: "int64 (big-endian)" },
  "<u8": { size: 8, nativeF64: false, read: (d, o) => Number(d.getBigUint64(o, true)), name: "uint64" },
  ">u8": { size: 8, nativeF64: false, read: (d, o) => Number(d.getBigUint64(o, false)), name: "uint64 (big-endian)" },
  "<i4": { size: 4, nativeF64: false, read: (d, o) => d.getInt32(o, true), name: "int32" },
  ">i4": { size: 4, nativeF64: false, read: (d, o) => d.getInt32(o, false), name: "int32 (big-endian)" },
  "<u4": { size: 4, nativeF64: false, read: (d, o) => d.getUint32(o, true), name: "uint32" },
  ">u4": { size: 4, nativeF64: false, read: (d, o) => d.getUint32(o, false), name: "uint32 (big-endian)" },
  "<i2": { size: 2, nativeF64: false, read: (d, o) => d.getInt16(o, true), name: "int16" },
  ">i2": { size: 2, nativeF64: false, read: (d, o) => d.getInt16(o, false), name: "int16 (big-endian)" },
  "<u2": { size: 2, nativeF64: false, read: (d, o) => d.getUint16(o, true), name: "uint16" },
  ">u2": { size: 2, nativeF64: false, read: (d, o) => d.getUint16(o, false), name: "uint16 (big-endian)" },
  "|i1": { size: 1, nativeF64: false, read: (d, o) => d.getInt8(o), name: "int8" },
  "|u1": { size: 1, nativeF64: false, read: (d, o) => d.getUint8(o), name: "uint8" },
};

/** Records of `types.length` values (one type per column) written as points. */
export class RecordReader {
  private carry: Buffer | undefined;
  private readonly recordBytes: number;
  private readonly offsets: number[];
  private readonly allNative: boolean;
  private readonly dim: number;
  /** Records read so far. */
  records = 0;

  /**
   * `columns` are the element types of one record; `keep[i]` says whether
   * column i is stored (PLY may carry properties that are not coordinates).
   */
  constructor(
    private readonly sink: CanonicalSink,
    private readonly columns: ElementType[],
    private readonly keep: boolean[] = columns.map(() => true),
    private readonly maxRecords = Infinity,
  ) {
    this.offsets = [];
    let off = 0;
    for (const c of columns) {
      this.offsets.push(off);
      off += c.size;
    }
    this.recordBytes = off;
    this.dim = keep.filter(Boolean).length;
    this.allNative = columns.every((c) => c.nativeF64) && keep.every(Boolean);
    sink.setDim(this.dim);
  }

  get done(): boolean {
    return this.records >= this.maxRecords;
  }

  /** Consumes records from `chunk`; returns the bytes used (all of them unless maxRecords was reached). */
  push(chunk: Uint8Array): number {
    let off = 0;
    const rb = this.recordBytes;
    if (this.done) return 0;
    if (this.carry !== undefined) {
      const need = rb - this.carry.length;
      if (chunk.length < need) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return chunk.length;
      }
      const rec = Buffer.concat([this.carry, chunk.subarray(0, need)]);
      this.carry = undefined;
      this.records_(rec, 0, 1);
      off = need;
    }
    let whole = Math.floor((chunk.length - off) / rb);
    if (this.records + whole > this.maxRecords) whole = this.maxRecords - this.records;
    const batch = Math.max(1, Math.floor(this.sink.maxReserve() / Math.max(1, this.dim)));
    while (whole > 0) {
      const k = Math.min(whole, batch);
      this.records_(chunk, off, k);
      off += k * rb;
      whole -= k;
    }
    if (this.done) return off;
    if (off < chunk.length) this.carry = Buffer.from(chunk.subarray(off));
    return chunk.length;
  }

  /** Bytes of an incomplete record at the end, if any. */
  get partialBytes(): number {
    return this.carry?.length ?? 0;
  }

  private records_(b: Uint8Array, off: number, count: number): void {
    const dim = this.dim;
    const res = this.sink.reserve(count * dim);
    const view = res.view;
    const base = res.offset;
    if (this.allNative) {
      res.bytes.set(b.subarray(off, off + count * this.recordBytes), base * 8);
    } else {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const cols = this.columns;
      let p = base;
      for (let r = 0; r < count; r++) {
        const ro = off + r * this.recordBytes;
        for (let c = 0; c < cols.length; c++) {
          if (this.keep[c]) view[p++] = cols[c]!.read(dv, ro + this.offsets[c]!);
        }
      }
    }
    const bad = this.sink.commitPoints(count); // also checks finiteness, -0 -> 0, bounds
    if (bad >= 0) {
      const rec = this.records + Math.floor(bad / dim);
      const col = (bad % dim) + 1;
      throw parseError(`record ${rec}: not a finite number: ${view[base + bad]} (value ${col} of ${dim}; records are numbered from 0)`, { record: rec });
    }
    this.records += count;
  }
}

/** Raw little-endian float64 / float32, row-major, with the declared dimension. */
export class RawParser implements Parser {
  private readonly reader: RecordReader;
  private bytes = 0;
  constructor(sink: CanonicalSink, dim: number, type: ElementType) {
    if (dim <= 0) throw headerError("dim", `format ${type.name === "float64" ? "RAW_FLOAT64" : "RAW_FLOAT32"} needs the dimension: set header.dim`);
    this.reader = new RecordReader(sink, new Array<ElementType>(dim).fill(type));
    this.recordBytes = dim * type.size;
  }
  private readonly recordBytes: number;
  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.reader.push(chunk);
  }
  finish(): void {
    const p = this.reader.partialBytes;
    if (p > 0) {
      throw parseError(
        `record ${this.reader.records}: input ends inside a record: ${this.bytes} bytes is not a multiple of the record size ${this.recordBytes} (dim x element size)`,
        { record: this.reader.records },
      );
    }
  }
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const MAX_NPY_HEADER = 1 << 16;

/** NumPy .npy (versions 1-3): a 1-D or 2-D C-order numeric array. */
export class NpyParser implements Parser {
  private head: Buffer = Buffer.alloc(0);
  private reader: RecordReader | undefined;
  private expectRows = 0;
  private flatDim = 0;

  constructor(
    private readonly sink: CanonicalSink,
    private readonly declaredDim: number,
    private readonly limits: SinkLimits,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.reader) {
      this.reader.push(chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 12) return;
    if (!this.head.subarray(0, 6).equals(NPY_MAGIC)) throw parseError("byte 0: not a .npy file (bad magic)");
    const major = this.head[6]!;
    const lenBytes = major === 1 ? 2 : 4;
    if (major < 1 || major > 3) throw parseError(`byte 6: unsupported .npy version ${major}`);
    const hlen = lenBytes === 2 ? this.head.readUInt16LE(8) : this.head.readUInt32LE(8);
    if (hlen > MAX_NPY_HEADER) throw parseError(`byte 8: .npy header too long (${hlen} bytes)`);
    const start = 8 + lenBytes;
    if (this.head.length < start + hlen) return;
    const dict = this.head.subarray(start, start + hlen).toString("latin1");
    const body = this.head.subarray(start + hlen);
    this.head = Buffer.alloc(0);
    this.startBody(dict);
    this.reader!.push(body);
  }

  private startBody(dict: string): void {
    const descr = /'descr'\s*:\s*'([^']*)'/.exec(dict)?.[1];
    const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(dict)?.[1];
    const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(dict)?.[1];
    if (descr === undefined || fortran === undefined || shapeText === undefined) throw parseError(`.npy header is malformed: ${dict.slice(0, 120)}`);
    const type = ELEMENT_TYPES[descr.replace(/^=/, "<")];
    if (!type) throw parseError(`.npy dtype '${descr}' is not supported (use a float or integer array)`);
    const shape = shapeText
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map(Number);
    if (shape.some((x) => !Number.isInteger(x) || x < 0)) throw parseError(`.npy shape (${shapeText}) is malformed`);
    let rows: number;
    let dim: number;
    if (shape.length === 2) {
      rows = shape[0]!;
      dim = shape[1]!;
      if (fortran === "True" && rows > 1 && dim > 1) throw parseError(".npy array is in Fortran order; save it in C order (np.ascontiguousarray)");
      if (this.declaredDim > 0 && dim !== this.declaredDim)
        throw parseError(`.npy shape (${shape.join(", ")}) has ${dim} columns but the declared dim is ${this.declaredDim}`);
    } else if (shape.length === 1) {
      dim = this.declaredDim > 0 ? this.declaredDim : 1;
      if (shape[0]! % dim !== 0) throw parseError(`.npy 1-D array of ${shape[0]} values does not split into points of dim ${dim}`);
      rows = shape[0]! / dim;
      this.flatDim = dim;
    } else {
      throw parseError(`.npy array has ${shape.length} dimensions; expected a 2-D array (n points x dim)`);
    }
    if (dim === 0) throw parseError(".npy array has 0 columns");
    // The shape is only a claim of the header: check it against the limits
    // before anything is sized by it (a 128-byte file may declare 2^32 columns).
    if (dim > this.limits.maxDim) throw dimTooLarge(`.npy shape (${shape.join(", ")}): `, this.limits.maxDim);
    if (rows > this.limits.maxPoints) throw tooManyPoints(this.limits.maxPoints);
    this.expectRows = rows;
    this.reader = new RecordReader(this.sink, new Array<ElementType>(dim).fill(type), undefined, rows);
  }

  finish(): void {
    if (!this.reader) throw parseError(this.head.length === 0 ? "empty input" : "input ends inside the .npy header");
    if (this.reader.records < this.expectRows || this.reader.partialBytes > 0) {
      throw parseError(`record ${this.reader.records}: .npy data ends early: expected ${this.expectRows} rows${this.flatDim ? ` of ${this.flatDim}` : ""}`);
    }
  }
}
