import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { fromServiceError, isServiceError, metadataWithTrace, unavailable, type Logger, type pbCommon, type pbEngine } from "@tda/common";
import type { Engine, EnginePool } from "./engine-pool";

// DiagramDistance: the engine compares two results (both already checked to
// be the caller's by job-service.ts). Healthy engines with the fewest calls
// outstanding are asked first; a transport failure moves on to the next.

export interface EngineDistanceDeps {
  /** Absent in a scheduler without engine addresses. */
  engines: EnginePool | undefined;
  rpcTimeoutMs: number;
  log: Logger;
}

export type EngineDistance = (req: pbEngine.DiagramDistanceRequest, ctx: Context) => Promise<pbCommon.DistanceResult>;

function ordered(engines: EnginePool | undefined): Engine[] {
  if (!engines || engines.engines().length === 0) throw unavailable("no engine is configured on this scheduler");
  return [...engines.engines()].sort((a, b) => Number(b.healthy) - Number(a.healthy) || a.outstanding - b.outstanding);
}

function ask(e: Engine, req: pbEngine.DiagramDistanceRequest, md: Metadata, timeoutMs: number): Promise<pbEngine.DiagramDistanceResponse> {
  return new Promise((resolve, reject) => {
    e.client.diagramDistance(req, md, { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: pbEngine.DiagramDistanceResponse) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export function createEngineDistance(deps: EngineDistanceDeps): EngineDistance {
  return async (req, ctx) => {
    let last: unknown;
    for (const e of ordered(deps.engines).slice(0, 3)) {
      e.outstanding++;
      try {
        const res = await ask(e, req, metadataWithTrace(new Metadata(), ctx), deps.rpcTimeoutMs);
        return res.result ?? { dimensions: [], bottleneck: undefined, wasserstein: undefined };
      } catch (err) {
        last = err;
        const transport = isServiceError(err) && err.code === GrpcStatus.UNAVAILABLE;
        if (!transport) throw isServiceError(err) ? fromServiceError(err) : err;
        deps.log.warn({ engine: e.address, err: (err as Error).message }, "engine did not answer DiagramDistance; asking the next");
      } finally {
        e.outstanding--;
      }
    }
    throw unavailable("no engine answered", last);
  };
}
