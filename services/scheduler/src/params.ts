import { createHash } from "node:crypto";
import { pbCommon, pbUpload, type FieldViolation } from "@tda/common";

const { Algorithm } = pbCommon;
type ComputeParams = pbCommon.ComputeParams;

// Validation of compute parameters and the canonical form used as the
// result-cache key. Pure functions: no I/O.

export interface ParamLimits {
  maxDim: number;
  maxModulus: number;
  maxThreads: number;
}

export function isPrime(p: number): boolean {
  if (!Number.isInteger(p) || p < 2) return false;
  if (p % 2 === 0) return p === 2;
  for (let d = 3; d * d <= p; d += 2) if (p % d === 0) return false;
  return true;
}

/** Field violations of `params` (paths as in SubmitJobRequest); empty when valid. */
export function validateParams(params: ComputeParams | undefined, limits: ParamLimits): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (!params) return [{ field: "params", description: "params are required" }];
  if (params.algorithm !== Algorithm.ALGORITHM_RIPS && params.algorithm !== Algorithm.ALGORITHM_ALPHA) {
    v.push({ field: "params.algorithm", description: "must be ALGORITHM_RIPS or ALGORITHM_ALPHA" });
  }
  if (!Number.isInteger(params.maxDim) || params.maxDim < 0 || params.maxDim > limits.maxDim) {
    v.push({ field: "params.max_dim", description: `must be an integer in [0, ${limits.maxDim}]` });
  }
  if (params.threshold !== undefined && !(Number.isFinite(params.threshold) && params.threshold >= 0)) {
    v.push({ field: "params.threshold", description: "must be a finite number >= 0 (leave unset for no threshold)" });
  }
  if (params.modulus !== 0 && (!isPrime(params.modulus) || params.modulus > limits.maxModulus)) {
    v.push({ field: "params.modulus", description: `must be a prime <= ${limits.maxModulus} (0 means 2)` });
  }
  if (params.threads > limits.maxThreads) {
    v.push({ field: "params.threads", description: `must be at most ${limits.maxThreads} (0 means the engine default)` });
  }
  if (params.maxAlpha !== undefined && !(Number.isFinite(params.maxAlpha) && params.maxAlpha >= 0)) {
    v.push({ field: "params.max_alpha", description: "must be a finite number >= 0 (leave unset for no limit)" });
  }
  return v;
}

/** Checks that only make sense once the dataset is known. */
export function validateForDataset(params: ComputeParams, dataset: pbUpload.Dataset): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (params.algorithm === Algorithm.ALGORITHM_ALPHA && dataset.kind !== pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD) {
    v.push({ field: "params.algorithm", description: "the Alpha complex needs a point cloud, the dataset is a distance matrix" });
  }
  if (dataset.n === 0) v.push({ field: "dataset_id", description: "the dataset is empty" });
  return v;
}

/** The parameters that change the result, with defaults made explicit (threads excluded). */
export function canonicalParams(params: ComputeParams): Record<string, unknown> {
  const common = {
    algorithm: params.algorithm === Algorithm.ALGORITHM_ALPHA ? "ALPHA" : "RIPS",
    max_dim: params.maxDim,
    modulus: params.modulus === 0 ? 2 : params.modulus,
  };
  if (params.algorithm === Algorithm.ALGORITHM_ALPHA) {
    return { ...common, alpha_radius: params.alphaRadius, max_alpha: params.maxAlpha ?? null };
  }
  return { ...common, threshold: params.threshold ?? null };
}

/** JSON with keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(",")}}`;
}

/** sha256 (hex) of the canonical JSON of the result-changing parameters. */
export function paramsHash(params: ComputeParams): string {
  return createHash("sha256")
    .update(canonicalJson(canonicalParams(params)))
    .digest("hex");
}
