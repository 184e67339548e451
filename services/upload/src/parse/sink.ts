import { createHash, type Hash } from "node:crypto";
import { dimTooLarge, tooManyPoints } from "./errors";

// Collects parsed values in the canonical stored form (little-endian float64,
// row-major; distance matrices as their strict lower triangle), tracks n, dim
// and per-axis bounds, and hashes the canonical bytes (after a small header
// naming kind and dim, so equal content in different formats gets one hash).
// Parsers fill it synchronously; the caller takes the filled buffers and writes
// them out between input chunks, so memory stays bounded.

export type CanonicalKind = "points" | "distances";

const CHUNK_VALUES = 128 * 1024; // 1 MiB of float64

export interface SinkLimits {
  maxPoints: number;
  maxDim: number;
}

export class CanonicalSink {
  readonly kind: CanonicalKind;
  /** Values per point (0 until known; always 0 for distance matrices). */
  dim = 0;
  /** Points stored (rows); for distance matrices set by the parser at the end. */
  n = 0;
  /** Values stored. */
  values = 0;
  min: Float64Array = new Float64Array(0);
  max: Float64Array = new Float64Array(0);
  private scratchLo: Float64Array = new Float64Array(0);
  private scratchHi: Float64Array = new Float64Array(0);
  private buf: Buffer;
  private view: Float64Array;
  private pos = 0;
  private ready: Buffer[] = [];
  /** Chunks given back after they were written out, reused by `rotate` (fewer 1 MiB allocations, fewer GCs). */
  private free: Buffer[] = [];
  private readonly own = new WeakSet<ArrayBufferLike>();
  private hash: Hash | undefined;
  private digest: string | undefined;
  private readonly limits: SinkLimits;

  constructor(kind: CanonicalKind, limits: SinkLimits) {
    this.kind = kind;
    this.limits = limits;
    this.buf = this.newChunk();
    this.view = new Float64Array(this.buf.buffer, this.buf.byteOffset, CHUNK_VALUES);
  }

  private newChunk(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    // its own ArrayBuffer (1 MiB is never taken from Node's small-buffer pool)
    const b = Buffer.from(new ArrayBuffer(CHUNK_VALUES * 8));
    this.own.add(b.buffer);
    return b;
  }

  /**
   * Gives back a buffer returned by `take` once nothing uses it any more (it
   * was written out): the sink fills it again. Anything else is ignored.
   */
  recycle(b: Uint8Array): void {
    if (this.free.length < 4 && this.own.has(b.buffer) && b.buffer !== this.buf.buffer && !this.free.some((f) => f.buffer === b.buffer)) {
      this.free.push(Buffer.from(b.buffer, 0, CHUNK_VALUES * 8));
    }
  }

  setDim(dim: number): void {
    if (this.dim !== 0) return;
    if (dim > this.limits.maxDim) throw dimTooLarge("", this.limits.maxDim);
    this.dim = dim;
    this.min = new Float64Array(dim).fill(Infinity);
    this.max = new Float64Array(dim).fill(-Infinity);
    this.scratchLo = new Float64Array(dim);
    this.scratchHi = new Float64Array(dim);
  }

  /** Appends one point of `this.dim` values (already checked finite). */
  row(vals: Float64Array): void {
    const d = this.dim;
    if (this.n >= this.limits.maxPoints) throw tooManyPoints(this.limits.maxPoints);
    if (this.pos + d > CHUNK_VALUES) this.rotate();
    const view = this.view;
    const min = this.min;
    const max = this.max;
    let p = this.pos;
    for (let k = 0; k < d; k++) {
      const v = vals[k]!;
      view[p++] = v;
      if (v < min[k]!) min[k] = v;
      if (v > max[k]!) max[k] = v;
    }
    this.pos = p;
    this.n++;
    this.values += d;
  }

  /**
   * Space for `count` values written directly by a binary parser; the caller
   * fills `target()[offset .. offset+count)` and then calls `commitPoints`.
   */
  reserve(count: number): { view: Float64Array; bytes: Buffer; offset: number } {
    if (count > CHUNK_VALUES) throw new Error("reserve: too many values");
    if (this.pos + count > CHUNK_VALUES) this.rotate();
    return { view: this.view, bytes: this.buf, offset: this.pos };
  }

  /** Largest reservation the sink accepts, rounded down to whole points. */
  maxReserve(): number {
    const d = Math.max(1, this.dim);
    return Math.floor(CHUNK_VALUES / d) * d;
  }

  /**
   * Commits `rows` whole points written into the reserved space, in one pass
   * that also stores -0 as 0 and updates the bounds. If a value is not finite,
   * nothing is committed and its index (from the start of the reservation) is
   * returned; otherwise -1.
   */
  commitPoints(rows: number): number {
    const d = this.dim;
    if (this.n + rows > this.limits.maxPoints) throw tooManyPoints(this.limits.maxPoints);
    const view = this.view;
    const start = this.pos;
    const end = start + rows * d;
    // One column at a time, with the bounds in locals: finiteness is summed
    // (v - v is 0 for a finite v, NaN otherwise) and looked at once per column;
    // the bounds are kept only when every column passed.
    const lows = this.scratchLo;
    const highs = this.scratchHi;
    for (let k = 0; k < d; k++) {
      let lo = this.min[k]!;
      let hi = this.max[k]!;
      let bad = 0;
      for (let p = start + k; p < end; p += d) {
        const v = view[p]! + 0; // -0 -> 0
        view[p] = v;
        bad += v - v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (bad !== 0) {
        // NaN or ±Infinity somewhere: find the first, commit nothing
        for (let p = start; p < end; p++) {
          const v = view[p]!;
          if (v - v !== 0) return p - start;
        }
      }
      lows[k] = lo;
      highs[k] = hi;
    }
    this.min.set(lows);
    this.max.set(highs);
    this.pos = end;
    this.n += rows;
    this.values += rows * d;
    return -1;
  }

  /** Appends one distance-matrix entry (strict lower triangle order). */
  value(v: number): void {
    if (this.pos === CHUNK_VALUES) this.rotate();
    this.view[this.pos++] = v;
    this.values++;
  }

  private rotate(): void {
    if (this.pos === 0) return;
    this.ready.push(this.buf.subarray(0, this.pos * 8));
    this.buf = this.newChunk();
    this.view = new Float64Array(this.buf.buffer, this.buf.byteOffset, CHUNK_VALUES);
    this.pos = 0;
  }

  /** Filled buffers, in order, ready to be written out (hashed as they are taken). */
  take(final = false): Buffer[] {
    if (final) this.rotate();
    const out = this.ready;
    this.ready = [];
    if (out.length > 0) {
      const h = this.ensureHash();
      for (const b of out) h.update(b);
    }
    return out;
  }

  private ensureHash(): Hash {
    if (!this.hash) {
      this.hash = createHash("sha256");
      const head = Buffer.alloc(24);
      head.write("tda-canon", 0, "latin1"); // 9 bytes + NULs
      head.writeUInt32LE(1, 12); // canonical form version
      head.writeUInt32LE(this.kind === "points" ? 1 : 2, 16);
      head.writeUInt32LE(this.dim, 20);
      this.hash.update(head);
    }
    return this.hash;
  }

  /** The sha256 (hex) of header + canonical bytes; call after the final take(). */
  sha256(): string {
    if (!this.digest) this.digest = this.ensureHash().digest("hex");
    return this.digest;
  }

  /** Bytes of the canonical form. */
  get sizeBytes(): number {
    return this.values * 8;
  }
}
