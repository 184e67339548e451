import type { Parser } from "./parser";
import type { CanonicalSink } from "./sink";
import type { TextOptions } from "./text-parsers";
import { lineError, parseError, showToken, dimTooLarge } from "./errors";
import { isNonFiniteWord, parseNumber } from "./number";

// Streaming JSON point clouds: [[x, y, ...], ...], a flat [x, y, ...] with the
// declared dim, or an object whose "points" (or "data", "coordinates",
// "vertices") member is one of those; other members are skipped. The lexer
// works on bytes and keeps only the container stack and a partial token.

const DATA_KEYS = new Set(["points", "data", "coordinates", "vertices", "X"]);
const MAX_DEPTH = 64;

export class JsonParser implements Parser {
  private line = 1;
  private stack: number[] = []; // 91 '[' or 123 '{'
  private dataDepth = 0; // stack depth of the points array (0 = not yet found)
  private dataDone = false;
  private inString = false;
  private escape = false;
  private key = "";
  private collectKey = false;
  private expectKey = false;
  private lastKey = "";
  private token: number[] = [];
  private needComma = false;
  private row = new Float64Array(16);
  private col = 0;
  private expect = 0;
  private flat = false;
  private sawAny = false;

  constructor(
    private readonly sink: CanonicalSink,
    private readonly opts: TextOptions,
  ) {}

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 92) this.escape = true;
        else if (c === 34) {
          this.inString = false;
          if (this.collectKey) this.lastKey = this.key;
          this.afterValue();
        } else if (this.collectKey && this.key.length < 64) this.key += String.fromCharCode(c);
        if (c === 10) this.line++;
        continue;
      }
      const isTok = (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
      if (isTok) {
        if (this.token.length >= this.opts.maxTokenBytes) throw lineError(this.line, `token longer than ${this.opts.maxTokenBytes} bytes`);
        this.token.push(c);
        continue;
      }
      if (this.token.length > 0) this.endToken();
      switch (c) {
        case 10:
          this.line++;
          break;
        case 32:
        case 9:
        case 13:
          break;
        case 34:
          this.beforeValue();
          this.inString = true;
          this.collectKey = this.expectKey && this.stack.length === 1;
          this.key = "";
          if (this.inData()) throw lineError(this.line, `expected a number, got a string`);
          break;
        case 91:
        case 123:
          this.open(c);
          break;
        case 93:
        case 125:
          this.close(c);
          break;
        case 44:
          if (this.inData() && !this.needComma) throw lineError(this.line, `unexpected ','`);
          this.needComma = false;
          if (this.top() === 123) this.expectKey = true;
          break;
        case 58:
          this.expectKey = false;
          this.needComma = false;
          break;
        default:
          throw lineError(this.line, `unexpected character '${showToken(chunk, i, i + 1)}'`);
      }
    }
  }

  private top(): number | undefined {
    return this.stack[this.stack.length - 1];
  }

  /** Inside the points array (at the array or row level). */
  private inData(): boolean {
    return this.dataDepth > 0 && this.stack.length >= this.dataDepth;
  }

  private beforeValue(): void {
    if (this.inData() && this.needComma) throw lineError(this.line, `expected ','`);
  }

  private afterValue(): void {
    this.needComma = true;
  }

  private open(c: number): void {
    this.beforeValue();
    this.sawAny = true;
    if (this.stack.length >= MAX_DEPTH) throw lineError(this.line, `JSON nested deeper than ${MAX_DEPTH}`);
    const depth = this.stack.length;
    if (this.dataDepth === 0 && !this.dataDone && c === 91) {
      if (depth === 0 || (depth === 1 && this.top() === 123 && DATA_KEYS.has(this.lastKey))) {
        this.stack.push(c);
        this.dataDepth = this.stack.length;
        this.needComma = false;
        return;
      }
    }
    if (this.inData()) {
      if (c !== 91 || depth !== this.dataDepth || this.flat) throw lineError(this.line, `expected a number or a row [x, y, ...]`);
      this.col = 0;
    }
    this.stack.push(c);
    this.needComma = false;
    this.expectKey = c === 123;
  }

  private close(c: number): void {
    const t = this.stack.pop();
    if (t === undefined || (t === 91) !== (c === 93)) throw lineError(this.line, `unbalanced '${String.fromCharCode(c)}'`);
    const depth = this.stack.length + 1; // depth of the closed container
    if (this.dataDepth > 0) {
      if (depth === this.dataDepth + 1) this.endRow();
      else if (depth === this.dataDepth) {
        if (this.flat && this.col !== 0)
          throw lineError(this.line, `${this.col} values left over: the flat array does not split into points of dim ${this.expect}`);
        this.dataDepth = 0;
        this.dataDone = true;
      }
    }
    this.needComma = true;
    this.expectKey = false;
  }

  private endToken(): void {
    const b = Uint8Array.from(this.token);
    this.token.length = 0;
    this.beforeValue();
    this.needComma = true;
    if (!this.inData()) {
      this.sawAny = true;
      return; // a number or literal outside the points is skipped
    }
    const v = parseNumber(b, 0, b.length);
    if (v - v !== 0) {
      const tok = showToken(b, 0, b.length);
      if (v === Infinity || v === -Infinity || isNonFiniteWord(b, 0, b.length)) throw lineError(this.line, `not a finite number: '${tok}'`);
      throw lineError(this.line, `not a number: '${tok}'`);
    }
    if (this.stack.length === this.dataDepth) {
      // flat array of numbers
      if (this.sink.n === 0 && this.col === 0 && !this.flat) {
        this.flat = true;
        this.expect = this.opts.declaredDim > 0 ? this.opts.declaredDim : 1;
        if (this.expect > this.opts.maxDim) throw dimTooLarge("", this.opts.maxDim);
        this.sink.setDim(this.expect);
        this.row = new Float64Array(this.expect);
      }
      if (!this.flat) throw lineError(this.line, `expected a row [x, y, ...], got a number`);
      this.row[this.col++] = v;
      if (this.col === this.expect) {
        this.sink.row(this.row);
        this.col = 0;
      }
      return;
    }
    if (this.col >= this.row.length) {
      if (this.col >= this.opts.maxDim) throw dimTooLarge(`line ${this.line}: `, this.opts.maxDim);
      const next = new Float64Array(Math.min(this.opts.maxDim, this.row.length * 2));
      next.set(this.row);
      this.row = next;
    }
    this.row[this.col++] = v;
  }

  private endRow(): void {
    if (this.expect === 0) {
      if (this.col === 0) throw lineError(this.line, `empty point []`);
      const declared = this.opts.declaredDim;
      if (declared > 0 && this.col !== declared) throw lineError(this.line, `expected ${declared} values (declared dim), got ${this.col}`);
      this.expect = this.col;
      this.sink.setDim(this.col);
    } else if (this.col !== this.expect) {
      throw lineError(this.line, `expected ${this.expect} values, got ${this.col}`);
    }
    this.sink.row(this.row);
    this.col = 0;
  }

  finish(): void {
    if (this.token.length > 0) this.endToken();
    if (this.inString) throw lineError(this.line, `input ends inside a string`);
    if (this.stack.length > 0) throw lineError(this.line, `input ends inside the JSON ${this.stack.length} level(s) deep`);
    if (!this.sawAny) throw parseError("empty input");
    if (!this.dataDone) throw parseError(`JSON holds no points: expected [[x, y, ...], ...] or an object with a "points" array`);
  }
}
