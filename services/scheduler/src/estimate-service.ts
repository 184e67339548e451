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
  tenantOf,
  unary,
  unavailable,
  type Logger,
  type Redis,
} from "@tda/common";
import { specFor } from "./engine-call";
import type { Engine, EnginePool } from "./engine-pool";
import type { UploadClient } from "./upload-client";
import { validateForDataset, validateParams, type ParamLimits } from "./params";

// EstimateJob and GetLimits: what a client may ask before it submits. The
// estimate is the engine's own (Estimate RPC) for the caller's dataset and
// parameters; the limits are this scheduler's parameter limits and what the
// engines report about themselves (GetInfo).

export interface EstimateServiceDeps {
  redis: Redis;
  /** Absent in an API-only scheduler without engine addresses. */
  engines: EnginePool | undefined;
  limits: ParamLimits;
  /** The upload service, which owns datasets. */
  upload: Pick<UploadClient, "getDataset">;
  maxDeadlineSeconds: number;
  rpcTimeoutMs: number;
  log: Logger;
  /** How long one GetInfo answer is reused (default 10 s). */
  infoTtlMs?: number;
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

export async function estimateJob(deps: EstimateServiceDeps, owner: string, req: pbJobs.EstimateJobRequest, ctx: Context): Promise<pbJobs.EstimateJobResponse> {
  const violations = validateParams(req.params, deps.limits);
  if (!req.datasetId) violations.unshift({ field: "dataset_id", description: "must not be empty" });
  if (violations.length > 0) throw invalidArgument("invalid estimate request", violations);
  const dataset = await deps.upload.getDataset(owner, req.datasetId, ctx, deps.rpcTimeoutMs);
  const dsViolations = validateForDataset(req.params!, dataset);
  if (dsViolations.length > 0) throw invalidArgument("these parameters do not fit the dataset", dsViolations);
  const spec = specFor(dataset, req.params!, "");
  const res = await askEngines(
    candidates(deps.engines),
    (e) => call<pbEngine.EstimateRequest, pbEngine.EstimateResponse>(e.client.estimate.bind(e.client), { spec }, deps.rpcTimeoutMs, ctx),
    deps.log,
  );
  return { memoryBytes: res.memoryBytes, seconds: res.seconds, memoryLimitBytes: res.memoryLimitBytes, admissible: res.admissible };
}

/** GetLimits with the engines' GetInfo cached for `infoTtlMs`. */
export function createLimits(deps: EstimateServiceDeps): () => Promise<pbJobs.GetLimitsResponse> {
  let cached: { at: number; info: pbEngine.GetInfoResponse[] } | undefined;
  const ttl = deps.infoTtlMs ?? 10_000;
  async function infos(): Promise<pbEngine.GetInfoResponse[]> {
    if (cached && Date.now() - cached.at < ttl) return cached.info;
    const engines = deps.engines?.engines() ?? [];
    const got = await Promise.all(
      engines.map((e) =>
        call<pbEngine.GetInfoRequest, pbEngine.GetInfoResponse>(e.client.getInfo.bind(e.client), {}, Math.min(deps.rpcTimeoutMs, 2000)).catch(() => undefined),
      ),
    );
    const info = got.filter((x): x is pbEngine.GetInfoResponse => x !== undefined);
    if (info.length > 0) cached = { at: Date.now(), info };
    return info;
  }
  return async () => {
    const info = await infos();
    const limitsOf = info.map((i) => i.memoryLimitBytes).filter((b) => b > 0);
    const algorithms = new Set<pbCommon.Algorithm>(info.flatMap((i) => i.algorithms));
    // the engines publish the largest modulus their coefficients hold: the one source
    const engineModuli = info.map((i) => i.limits?.maxModulus ?? 0).filter((m) => m > 0);
    return {
      maxDim: deps.limits.maxDim,
      maxModulus: Math.min(deps.limits.maxModulus, ...engineModuli),
      maxThreads: deps.limits.maxThreads,
      maxDeadlineSeconds: deps.maxDeadlineSeconds,
      engineMemoryLimitBytes: limitsOf.length > 0 ? Math.min(...limitsOf) : 0,
      engineThreads: info[0]?.threads ?? 0,
      algorithms: [...algorithms].sort(),
    };
  };
}

export function createEstimateHandlers(deps: EstimateServiceDeps): Handlers {
  const limits = createLimits(deps);
  return {
    estimateJob: unary(deps.log, "EstimateJob", (req: pbJobs.EstimateJobRequest, c) =>
      inSpan("tda.jobs.v1.JobService/EstimateJob", contextFromMetadata(c.metadata), SpanKind.SERVER, (_s, ctx) =>
        estimateJob(deps, tenantOf(c.metadata), req, ctx),
      ),
    ),
    getLimits: unary(deps.log, "GetLimits", () => limits()),
  };
}
