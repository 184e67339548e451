import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { toServiceError, TdaError, invalidArgument, decodeDetails } from "@tda/common";
import { unaryDeadline, upstreamError, type ServerSurfaceCall } from "./upstream";

/** A gRPC error as the client side of grpc-js reports it (from the wire, metadata = trailers). */
function asReceived(err: TdaError): ServiceError {
  const s = toServiceError(err);
  return Object.assign(new Error(`${s.code} ${s.details}`), { code: s.code!, details: s.details!, metadata: s.metadata! });
}

function transport(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

describe("upstreamError", () => {
  it("passes a tda-mesh error through with its code, message and field violations", () => {
    const up = asReceived(invalidArgument("bad header", [{ field: "header.dim", description: "must be > 0" }]));
    const e = upstreamError("upload", up);
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.message).toBe("bad header");
    expect(e.violations).toEqual([{ field: "header.dim", description: "must be > 0" }]);
    // and what the gateway sends on decodes to the same details
    const again = decodeDetails(asReceived(e));
    expect(again.badRequest?.fieldViolations.map((v) => v.field)).toEqual(["header.dim"]);
    expect(again.errorInfo?.reason).toBe("INVALID_ARGUMENT");
  });

  it("keeps the reason, metadata and retry delay of a RESOURCE_EXHAUSTED", () => {
    const up = asReceived(
      new TdaError(status.RESOURCE_EXHAUSTED, "too big", { reason: "MEMORY_LIMIT_EXCEEDED", metadata: { estimate: "9G" }, retryAfterMs: 1500 }),
    );
    const e = upstreamError("scheduler", up);
    expect([e.code, e.reason, e.metadata, e.retryAfterMs]).toEqual([status.RESOURCE_EXHAUSTED, "MEMORY_LIMIT_EXCEEDED", { estimate: "9G" }, 1500]);
  });

  it("hides transport details of an unreachable upstream", () => {
    const e = upstreamError("upload", transport(status.UNAVAILABLE, "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50071"));
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    expect(e.reason).toBe("UPSTREAM_UNAVAILABLE");
    expect(e.retryable).toBe(true);
  });

  it("maps a deadline, and hides INTERNAL/UNKNOWN messages", () => {
    expect(upstreamError("scheduler", transport(status.DEADLINE_EXCEEDED, "Deadline exceeded after 30.001s")).reason).toBe("UPSTREAM_TIMEOUT");
    expect(upstreamError("scheduler", transport(status.INTERNAL, "stack at foo.ts:12")).message).toBe("internal error");
    expect(upstreamError("scheduler", transport(status.UNKNOWN, "TypeError: x")).message).toBe("internal error");
  });

  it("turns a non-gRPC failure into INTERNAL", () => {
    expect(upstreamError("upload", new Error("boom")).code).toBe(status.INTERNAL);
  });
});

describe("unaryDeadline", () => {
  const call = (deadline: Date | number): ServerSurfaceCall => ({
    cancelled: false,
    metadata: new Metadata(),
    sendMetadata: () => undefined,
    getDeadline: () => deadline,
    once: () => undefined,
    removeListener: () => undefined,
  });

  it("uses the gateway timeout when the client set no deadline", () => {
    expect(unaryDeadline(call(Infinity), 30_000, 1_000).getTime()).toBe(31_000);
  });
  it("uses the client's deadline when it is sooner", () => {
    expect(unaryDeadline(call(new Date(5_000)), 30_000, 1_000).getTime()).toBe(5_000);
    expect(unaryDeadline(call(90_000), 30_000, 1_000).getTime()).toBe(31_000);
  });
});
