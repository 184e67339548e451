import { pbUpload } from "@tda/common";
import type { Parser } from "./parser";
import { CanonicalSink, type CanonicalKind, type SinkLimits } from "./sink";
import { FullMatrixParser, LowerMatrixParser, OffParser, PointTextParser, UpperMatrixParser, type TextOptions } from "./text-parsers";
import { ELEMENT_TYPES, NpyParser, RawParser } from "./binary-parsers";
import { PlyParser } from "./ply-parser";
import { JsonParser } from "./json-parser";
import { headerError, parseError } from "./errors";

const F = pbUpload.DataFormat;
type DataFormat = pbUpload.DataFormat;

export interface ParseOptions extends SinkLimits {
  maxTokenBytes: number;
  declaredDim: number;
}

export function kindOf(format: DataFormat): CanonicalKind {
  return format === F.DATA_FORMAT_DISTANCE_MATRIX || format === F.DATA_FORMAT_LOWER_DISTANCE_MATRIX || format === F.DATA_FORMAT_UPPER_DISTANCE_MATRIX
    ? "distances"
    : "points";
}

export function formatName(format: DataFormat): string {
  return pbUpload.dataFormatToJSON(format).replace(/^DATA_FORMAT_/, "");
}

/** Bytes the AUTO sniffer wants before deciding (less if the input is shorter). */
export const SNIFF_BYTES = 4096;

/** Guesses the format from the first bytes of the input. */
export function sniffFormat(head: Uint8Array): DataFormat {
  if (head.length >= 6 && head[0] === 0x93 && String.fromCharCode(...head.subarray(1, 6)) === "NUMPY") return F.DATA_FORMAT_NPY;
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  // skip blanks and '#' comment lines
  for (;;) {
    while (i < head.length && (head[i] === 32 || head[i] === 9 || head[i] === 10 || head[i] === 13)) i++;
    if (i < head.length && head[i] === 35) {
      while (i < head.length && head[i] !== 10) i++;
      continue;
    }
    break;
  }
  let word = "";
  for (let j = i; j < head.length && j < i + 16 && head[j]! > 32; j++) word += String.fromCharCode(head[j]!);
  if (head.subarray(0, Math.min(head.length, 512)).includes(0)) {
    throw headerError("format", "input looks binary: set header.format to RAW_FLOAT64 or RAW_FLOAT32 (with header.dim), NPY or PLY");
  }
  if (i === 0 && word === "ply") return F.DATA_FORMAT_PLY;
  if (/^(ST)?C?N?4?n?OFF$/.test(word)) return F.DATA_FORMAT_OFF;
  if (word.startsWith("[") || word.startsWith("{")) return F.DATA_FORMAT_JSON;
  return F.DATA_FORMAT_CSV;
}

/** A parser for a concrete (not AUTO) format writing into `sink`. */
export function createParser(format: DataFormat, sink: CanonicalSink, opts: ParseOptions): Parser {
  const t: TextOptions = { maxTokenBytes: opts.maxTokenBytes, maxDim: opts.maxDim, maxPoints: opts.maxPoints, declaredDim: opts.declaredDim };
  switch (format) {
    case F.DATA_FORMAT_CSV:
    case F.DATA_FORMAT_TSV:
    case F.DATA_FORMAT_WHITESPACE:
      return new PointTextParser(sink, t);
    case F.DATA_FORMAT_RAW_FLOAT64:
      return new RawParser(sink, opts.declaredDim, ELEMENT_TYPES["<f8"]!);
    case F.DATA_FORMAT_RAW_FLOAT32:
      return new RawParser(sink, opts.declaredDim, ELEMENT_TYPES["<f4"]!);
    case F.DATA_FORMAT_NPY:
      return new NpyParser(sink, opts.declaredDim, opts);
    case F.DATA_FORMAT_OFF:
      return new OffParser(sink, t);
    case F.DATA_FORMAT_PLY:
      return new PlyParser(sink, t);
    case F.DATA_FORMAT_JSON:
      return new JsonParser(sink, t);
    case F.DATA_FORMAT_DISTANCE_MATRIX:
      return new FullMatrixParser(sink, t);
    case F.DATA_FORMAT_LOWER_DISTANCE_MATRIX:
      return new LowerMatrixParser(sink, t);
    case F.DATA_FORMAT_UPPER_DISTANCE_MATRIX:
      return new UpperMatrixParser(sink, t);
    default:
      throw headerError("format", `unsupported format ${formatName(format)}`);
  }
}

/**
 * The whole parse pipeline for one upload: resolves AUTO on the first bytes,
 * feeds the parser and hands the canonical buffers to the caller.
 */
export class UploadParser {
  readonly sink: CanonicalSink;
  /** The concrete format (AUTO resolved once enough bytes were seen). */
  format: DataFormat;
  private parser: Parser | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    format: DataFormat,
    private readonly opts: ParseOptions,
  ) {
    if (format === F.DATA_FORMAT_UNSPECIFIED) format = F.DATA_FORMAT_AUTO;
    if (!(format in F) || format === F.UNRECOGNIZED) throw headerError("format", `unknown format ${String(format)}`);
    this.format = format;
    this.sink = new CanonicalSink(kindOf(format), opts);
    if (format !== F.DATA_FORMAT_AUTO) this.parser = createParser(format, this.sink, opts);
  }

  push(chunk: Uint8Array): void {
    if (this.parser) {
      this.parser.push(chunk);
      return;
    }
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= SNIFF_BYTES) this.resolve();
  }

  private resolve(): void {
    const all = Buffer.concat(this.pending);
    this.pending = [];
    this.format = sniffFormat(all.subarray(0, SNIFF_BYTES));
    this.parser = createParser(this.format, this.sink, this.opts);
    this.parser.push(all);
  }

  finish(): void {
    if (!this.parser) {
      if (this.pendingBytes === 0) throw parseError("empty input: no data received");
      this.resolve();
    }
    this.parser!.finish();
    if (this.sink.values === 0 && this.sink.n === 0) throw parseError("empty input: no data values found");
  }
}
