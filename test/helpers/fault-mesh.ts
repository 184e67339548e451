import { join } from "node:path";
import { pbUpload } from "@tda/common";
import { FIXTURES, startMesh, type Mesh, type MeshOptions } from "./mesh";
import { startPrivateRedis } from "./private-redis";
import { gatewayClient, uploadFile, type Gateway } from "./client";
import { NO_METRICS_PORTS } from "./jobs";

// The mesh of the suites that kill processes under running jobs: a Redis of their own,
// a scheduler that probes engines, backs off and reports progress quickly, and
// sphere_3_192 uploaded (192 points on S^2: Rips up to H3 takes seconds of reduction).

export const FAST_FAULT_ENV: Record<string, string> = {
  ...NO_METRICS_PORTS,
  SCHEDULER_ENGINE_PROBE_MS: "1000",
  SCHEDULER_BACKOFF_MS: "200",
  SCHEDULER_PROGRESS_INTERVAL_MS: "200",
};

export interface FaultMesh {
  mesh: Mesh;
  gw: Gateway;
  /** dataset id of sphere_3_192 */
  sphere: string;
  stop(): Promise<void>;
}

/** `opts.env` is applied over FAST_FAULT_ENV. */
export async function startFaultMesh(opts: Omit<MeshOptions, "redisUrl" | "redisDb">): Promise<FaultMesh> {
  const redis = await startPrivateRedis();
  let mesh: Mesh | undefined;
  let gw: Gateway | undefined;
  const stop = async () => {
    gw?.close();
    await mesh?.stop();
    await redis.stop();
  };
  try {
    mesh = await startMesh({ ...opts, redisUrl: redis.url, env: { ...FAST_FAULT_ENV, ...(opts.env ?? {}) } });
    gw = gatewayClient(mesh.gateway);
    const up = await uploadFile(gw, join(FIXTURES, "sphere_3_192_points.dat"), pbUpload.DataFormat.DATA_FORMAT_WHITESPACE);
    return { mesh, gw, sphere: up.dataset!.datasetId, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
