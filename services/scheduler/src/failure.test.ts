import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { resourceExhausted, toServiceError, TdaError } from "@tda/common";
import { engineCrashed, fromEngineError, fromUploadError, MAX_ENGINE_CRASHES } from "./failure";

// Errors as an engine sends them: built with the same google.rpc detail packing.
function wire(err: TdaError): ServiceError {
  const s = toServiceError(err);
  return Object.assign(new Error(s.details), { code: s.code!, details: s.details!, metadata: s.metadata ?? new Metadata() }) as ServiceError;
}
function plain(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() }) as ServiceError;
}

describe("fromEngineError", () => {
  it("takes the ErrorInfo reason of RESOURCE_EXHAUSTED", () => {
    const mem = fromEngineError(wire(resourceExhausted("needs 9 GiB", "MEMORY_LIMIT_EXCEEDED")));
    expect(mem).toMatchObject({ errorCode: "MEMORY_LIMIT_EXCEEDED", retryable: false, category: "resource" });
    expect(mem.suggestions).toContain("lower max_dim");
    expect(fromEngineError(wire(resourceExhausted("busy", "ENGINE_BUSY")))).toMatchObject({ errorCode: "ENGINE_BUSY", retryable: true });
  });

  it("maps codes to job error codes and the retry policy", () => {
    expect(fromEngineError(plain(status.INVALID_ARGUMENT, "spec.n must be > 0"))).toMatchObject({
      errorCode: "INVALID_INPUT",
      retryable: false,
      message: "spec.n must be > 0",
    });
    expect(fromEngineError(plain(status.UNAVAILABLE, "No connection established"))).toMatchObject({ errorCode: "ENGINE_UNAVAILABLE", retryable: true });
    expect(fromEngineError(plain(status.DEADLINE_EXCEEDED, "Deadline exceeded"))).toMatchObject({
      errorCode: "DEADLINE_EXCEEDED",
      retryable: false,
      category: "timeout",
    });
    expect(fromEngineError(plain(status.INTERNAL, "Received RST_STREAM with code 2"))).toMatchObject({ errorCode: "ENGINE_UNAVAILABLE", retryable: true });
    const internal = fromEngineError(plain(status.INTERNAL, "std::bad_cast at reducer.cpp:12"));
    expect(internal).toMatchObject({ errorCode: "ENGINE_INTERNAL", retryable: false });
    expect(internal.message).not.toContain("reducer.cpp");
  });

  it("maps upload errors", () => {
    expect(fromUploadError(plain(status.NOT_FOUND, "dataset not found"))).toMatchObject({ errorCode: "DATASET_NOT_FOUND", retryable: false });
    expect(fromUploadError(plain(status.UNAVAILABLE, "down"))).toMatchObject({ errorCode: "UPLOAD_UNAVAILABLE", retryable: true });
  });
});

describe("engineCrashed", () => {
  it("is final and names how many times and which engines died", () => {
    expect(MAX_ENGINE_CRASHES).toBe(2);
    const f = engineCrashed(["10.0.0.7:50061", "10.0.0.8:50061"]);
    expect(f).toMatchObject({ errorCode: "ENGINE_CRASHED", retryable: false, category: "computation" });
    expect(f.message).toMatch(/died 2 times \(10\.0\.0\.7:50061, 10\.0\.0\.8:50061\)/);
    expect(f.suggestions).toContain("lower max_dim");
  });
});
