import { lineError, showToken } from "./errors";
import { isNonFiniteWord, parseNumber, scanEnd, scanNumber } from "./number";

// Splits text into tokens and lines at the byte level. Separators are blanks,
// tabs, carriage returns and commas (at most one comma between two values; a
// comma with nothing before it is an empty value). Lines starting with '#' are
// comments. Tokens may straddle chunks: only the partial token is carried.

const TOKEN = 0;
const BLANK = 1;
const NEWLINE = 2;
const COMMA = 3;

const CLS = new Uint8Array(256);
CLS[32] = BLANK;
CLS[9] = BLANK;
CLS[13] = BLANK;
CLS[11] = BLANK;
CLS[12] = BLANK;
CLS[10] = NEWLINE;
CLS[44] = COMMA;

export interface TextScannerOptions {
  maxTokenBytes: number;
  /** Whether commas separate values (CSV) or are an error. */
  commas?: boolean;
}

export abstract class TextScanner {
  /** 1-based line of the current position. */
  protected line = 1;
  /** Values seen on the current line. */
  protected col = 0;
  /** Whether the rest of the current line is ignored (comment, header). */
  protected skipLine = false;
  private pendingComma = false;
  private carry: Buffer | undefined;
  private started = false;
  private readonly maxTokenBytes: number;

  constructor(opts: TextScannerOptions) {
    this.maxTokenBytes = opts.maxTokenBytes;
  }

  /** A number on the current line. */
  protected abstract onValue(v: number): void;
  /** End of a line (called for every line, including blank ones). */
  protected abstract onEol(): void;
  /** A token that is not a number (or not a finite one). Default: error. */
  protected onWord(b: Uint8Array, s: number, e: number): void {
    throw this.badToken(b, s, e);
  }

  protected badToken(b: Uint8Array, s: number, e: number) {
    const tok = showToken(b, s, e);
    const v = parseNumber(b, s, e);
    if (v === Infinity || v === -Infinity || isNonFiniteWord(b, s, e))
      return lineError(this.line, `not a finite number: '${tok}' (column ${this.col + 1})`, this.col + 1);
    return lineError(this.line, `not a number: '${tok}' (column ${this.col + 1})`, this.col + 1);
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    if (!this.started && n > 0) {
      this.started = true;
      if (n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3; // UTF-8 BOM
    }
    if (this.carry !== undefined) {
      let j = i;
      while (j < n && CLS[chunk[j]!] === TOKEN) j++;
      const joined = Buffer.concat([this.carry, chunk.subarray(i, j)]);
      if (j === n) {
        this.keepCarry(joined);
        return;
      }
      this.carry = undefined;
      this.token(joined, 0, joined.length);
      i = j;
    }
    while (i < n) {
      const cls = CLS[chunk[i]!];
      if (cls === TOKEN) {
        if (!this.skipLine) {
          // fast path: a number followed by a separator, parsed in one pass
          const v = scanNumber(chunk, i, n);
          const j = scanEnd;
          if (j < n && v - v === 0 && CLS[chunk[j]!] !== TOKEN && j - i <= this.maxTokenBytes) {
            this.pendingComma = false;
            this.onValue(v);
            this.col++;
            i = j;
            continue;
          }
        }
        const s = i++;
        while (i < n && CLS[chunk[i]!] === TOKEN) i++;
        if (i === n) {
          this.keepCarry(Buffer.from(chunk.subarray(s, n)));
          return;
        }
        this.token(chunk, s, i);
      } else if (cls === NEWLINE) {
        this.eol();
        i++;
      } else if (cls === COMMA) {
        this.comma();
        i++;
      } else {
        i++;
      }
    }
  }

  finish(): void {
    if (this.carry !== undefined) {
      const c = this.carry;
      this.carry = undefined;
      this.token(c, 0, c.length);
    }
    this.eol();
  }

  private keepCarry(b: Buffer): void {
    if (this.skipLine) {
      // inside a comment or header: only the line end matters
      this.carry = b.length > 64 ? b.subarray(b.length - 1) : b;
      return;
    }
    if (b.length > this.maxTokenBytes) {
      throw lineError(this.line, `token longer than ${this.maxTokenBytes} bytes: '${showToken(b, 0, b.length)}'`);
    }
    this.carry = b;
  }

  private token(b: Uint8Array, s: number, e: number): void {
    if (this.skipLine) return;
    if (e - s > this.maxTokenBytes) {
      throw lineError(this.line, `token longer than ${this.maxTokenBytes} bytes: '${showToken(b, s, e)}'`);
    }
    if (this.col === 0 && !this.pendingComma && b[s] === 35) {
      this.skipLine = true; // '#' comment
      return;
    }
    this.pendingComma = false;
    let s2 = s;
    let e2 = e;
    if (e - s >= 2 && b[s] === 34 && b[e - 1] === 34) {
      s2++; // "quoted" value
      e2--;
    }
    const v = parseNumber(b, s2, e2);
    if (v - v === 0) {
      this.onValue(v);
      this.col++;
    } else {
      this.onWord(b, s, e);
    }
  }

  private comma(): void {
    if (this.skipLine) return;
    if (this.pendingComma || this.col === 0) {
      throw lineError(this.line, `empty value in column ${this.col + 1}`);
    }
    this.pendingComma = true;
  }

  private eol(): void {
    // a trailing comma is allowed (Ripser's lower-distance files end rows with one)
    this.onEol();
    this.pendingComma = false;
    this.skipLine = false;
    this.col = 0;
    this.line++;
  }
}
