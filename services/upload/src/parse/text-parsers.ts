import type { Parser } from "./parser";
import type { CanonicalSink } from "./sink";
import { TextScanner } from "./text-scanner";
import { dimTooLarge, lineError, parseError, resourceExhaustedMatrix, tooManyPoints } from "./errors";
import { isNonFiniteWord, parseNumber } from "./number";

export interface TextOptions {
  maxTokenBytes: number;
  maxDim: number;
  maxPoints: number;
  /** Declared dimension from the upload header (0 = take it from the first row). */
  declaredDim: number;
}

/** Grows a row buffer up to the dimension limit. */
class RowBuffer {
  vals = new Float64Array(16);
  constructor(private readonly maxDim: number) {}
  set(i: number, v: number, line: number): void {
    if (i >= this.vals.length) {
      if (i >= this.maxDim) throw dimTooLarge(`line ${line}: `, this.maxDim);
      const next = new Float64Array(Math.min(this.maxDim, this.vals.length * 2));
      next.set(this.vals);
      this.vals = next;
    }
    this.vals[i] = v;
  }
}

/**
 * Point clouds as text: one point per line, values separated by commas, tabs
 * or blanks (CSV, TSV, whitespace). An optional header row is recognised when
 * the first non-comment line holds a word that is not a number.
 */
export class PointTextParser extends TextScanner implements Parser {
  private readonly row: RowBuffer;
  private expect = 0;
  private headerAllowed = true;
  private headerLine = 0;

  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {
    super(opts);
    this.row = new RowBuffer(opts.maxDim);
  }

  protected onValue(v: number): void {
    this.row.set(this.col, v, this.line);
  }

  protected override onWord(b: Uint8Array, s: number, e: number): void {
    const v = parseNumber(b, s, e);
    if (this.headerAllowed && v !== Infinity && v !== -Infinity && !isNonFiniteWord(b, s, e)) {
      this.headerAllowed = false;
      this.headerLine = this.line;
      this.skipLine = true;
      return;
    }
    throw this.badToken(b, s, e);
  }

  protected onEol(): void {
    if (this.col === 0 || this.headerLine === this.line) return;
    this.headerAllowed = false;
    if (this.expect === 0) {
      const declared = this.opts.declaredDim;
      if (declared > 0 && this.col !== declared) {
        throw lineError(this.line, `expected ${declared} values (declared dim), got ${this.col}`);
      }
      this.expect = this.col;
      this.sink.setDim(this.col);
    } else if (this.col !== this.expect) {
      throw lineError(this.line, `expected ${this.expect} values, got ${this.col}`);
    }
    this.sink.row(this.row.vals);
  }
}

function checkDistance(v: number, line: number): void {
  if (v < 0) throw lineError(line, `negative distance: ${v}`);
}

/**
 * Ripser's lower-distance-matrix format: the strict lower triangle by rows,
 * values separated by anything; the count must be n(n-1)/2.
 */
export class LowerMatrixParser extends TextScanner implements Parser {
  private readonly maxValues: number;
  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {
    super(opts);
    this.maxValues = triangle(opts.maxPoints);
  }
  protected onValue(v: number): void {
    checkDistance(v, this.line);
    if (this.sink.values >= this.maxValues) throw tooManyPoints(this.opts.maxPoints);
    this.sink.value(v);
  }
  protected onEol(): void {}
  override finish(): void {
    super.finish();
    this.sink.n = triangularSize(this.sink.values, this.opts.maxPoints, "lower");
  }
}

/** Entries of the strict lower triangle of an n x n matrix. */
function triangle(n: number): number {
  return (n * (n - 1)) / 2;
}

/** n such that count = n(n-1)/2, or an error. */
function triangularSize(count: number, maxPoints: number, what: string): number {
  if (count === 0) throw parseError("empty input: no distances found");
  const n = Math.round((1 + Math.sqrt(1 + 8 * count)) / 2);
  if ((n * (n - 1)) / 2 !== count) {
    throw parseError(`${count} values is not a triangular number: a ${what} distance matrix of n points has n(n-1)/2 entries`);
  }
  if (n > maxPoints) throw tooManyPoints(maxPoints);
  return n;
}

/** Full n x n distance matrix, one row per line; the strict lower triangle is kept. */
export class FullMatrixParser extends TextScanner implements Parser {
  private size = 0;
  private rows = 0;
  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {
    super(opts);
  }
  protected onValue(v: number): void {
    checkDistance(v, this.line);
    if (this.size > 0 && this.col >= this.size) {
      throw lineError(this.line, `expected ${this.size} values, got more`);
    }
    if (this.col < this.rows) this.sink.value(v);
    else if (this.col === this.rows && v !== 0) throw lineError(this.line, `diagonal entry ${this.rows + 1} is ${v}, expected 0`);
  }
  protected onEol(): void {
    if (this.col === 0) return;
    if (this.size === 0) {
      this.size = this.col;
      if (this.size > this.opts.maxPoints) throw tooManyPoints(this.opts.maxPoints);
    } else if (this.col !== this.size) {
      throw lineError(this.line, `expected ${this.size} values, got ${this.col}`);
    }
    this.rows++;
    if (this.rows > this.size) throw lineError(this.line, `more rows than columns (${this.size})`);
  }
  override finish(): void {
    super.finish();
    if (this.rows === 0) throw parseError("empty input: no distances found");
    if (this.rows !== this.size) throw parseError(`expected ${this.size} rows of the ${this.size}x${this.size} distance matrix, got ${this.rows}`);
    this.sink.n = this.size;
  }
}

