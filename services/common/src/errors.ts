import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { Any } from "./gen/google/protobuf/any";
import { Status as RpcStatus } from "./gen/google/rpc/status";
import { BadRequest, ErrorInfo, RetryInfo } from "./gen/google/rpc/error_details";

// One small error hierarchy for every service. The message is what the
// client sees; `cause` is logged, never sent.

export interface FieldViolation {
  field: string;
  description: string;
}

export interface TdaErrorOptions {
  reason?: string;
  metadata?: Record<string, string>;
  violations?: FieldViolation[];
  retryable?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
}

export class TdaError extends Error {
  override name = "TdaError";
  readonly code: GrpcStatus;
  readonly reason: string | undefined;
  readonly metadata: Record<string, string>;
  readonly violations: FieldViolation[];
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: GrpcStatus, message: string, opts: TdaErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.reason = opts.reason;
    this.metadata = opts.metadata ?? {};
    this.violations = opts.violations ?? [];
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export const invalidArgument = (message: string, violations: FieldViolation[] = []): TdaError =>
  new TdaError(GrpcStatus.INVALID_ARGUMENT, message, { violations, reason: "INVALID_ARGUMENT" });
export const notFound = (what: string): TdaError => new TdaError(GrpcStatus.NOT_FOUND, `${what} not found`, { reason: "NOT_FOUND" });
export const resourceExhausted = (message: string, reason: string, metadata: Record<string, string> = {}): TdaError =>
  new TdaError(GrpcStatus.RESOURCE_EXHAUSTED, message, { reason, metadata });
export const unavailable = (message: string, cause?: unknown): TdaError =>
  new TdaError(GrpcStatus.UNAVAILABLE, message, { retryable: true, cause, reason: "UNAVAILABLE" });
export const failedPrecondition = (message: string, reason = "FAILED_PRECONDITION"): TdaError =>
  new TdaError(GrpcStatus.FAILED_PRECONDITION, message, { reason });
export const unauthenticated = (message = "authentication required"): TdaError =>
  new TdaError(GrpcStatus.UNAUTHENTICATED, message, { reason: "UNAUTHENTICATED" });

const DOMAIN = "tda-mesh";
const DETAILS_KEY = "grpc-status-details-bin";

function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}

/** Builds the gRPC error (status, message, google.rpc details) for any thrown value. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e =
    err instanceof TdaError
      ? err
      : isServiceError(err)
        ? new TdaError(err.code, err.details || "upstream error", { retryable: err.code === GrpcStatus.UNAVAILABLE })
        : new TdaError(GrpcStatus.INTERNAL, "internal error");
  const details: Any[] = [];
  if (e.violations.length > 0) {
    details.push(
      packAny(
        "google.rpc.BadRequest",
        BadRequest.encode({ fieldViolations: e.violations.map((v) => ({ ...v, reason: "", localizedMessage: undefined })) }).finish(),
      ),
    );
  }
  if (e.reason) {
    details.push(packAny("google.rpc.ErrorInfo", ErrorInfo.encode({ reason: e.reason, domain: DOMAIN, metadata: e.metadata }).finish()));
  }
  if (e.retryAfterMs !== undefined) {
    const s = Math.floor(e.retryAfterMs / 1000);
    details.push(packAny("google.rpc.RetryInfo", RetryInfo.encode({ retryDelay: { seconds: s, nanos: (e.retryAfterMs % 1000) * 1e6 } }).finish()));
  }
  const md = new Metadata();
  if (details.length > 0) {
    md.set(DETAILS_KEY, Buffer.from(RpcStatus.encode({ code: e.code, message: e.message, details }).finish()));
  }
  return { code: e.code, details: e.message, metadata: md };
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && "code" in err && typeof (err as { code: unknown }).code === "number" && "metadata" in err;
}

export interface DecodedDetails {
  badRequest?: BadRequest;
  errorInfo?: ErrorInfo;
  retryInfo?: RetryInfo;
}

/** Reads the google.rpc details of a gRPC error (as sent by any tda-mesh process). */
export function decodeDetails(err: ServiceError): DecodedDetails {
  const out: DecodedDetails = {};
  const bin = err.metadata?.get(DETAILS_KEY)[0];
  if (!bin) return out;
  const st = RpcStatus.decode(typeof bin === "string" ? Buffer.from(bin, "base64") : bin);
  for (const d of st.details) {
    if (d.typeUrl.endsWith("google.rpc.BadRequest")) out.badRequest = BadRequest.decode(d.value);
    else if (d.typeUrl.endsWith("google.rpc.ErrorInfo")) out.errorInfo = ErrorInfo.decode(d.value);
    else if (d.typeUrl.endsWith("google.rpc.RetryInfo")) out.retryInfo = RetryInfo.decode(d.value);
  }
  return out;
}

/** Rebuilds a TdaError from an upstream gRPC error so it can be passed on unchanged. */
export function fromServiceError(err: ServiceError): TdaError {
  const d = decodeDetails(err);
  return new TdaError(err.code, err.details, {
    reason: d.errorInfo?.reason,
    metadata: d.errorInfo?.metadata,
    violations: d.badRequest?.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
    retryable: err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED || d.retryInfo !== undefined,
    retryAfterMs: d.retryInfo?.retryDelay ? Number(d.retryInfo.retryDelay.seconds) * 1000 + Math.floor((d.retryInfo.retryDelay.nanos ?? 0) / 1e6) : undefined,
    cause: err,
  });
}
