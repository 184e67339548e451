import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { metadataWithTrace, pbCommon, pbEngine, pbUpload } from "@tda/common";
import { failure, fromEngineError, fromUploadError, type JobFailure } from "./failure";
import type { PointStream } from "./points-cache";

// One computation on one engine: Estimate (unless the job is small enough for
// the engine's own admission at Compute to be all it needs), then the bidi
// Compute stream with the dataset's values piped in (from the upload service's
// ReadPoints, or the points cache) with back-pressure. Every failure comes out
// as a JobFailure.

export class JobFailureError extends Error {
  override name = "JobFailureError";
  constructor(readonly failure: JobFailure) {
    super(failure.message);
  }
}

export interface ComputeInput {
  client: pbEngine.EngineServiceClient;
  spec: pbEngine.ComputeSpec;
  /** Opens the stream of the dataset's float64 chunks. */
  openPoints: () => PointStream;
  /** Absolute deadline (ms since epoch) of the computation. */
  deadline: number;
  rpcTimeoutMs: number;
  signal: AbortSignal;
  ctx: Context;
  onProgress: (p: pbCommon.Progress) => void;
}

export function specFor(dataset: pbUpload.Dataset, params: pbCommon.ComputeParams, jobId: string): pbEngine.ComputeSpec {
  const cloud = dataset.kind !== pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX;
  return {
    params,
    inputKind: cloud ? pbCommon.InputKind.INPUT_KIND_POINT_CLOUD : pbCommon.InputKind.INPUT_KIND_LOWER_DISTANCE_MATRIX,
    encoding: pbCommon.ValueEncoding.VALUE_ENCODING_FLOAT64,
    n: dataset.n,
    dim: cloud ? dataset.dim : 0,
    jobId,
    estimateOnly: false,
  };
}

/**
 * Whether a job needs the engine's Estimate before dispatch. Never for Rips:
 * its estimate follows the data, and Compute admits with it once the points
 * have arrived, before the computation allocates (MEMORY_LIMIT_EXCEEDED, not
 * retried). Alpha: when its input is over 1 MiB (the engine checks the same
 * estimate when Compute starts; the call saved is one engine round trip per
 * job, which is what small jobs are made of).
 */
export function needsEstimate(spec: pbEngine.ComputeSpec): boolean {
  // Rips: Compute measures the complex once the points are there and admits
  // with that figure (an estimate from the sizes alone would only be a guess)
  if (spec.params?.algorithm !== pbCommon.Algorithm.ALGORITHM_ALPHA) return false;
  const values = spec.inputKind === pbCommon.InputKind.INPUT_KIND_POINT_CLOUD ? spec.n * spec.dim : (spec.n * (spec.n - 1)) / 2;
  return values * 8 > 1 << 20;
}

export function estimate(input: Pick<ComputeInput, "client" | "spec" | "rpcTimeoutMs" | "ctx" | "signal">): Promise<pbEngine.EstimateResponse> {
  return new Promise((resolve, reject) => {
    const call = input.client.estimate(
      { spec: input.spec },
      metadataWithTrace(new Metadata(), input.ctx),
      { deadline: Date.now() + input.rpcTimeoutMs },
      (err: ServiceError | null, res) => {
        input.signal.removeEventListener("abort", onAbort);
        if (err) {
          // a slow Estimate means a sick engine, not a job over its deadline
          const f = fromEngineError(err);
          reject(
            new JobFailureError(
              f.errorCode === "DEADLINE_EXCEEDED" ? failure("ENGINE_UNAVAILABLE", "the engine did not answer the estimate", true, "system", err) : f,
            ),
          );
        } else resolve(res);
      },
    );
    const onAbort = () => call.cancel();
    input.signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Streams the dataset into the engine and resolves with its result. */
export function compute(input: ComputeInput): Promise<pbCommon.PersistenceResult> {
  return streamToEngine(input, (res) => (res.msg?.$case === "result" ? res.msg.value : undefined));
}

/**
 * The engine's estimate for the dataset itself (Compute with estimate_only):
 * the Rips estimate follows the data (edges and simplices measured below the
 * threshold), the figure Compute admits the job with.
 */
export function estimateWithData(input: Omit<ComputeInput, "onProgress">): Promise<pbEngine.EstimateResponse> {
  return streamToEngine({ ...input, spec: { ...input.spec, estimateOnly: true }, onProgress: () => undefined }, (res) =>
    res.msg?.$case === "estimate" ? res.msg.value : undefined,
  );
}

/** The Compute stream: spec, the dataset's chunks with back-pressure, then the final message `take` picks. */
async function streamToEngine<T>(input: ComputeInput, take: (res: pbEngine.ComputeResponse) => T | undefined): Promise<T> {
  const call = input.client.compute(metadataWithTrace(new Metadata(), input.ctx), { deadline: input.deadline });
  let points: PointStream | undefined;
  let uploadError: unknown;
  let settled = false;
  /** The engine answered (its first progress follows the spec it accepted): from then on a broken call is an engine that died mid-job. */
  let answered = false;

  const done = new Promise<T>((resolve, reject) => {
    let result: T | undefined;
    call.on("data", (res: pbEngine.ComputeResponse) => {
      answered = true;
      if (res.msg?.$case === "progress") input.onProgress(res.msg.value);
      else result = take(res) ?? result;
    });
    call.on("error", (err: Error) => reject(err));
    call.on("end", () =>
      result !== undefined
        ? resolve(result)
        : reject(new JobFailureError(failure("ENGINE_INTERNAL", "the engine ended the computation without a result", true, "system"))),
    );
  });
  const stopped = done.then(
    () => undefined,
    () => undefined,
  );
  void stopped.then(() => (settled = true));

  const onAbort = () => {
    call.cancel();
    points?.cancel();
  };
  input.signal.addEventListener("abort", onAbort, { once: true });

  // waits for the write to be taken, or for the call to be over (no 'drain' then)
  const send = async (req: pbEngine.ComputeRequest): Promise<void> => {
    if (call.write(req)) return;
    await Promise.race([new Promise<void>((r) => call.once("drain", () => r())), stopped]);
  };

  const pump = (async () => {
    await send({ msg: { $case: "spec", value: input.spec } });
    points = input.openPoints();
    try {
      for await (const chunk of points.chunks) {
        if (settled || input.signal.aborted) return;
        await send({ msg: { $case: "chunk", value: chunk } });
      }
    } catch (err) {
      if (settled || input.signal.aborted) return;
      uploadError = err;
      call.cancel();
      return;
    }
    if (!settled) call.end();
  })();

  try {
    const result = await done;
    return result;
  } catch (err) {
    if (!input.signal.aborted && Date.now() >= input.deadline) {
      throw new JobFailureError(failure("DEADLINE_EXCEEDED", "the computation did not finish within the job deadline", false, "timeout", err));
    }
    if (uploadError !== undefined) throw new JobFailureError(fromUploadError(uploadError));
    if (err instanceof JobFailureError) throw err;
    const f = fromEngineError(err);
    if (answered && f.errorCode === "ENGINE_UNAVAILABLE") f.engineDied = true;
    throw new JobFailureError(f);
  } finally {
    input.signal.removeEventListener("abort", onAbort);
    points?.cancel();
    await pump.catch(() => undefined);
  }
}
