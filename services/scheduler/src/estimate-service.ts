import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import {
  contextFromMetadata,
  fromServiceError,
  inSpan,
  metadataWithTrace,
  SpanKind,
  invalidArgument,
  isServiceError,
  pbCommon,
  pbEngine,
  pbJobs,
  pbUpload,
  tenantOf,
  unary,
  unavailable,
  type Logger,
  type Redis,
} from "@tda/common";
import { estimateWithData, JobFailureError, specFor } from "./engine-call";
import { PointsCache } from "./points-cache";
import type { Engine, EnginePool } from "./engine-pool";
import type { UploadClient } from "./upload-client";
import { tighten, type EngineLimits } from "./engine-limits";
import { validateForDataset, validateParams, type ParamLimits } from "./params";

// EstimateJob and GetLimits: what a client may ask before it submits. The
// estimate is the engine's own for the caller's dataset and parameters (Rips:
// measured on the dataset itself, see estimateOnEngine); the limits are what the engines publish (GetInfo EngineLimits,
// engine-limits.ts) within this scheduler's own bounds.

export interface EstimateServiceDeps {
  redis: Redis;
  /** Absent in an API-only scheduler without engine addresses. */
  engines: EnginePool | undefined;
  /** This scheduler's own bounds; tightened by what the engines publish (`engineLimits`). */
  limits: ParamLimits;
  engineLimits: EngineLimits;
  /** The upload service, which owns datasets. */
  upload: Pick<UploadClient, "getDataset" | "readPoints">;
  maxDeadlineSeconds: number;
  rpcTimeoutMs: number;
  /** Deadline of a Rips estimate (the dataset is read and measured). */
  estimateTimeoutMs: number;
  log: Logger;
}

type Handlers = Pick<pbJobs.JobServiceServer, "estimateJob" | "getLimits">;

/** Engines in the order to ask them: healthy ones first. */
function candidates(engines: EnginePool | undefined): Engine[] {
  if (!engines || engines.engines().length === 0) throw unavailable("no engine is configured on this scheduler");
  return [...engines.engines()].sort((a, b) => Number(b.healthy) - Number(a.healthy) || a.outstanding - b.outstanding);
}

function call<Req, Res>(
  fn: (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown,
  req: Req,
  timeoutMs: number,
  ctx?: Context,
): Promise<Res> {
  // the caller's trace context goes along (the engine's span joins the request's trace)
  const md = ctx ? metadataWithTrace(new Metadata(), ctx) : new Metadata();
  return new Promise((resolve, reject) => {
    fn(req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Asks the engines in turn until one answers; an answer that is an error of the request is passed on. */
async function askEngines<T>(engines: Engine[], ask: (e: Engine) => Promise<T>, log: Logger): Promise<T> {
  let last: unknown;
  for (const e of engines.slice(0, 3)) {
    try {
      return await ask(e);
    } catch (err) {
      last = err;
      const transport = isServiceError(err) && (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED);
      if (!transport) throw isServiceError(err) ? fromServiceError(err) : err;
      log.warn({ engine: e.address, err: (err as Error).message }, "engine did not answer; asking the next");
    }
  }
  throw unavailable("no engine answered", last);
}

/**
 * One engine's estimate. Rips follows the data: the dataset's points go to the
 * engine (Compute with estimate_only), which measures the complex below the
 * threshold exactly as Compute's admission does, so the figure is the one the
 * job is admitted with. Alpha's is from the sizes (Estimate RPC).
 */
async function estimateOnEngine(
  deps: EstimateServiceDeps,
  e: Engine,
  owner: string,
  datasetId: string,
  dataset: pbUpload.Dataset,
  spec: pbEngine.ComputeSpec,
  ctx: Context,
): Promise<pbEngine.EstimateResponse> {
  if (spec.params?.algorithm === pbCommon.Algorithm.ALGORITHM_ALPHA) {
    return call<pbEngine.EstimateRequest, pbEngine.EstimateResponse>(e.client.estimate.bind(e.client), { spec }, deps.rpcTimeoutMs, ctx);
  }
  const deadline = Date.now() + deps.estimateTimeoutMs;
  const signal = new AbortController().signal;
  try {
    return await estimateWithData({
      client: e.client,
      spec,
      openPoints: () => noCache.open(dataset, () => deps.upload.readPoints(owner, datasetId, ctx, deadline)),
      deadline,
      rpcTimeoutMs: deps.rpcTimeoutMs,
      signal,
      ctx,
    });
  } catch (err) {
    if (!(err instanceof JobFailureError)) throw err;
    const f = err.failure;
    if (f.cause !== undefined && isServiceError(f.cause)) throw f.cause; // the engine's own status (transport errors: next engine)
    throw f.retryable ? unavailable(f.message, err) : invalidArgument(f.message, []);
  }
}

const noCache = new PointsCache(0);

export async function estimateJob(deps: EstimateServiceDeps, owner: string, req: pbJobs.EstimateJobRequest, ctx: Context): Promise<pbJobs.EstimateJobResponse> {
  const limits = await deps.engineLimits.effective(deps.limits);
  const violations = validateParams(req.params, limits);
  if (!req.datasetId) violations.unshift({ field: "dataset_id", description: "must not be empty" });
  if (violations.length > 0) throw invalidArgument("invalid estimate request", violations);
  const dataset = await deps.upload.getDataset(owner, req.datasetId, ctx, deps.rpcTimeoutMs);
  const dsViolations = validateForDataset(req.params!, dataset, limits);
  if (dsViolations.length > 0) throw invalidArgument("these parameters do not fit the dataset", dsViolations);
  const spec = specFor(dataset, req.params!, "");
  const res = await askEngines(candidates(deps.engines), (e) => estimateOnEngine(deps, e, owner, req.datasetId, dataset, spec, ctx), deps.log);
  return { memoryBytes: res.memoryBytes, seconds: res.seconds, memoryLimitBytes: res.memoryLimitBytes, admissible: res.admissible };
}

/** GetLimits: this scheduler's bounds tightened by the engines' published limits, and what the engines report about themselves. */
export async function getLimits(deps: EstimateServiceDeps): Promise<pbJobs.GetLimitsResponse> {
  const published = await deps.engineLimits.published();
  const limits = published ? tighten(deps.limits, published.limits) : deps.limits;
  return {
    maxDim: limits.maxDim,
    maxModulus: limits.maxModulus,
    maxThreads: limits.maxThreads,
    maxDeadlineSeconds: deps.maxDeadlineSeconds,
    engineMemoryLimitBytes: published?.memoryLimitBytes ?? 0,
    engineThreads: published?.threads ?? 0,
    algorithms: published?.algorithms ?? [],
  };
}

export function createEstimateHandlers(deps: EstimateServiceDeps): Handlers {
  return {
    estimateJob: unary(deps.log, "EstimateJob", (req: pbJobs.EstimateJobRequest, c) =>
      inSpan("tda.jobs.v1.JobService/EstimateJob", contextFromMetadata(c.metadata), SpanKind.SERVER, (_s, ctx) =>
        estimateJob(deps, tenantOf(c.metadata), req, ctx),
      ),
    ),
    getLimits: unary(deps.log, "GetLimits", () => getLimits(deps)),
  };
}
