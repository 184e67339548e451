import { Metadata, status as Status, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { decodeDetails, fromServiceError, inSpan, isServiceError, metadataWithTrace, SpanKind, TdaError, setTenant } from "@tda/common";

// Everything a handler needs to call an upstream on behalf of one incoming call.

/** What the gateway uses of any incoming call (grpc-js does not export its ServerSurfaceCall). */
export interface ServerSurfaceCall {
  readonly cancelled: boolean;
  readonly metadata: Metadata;
  sendMetadata(md: Metadata): void;
  getDeadline(): Date | number;
  once(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

export interface RequestContext {
  /** Method of the incoming call, e.g. "GetJob". */
  method: string;
  /** The authenticated tenant. */
  tenant: string;
  /** Context holding the gateway's server span. */
  ctx: Context;
  traceId: string;
  call: ServerSurfaceCall;
}

export type UpstreamName = "upload" | "scheduler";

/** Metadata for a downstream call: tenant set by the gateway (never the client's), trace context, request id. */
export function downstreamMetadata(rc: RequestContext, ctx: Context = rc.ctx): Metadata {
  const md = new Metadata();
  setTenant(md, rc.tenant); // a signed tenant token when the mesh has a key
  const requestId = rc.call.metadata.get("x-request-id")[0];
  if (typeof requestId === "string" && requestId.length > 0 && requestId.length <= 128) md.set("x-request-id", requestId);
  return metadataWithTrace(md, ctx);
}

/** The incoming call's own deadline, if the client set one. */
export function clientDeadline(call: ServerSurfaceCall): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The deadline of a downstream unary call: the gateway's timeout, or the client's own when sooner. */
export function unaryDeadline(call: ServerSurfaceCall, timeoutMs: number, now = Date.now()): Date {
  const mine = now + timeoutMs;
  const theirs = clientDeadline(call);
  return new Date(theirs === undefined ? mine : Math.min(mine, theirs));
}

const DETAILS_KEY = "grpc-status-details-bin";

/**
 * The error to send the client for an upstream failure. Errors produced by a
 * tda-mesh service (they carry google.rpc details) pass through unchanged;
 * errors raised by the gRPC transport itself (connection refused, our own
 * deadline) get a plain message, so no internal address or stack leaks.
 */
export function upstreamError(upstream: UpstreamName, err: unknown): TdaError {
  if (!isServiceError(err)) return new TdaError(Status.INTERNAL, "internal error", { cause: err });
  if (err.metadata?.get(DETAILS_KEY).length > 0) return passThrough(err);
  switch (err.code) {
    case Status.UNAVAILABLE:
      return new TdaError(Status.UNAVAILABLE, `the ${upstream} service is unavailable, try again shortly`, {
        reason: "UPSTREAM_UNAVAILABLE",
        metadata: { upstream },
        retryable: true,
        cause: err,
      });
    case Status.DEADLINE_EXCEEDED:
      return new TdaError(Status.DEADLINE_EXCEEDED, `the ${upstream} service did not answer in time`, {
        reason: "UPSTREAM_TIMEOUT",
        metadata: { upstream },
        retryable: true,
        cause: err,
      });
    case Status.CANCELLED:
      return new TdaError(Status.CANCELLED, "the call was cancelled", { cause: err });
    case Status.INTERNAL:
    case Status.UNKNOWN:
    case Status.DATA_LOSS:
      return new TdaError(err.code, "internal error", { cause: err });
    default:
      return fromServiceError(err);
  }
}

/**
 * True for a failure of the connection under a call (reset stream, lost
 * connection) rather than an answer of the upstream service: no google.rpc
 * details, and UNAVAILABLE or a transport-level INTERNAL.
 */
export function isTransportFailure(err: unknown): boolean {
  if (!isServiceError(err) || err.metadata?.get(DETAILS_KEY).length > 0) return false;
  if (err.code === Status.UNAVAILABLE) return true;
  return err.code === Status.INTERNAL && /RST_STREAM|Session closed|ECONNRESET/.test(err.details ?? "");
}

function passThrough(err: ServiceError): TdaError {
  const e = fromServiceError(err);
  const retryDelay = decodeDetails(err).retryInfo?.retryDelay;
  if (retryDelay === undefined) return e;
  return new TdaError(e.code, e.message, {
    reason: e.reason,
    metadata: e.metadata,
    violations: e.violations,
    retryable: e.retryable,
    retryAfterMs: retryDelay.seconds * 1000 + Math.floor(retryDelay.nanos / 1e6),
    cause: err,
  });
}

type UnaryStarter<Res> = (md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => ClientUnaryCall;

/**
 * One downstream unary call inside a client span: tenant + trace metadata, a
 * deadline, cancelled when the incoming call is, and errors mapped by upstreamError.
 */
export function callUnary<Res>(rc: RequestContext, upstream: UpstreamName, rpc: string, timeoutMs: number, start: UnaryStarter<Res>): Promise<Res> {
  return inSpan(
    rpc,
    rc.ctx,
    SpanKind.CLIENT,
    (_span, ctx) =>
      new Promise<Res>((resolve, reject) => {
        const onCancel = (): void => pending.cancel();
        const pending = start(downstreamMetadata(rc, ctx), { deadline: unaryDeadline(rc.call, timeoutMs) }, (err, res) => {
          rc.call.removeListener("cancelled", onCancel);
          if (err) reject(upstreamError(upstream, err));
          else resolve(res);
        });
        rc.call.once("cancelled", onCancel);
      }),
    { "rpc.system": "grpc", "rpc.method": rpc, "peer.service": upstream },
  );
}
