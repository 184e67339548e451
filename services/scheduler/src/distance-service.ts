import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { fromServiceError, isServiceError, metadataWithTrace, unavailable, type Logger, type pbCommon, type pbEngine } from "@tda/common";
import type { Engine, EnginePool } from "./engine-pool";

// DiagramDistance and Vectorize: an engine computes on results already
// checked to be the caller's (job-service.ts). Healthy engines with the
// fewest calls outstanding are asked first; a transport failure moves on to
// the next (at most three).

export interface EngineMathDeps {
  /** Absent in a scheduler without engine addresses. */
  engines: EnginePool | undefined;
  rpcTimeoutMs: number;
  log: Logger;
}

export type EngineDistance = (req: pbEngine.DiagramDistanceRequest, ctx: Context) => Promise<pbCommon.DistanceResult>;
export type EngineVectorize = (req: pbEngine.VectorizeRequest, ctx: Context) => Promise<pbCommon.FeatureResult>;

type Unary<Req, Res> = (engine: Engine, req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function ordered(engines: EnginePool | undefined): Engine[] {
  if (!engines || engines.engines().length === 0) throw unavailable("no engine is configured on this scheduler");
  return [...engines.engines()].sort((a, b) => Number(b.healthy) - Number(a.healthy) || a.outstanding - b.outstanding);
}

function askEngines<Req, Res>(deps: EngineMathDeps, method: string, call: Unary<Req, Res>): (req: Req, ctx: Context) => Promise<Res> {
  return async (req, ctx) => {
    let last: unknown;
    for (const e of ordered(deps.engines).slice(0, 3)) {
      e.outstanding++;
      try {
        return await new Promise<Res>((resolve, reject) => {
          call(e, req, metadataWithTrace(new Metadata(), ctx), { deadline: Date.now() + deps.rpcTimeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
        });
      } catch (err) {
        last = err;
        const transport = isServiceError(err) && err.code === GrpcStatus.UNAVAILABLE;
        if (!transport) throw isServiceError(err) ? fromServiceError(err) : err;
        deps.log.warn({ engine: e.address, method, err: (err as Error).message }, "engine did not answer; asking the next");
      } finally {
        e.outstanding--;
      }
    }
    throw unavailable("no engine answered", last);
  };
}

export function createEngineDistance(deps: EngineMathDeps): EngineDistance {
  const ask = askEngines<pbEngine.DiagramDistanceRequest, pbEngine.DiagramDistanceResponse>(deps, "DiagramDistance", (e, req, md, o, cb) =>
    e.client.diagramDistance(req, md, o, cb),
  );
  return async (req, ctx) => (await ask(req, ctx)).result ?? { dimensions: [], bottleneck: undefined, wasserstein: undefined };
}

export function createEngineVectorize(deps: EngineMathDeps): EngineVectorize {
  const ask = askEngines<pbEngine.VectorizeRequest, pbEngine.VectorizeResponse>(deps, "Vectorize", (e, req, md, o, cb) => e.client.vectorize(req, md, o, cb));
  return async (req, ctx) => (await ask(req, ctx)).result ?? { kind: req.params?.kind ?? 0, vectors: [] };
}