/** Most upper-triangle entries held in memory for the transposition. */
export const MAX_UPPER_VALUES = 32 * 1024 * 1024;

/**
 * Ripser's upper-distance-matrix format: the strict upper triangle by rows.
 * Stored as the lower triangle, which needs the whole matrix: it is held in
 * memory up to MAX_UPPER_VALUES entries (256 MiB).
 */
export class UpperMatrixParser extends TextScanner implements Parser {
  private vals = new Float64Array(1024);
  private count = 0;
  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {
    super(opts);
  }
  protected onValue(v: number): void {
    checkDistance(v, this.line);
    if (this.count === this.vals.length) {
      if (this.count >= triangle(this.opts.maxPoints)) throw tooManyPoints(this.opts.maxPoints);
      if (this.count >= MAX_UPPER_VALUES) throw resourceExhaustedMatrix(MAX_UPPER_VALUES);
      const next = new Float64Array(Math.min(MAX_UPPER_VALUES, triangle(this.opts.maxPoints), this.count * 2));
      next.set(this.vals);
      this.vals = next;
    }
    this.vals[this.count++] = v;
  }
  protected onEol(): void {}
  override finish(): void {
    super.finish();
    const n = triangularSize(this.count, this.opts.maxPoints, "upper");
    // lower (i, j), j < i  =  upper (j, i): row j starts at j*n - j(j+1)/2
    for (let i = 1; i < n; i++) {
      for (let j = 0; j < i; j++) this.sink.value(this.vals[j * n - (j * (j + 1)) / 2 + (i - j - 1)]!);
    }
    this.sink.n = n;
  }
}

/**
 * Geomview OFF / nOFF (as GUDHI writes them): the vertices are the points;
 * faces are ignored. Prefixes C/N/4/ST and 'n' (dimension given) are accepted.
 */
export class OffParser extends TextScanner implements Parser {
  private state: "magic" | "header" | "vertices" | "done" = "magic";
  private header: number[] = [];
  private need = 3;
  private dim = 3;
  private nv = 0;
  private countsLine = 0;
  private dimFromRow = false;
  private readonly row: RowBuffer;
  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {
    super(opts);
    this.row = new RowBuffer(opts.maxDim);
  }
  protected override onWord(b: Uint8Array, s: number, e: number): void {
    if (this.state === "done") return;
    let w = "";
    for (let i = s; i < e && i < s + 16; i++) w += String.fromCharCode(b[i]!);
    const m = /^(ST)?(C)?(N)?(4)?(n)?OFF$/.exec(w);
    if (this.state === "magic" && m) {
      // plain OFF: the dimension is that of the first vertex (GUDHI writes 2-D points as OFF)
      this.dimFromRow = !m[1] && !m[2] && !m[3] && !m[4] && !m[5];
      if (m[4]) this.dim = 4;
      if (m[5]) this.need = 4; // dimension first
      this.state = "header";
      return;
    }
    if (this.state === "magic") throw lineError(this.line, `expected the OFF header keyword, got '${w}'`);
    throw this.badToken(b, s, e);
  }
  protected onValue(v: number): void {
    switch (this.state) {
      case "magic":
        throw lineError(this.line, `expected the OFF header keyword before numbers`);
      case "header":
        this.header.push(v);
        if (this.header.length === this.need) {
          const h = this.header;
          if (this.need === 4) this.dim = h[0]! + (this.dim === 4 ? 1 : 0);
          this.nv = h[this.need - 3]!;
          if (!Number.isInteger(this.dim) || this.dim < 1) throw lineError(this.line, `bad OFF dimension ${h[0]}`);
          if (!Number.isInteger(this.nv) || this.nv < 0) throw lineError(this.line, `bad OFF vertex count ${this.nv}`);
          if (!this.dimFromRow && this.dim > this.opts.maxDim) throw dimTooLarge(`line ${this.line}: OFF dimension ${this.dim}: `, this.opts.maxDim);
          if (this.nv > this.opts.maxPoints) throw tooManyPoints(this.opts.maxPoints);
          if (!this.dimFromRow) this.fixDim(this.dim);
          this.state = this.nv === 0 ? "done" : "vertices";
          this.countsLine = this.line;
          this.skipLine = true; // rest of the counts line
        }
        return;
      case "vertices":
        if (this.col < this.dim || (this.dimFromRow && this.sink.dim === 0)) this.row.set(this.col, v, this.line);
        else if (this.dimFromRow) throw lineError(this.line, `expected ${this.dim} coordinates, got more`);
        return;
      case "done":
        return;
    }
  }
  protected onEol(): void {
    if (this.state !== "vertices" || this.col === 0 || this.line === this.countsLine) return;
    if (this.dimFromRow && this.sink.dim === 0) this.fixDim(this.col);
    if (this.col < this.dim) throw lineError(this.line, `expected ${this.dim} coordinates, got ${this.col}`);
    this.sink.row(this.row.vals);
    if (this.sink.n === this.nv) this.state = "done";
  }
  private fixDim(dim: number): void {
    if (this.opts.declaredDim > 0 && this.opts.declaredDim !== dim) {
      throw lineError(this.line, `OFF dimension ${dim} differs from the declared dim ${this.opts.declaredDim}`);
    }
    this.dim = dim;
    this.sink.setDim(dim);
  }
  override finish(): void {
    super.finish();
    if (this.state === "magic") throw parseError("empty input: no OFF header found");
    if (this.state === "header") throw parseError("OFF header incomplete: expected vertex, face and edge counts");
    if (this.sink.n < this.nv) throw parseError(`OFF file ends after ${this.sink.n} of ${this.nv} vertices (line ${this.line - 1})`);
  }
}
