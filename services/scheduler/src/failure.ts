import { status as GrpcStatus } from "@grpc/grpc-js";
import { decodeDetails, isServiceError, TdaError } from "@tda/common";

// What went wrong with a job, in the terms the job record, the tda_errors
// topic and the retry policy need. One mapping from engine / upload errors.

export type FailureCategory = "computation" | "validation" | "system" | "timeout" | "resource";

export interface JobFailure {
  /** Machine-readable, stored as Job.error_code (e.g. MEMORY_LIMIT_EXCEEDED). */
  errorCode: string;
  /** Safe to show to the job's owner. */
  message: string;
  /** Worth another attempt (possibly on another engine). */
  retryable: boolean;
  category: FailureCategory;
  suggestions: string[];
  cause?: unknown;
  /**
   * The call to the engine broke (ENGINE_UNAVAILABLE) after the engine had
   * taken the job (it had answered the spec): the engine died mid-job, which
   * the job itself may have caused (e.g. the engine was OOM-killed).
   */
  engineDied?: boolean;
}

const SUGGESTIONS: Record<string, string[]> = {
  MEMORY_LIMIT_EXCEEDED: ["lower max_dim", "set a threshold (Rips) or max_alpha (Alpha)", "subsample the point cloud"],
  OUT_OF_MEMORY: ["lower max_dim", "set a threshold (Rips) or max_alpha (Alpha)", "subsample the point cloud"],
  ENGINE_BUSY: ["retry later", "add engines to ENGINE_ADDRESSES"],
  ENGINE_UNAVAILABLE: ["retry later", "check that the engines are running"],
  NO_ENGINE_AVAILABLE: ["retry later", "check that the engines are running"],
  ENGINE_CRASHED: [
    "lower max_dim",
    "set a threshold (Rips) or max_alpha (Alpha)",
    "subsample the point cloud",
    "report the job_id to the operators (the engines' logs and memory limits)",
  ],
  DEADLINE_EXCEEDED: ["raise deadline_seconds", "lower max_dim or set a threshold"],
  INVALID_INPUT: ["check the dataset values (finite numbers, consistent dimension)", "check the params"],
  DATASET_NOT_FOUND: ["upload the dataset again", "check the dataset_id"],
  UPLOAD_UNAVAILABLE: ["retry later", "check that the upload service is running"],
  ALGORITHM_NOT_IMPLEMENTED: ["use ALGORITHM_RIPS", "update the engines"],
  ENGINE_INTERNAL: ["retry the job", "report the job_id to the operators"],
};

export function suggestionsFor(code: string): string[] {
  return SUGGESTIONS[code] ?? ["retry the job", "report the job_id to the operators"];
}

export function failure(errorCode: string, message: string, retryable: boolean, category: FailureCategory, cause?: unknown): JobFailure {
  return { errorCode, message, retryable, category, suggestions: suggestionsFor(errorCode), cause };
}

/** Maps an error of a call to an engine to a job failure. */
export function fromEngineError(err: unknown): JobFailure {
  if (err instanceof TdaError) return fromTdaError(err);
  if (!isServiceError(err)) return failure("ENGINE_INTERNAL", "the computation failed", true, "system", err);
  const reason = decodeDetails(err).errorInfo?.reason;
  const msg = err.details || "engine error";
  switch (err.code) {
    case GrpcStatus.RESOURCE_EXHAUSTED: {
      // TOO_MANY_CALLS: this scheduler holds its share of the engine's calls, which is busy for it
      const code = reason === "TOO_MANY_CALLS" ? "ENGINE_BUSY" : reason || "RESOURCE_EXHAUSTED";
      // ENGINE_BUSY is transient (another engine or a later attempt can take it);
      // memory limits are not: the same job would fail the same way.
      return failure(code, msg, code === "ENGINE_BUSY", "resource", err);
    }
    case GrpcStatus.INVALID_ARGUMENT:
      return failure("INVALID_INPUT", msg, false, "validation", err);
    case GrpcStatus.FAILED_PRECONDITION:
      return failure(reason || "FAILED_PRECONDITION", msg, false, "validation", err);
    case GrpcStatus.UNIMPLEMENTED:
      return failure(reason || "UNIMPLEMENTED", msg, false, "validation", err);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return failure("DEADLINE_EXCEEDED", "the computation did not finish within the job deadline", false, "timeout", err);
    case GrpcStatus.CANCELLED:
      return failure("CANCELLED", "the computation was cancelled", false, "computation", err);
    case GrpcStatus.UNAVAILABLE:
      return failure("ENGINE_UNAVAILABLE", "the engine is unavailable", true, "system", err);
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
      // grpc-js reports a connection torn down mid-stream as INTERNAL (RST_STREAM)
      return /rst_stream|connection|socket|closed/i.test(msg)
        ? failure("ENGINE_UNAVAILABLE", "the connection to the engine was lost", true, "system", err)
        : failure("ENGINE_INTERNAL", "the engine failed to compute the job", false, "computation", err);
    default:
      return failure("ENGINE_INTERNAL", "the engine failed to compute the job", false, "computation", err);
  }
}

/** Maps an error of a call to the upload service (ReadPoints). */
export function fromUploadError(err: unknown): JobFailure {
  if (err instanceof TdaError) return fromTdaError(err);
  if (!isServiceError(err)) return failure("UPLOAD_UNAVAILABLE", "reading the dataset failed", true, "system", err);
  switch (err.code) {
    case GrpcStatus.NOT_FOUND:
      return failure("DATASET_NOT_FOUND", "the dataset no longer exists", false, "validation", err);
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
      return failure("UPLOAD_UNAVAILABLE", "the upload service is unavailable", true, "system", err);
    default:
      return failure("UPLOAD_UNAVAILABLE", "reading the dataset failed", true, "system", err);
  }
}

function fromTdaError(err: TdaError): JobFailure {
  const code = err.reason ?? GrpcStatus[err.code] ?? "INTERNAL";
  const category: FailureCategory =
    err.code === GrpcStatus.RESOURCE_EXHAUSTED ? "resource" : err.code === GrpcStatus.INVALID_ARGUMENT ? "validation" : "system";
  return failure(code, err.message, err.retryable, category, err);
}

/** Engine deaths on one job after which it fails (ENGINE_CRASHED) instead of being retried. */
export const MAX_ENGINE_CRASHES = 2;

/** The final failure of a job whose engines died running it `crashed.length` times. */
export function engineCrashed(crashed: readonly string[], cause?: unknown): JobFailure {
  const times = crashed.length === 1 ? "once" : `${crashed.length} times`;
  return failure(
    "ENGINE_CRASHED",
    `the engine running this job died ${times} (${crashed.join(", ")}); not retried again: the job itself may be what kills the engine (e.g. out of memory)`,
    false,
    "computation",
    cause,
  );
}
