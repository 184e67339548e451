import { status as GrpcStatus } from "@grpc/grpc-js";
import { invalidArgument, resourceExhausted, TdaError } from "@tda/common";

// Parse errors name the place (line, or record for binary input) in the
// message itself and repeat it as a google.rpc.BadRequest field violation.
// The place is also given as numbers in the google.rpc.ErrorInfo metadata
// (`line` and `column`, 1-based, for text; `record`, 0-based, for binary
// records), so that a client can point at it without reading the message.

export interface ParsePlace {
  /** 1-based line of text input. */
  line?: number;
  /** 1-based value on that line. */
  column?: number;
  /** 0-based record of binary input. */
  record?: number;
}

export function parseError(description: string, place: ParsePlace = {}): TdaError {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(place)) if (v !== undefined) metadata[k] = String(v);
  return new TdaError(GrpcStatus.INVALID_ARGUMENT, description, { violations: [{ field: "chunk", description }], reason: "INVALID_ARGUMENT", metadata });
}

/** A parse error at a line of text input: the message starts with "line N: ". */
export function lineError(line: number, description: string, column?: number): TdaError {
  return parseError(`line ${line}: ${description}`, { line, column });
}

export function headerError(field: string, description: string): TdaError {
  return invalidArgument(description, [{ field: `header.${field}`, description }]);
}

export const REASON_TOO_LARGE = "UPLOAD_TOO_LARGE";
export const REASON_TOO_MANY_POINTS = "UPLOAD_TOO_MANY_POINTS";
export const REASON_DIM_TOO_LARGE = "UPLOAD_DIM_TOO_LARGE";

export function tooManyPoints(limit: number): TdaError {
  return resourceExhausted(`upload has more than ${limit} points (UPLOAD_MAX_POINTS)`, REASON_TOO_MANY_POINTS, { limit: String(limit) });
}

/**
 * Too many values per point: a property of the data, not of the service's
 * load, so INVALID_ARGUMENT (REST 400), never RESOURCE_EXHAUSTED (429, which
 * clients read as "retry later").
 */
export function dimTooLarge(where: string, limit: number, field = "chunk"): TdaError {
  const description = `${where}more than ${limit} values per point (UPLOAD_MAX_DIM)`;
  return new TdaError(GrpcStatus.INVALID_ARGUMENT, description, {
    reason: REASON_DIM_TOO_LARGE,
    metadata: { limit: String(limit) },
    violations: [{ field, description }],
  });
}

export function tooLarge(limit: number): TdaError {
  return resourceExhausted(`upload is larger than ${limit} bytes (UPLOAD_MAX_BYTES)`, REASON_TOO_LARGE, { limit: String(limit) });
}

/** A token as it may be shown in an error message: short, printable. */
export function showToken(b: Uint8Array, s: number, e: number): string {
  const max = 40;
  let out = "";
  for (let i = s; i < e && i < s + max; i++) {
    const c = b[i]!;
    out += c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return e - s > max ? `${out}...` : out;
}

export function resourceExhaustedMatrix(limit: number): TdaError {
  return resourceExhausted(`upper distance matrix has more than ${limit} entries; upload it as a lower or full matrix`, REASON_TOO_LARGE, {
    limit: String(limit),
  });
}
