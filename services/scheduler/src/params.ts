import { createHash } from "node:crypto";
import { pbCommon, pbUpload, type FieldViolation, type pbEngine } from "@tda/common";

const { Algorithm } = pbCommon;
type ComputeParams = pbCommon.ComputeParams;

// Validation of compute parameters and the canonical form used as the
// result-cache key. Pure functions: no I/O.

export interface ParamLimits {
  maxDim: number;
  maxModulus: number;
  maxThreads: number;
  /** What the engines publish (GetInfo EngineLimits): Alpha's bounds and the dataset sizes are checked against it when known. */
  engine?: pbEngine.EngineLimits;
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
  const alphaMaxDim = limits.engine?.alphaMaxDim ?? 0;
  const maxDim = params.algorithm === Algorithm.ALGORITHM_ALPHA && alphaMaxDim > 0 ? Math.min(limits.maxDim, alphaMaxDim) : limits.maxDim;
  if (!Number.isInteger(params.maxDim) || params.maxDim < 0 || params.maxDim > maxDim) {
    v.push({ field: "params.max_dim", description: `must be an integer in [0, ${maxDim}]` });
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
  v.push(...sparseViolations(params));
  return v;
}

/** The engine's bound on sparse_epsilon: the sparse Rips filtration is within a factor 1 + eps <= 2 of the exact one. */
export const MAX_SPARSE_EPSILON = 1;

function sparseViolations(params: ComputeParams): FieldViolation[] {
  const e = params.sparseEpsilon;
  if (e === undefined) return [];
  if (params.algorithm === Algorithm.ALGORITHM_ALPHA) {
    return [{ field: "params.sparse_epsilon", description: "is a Rips parameter (the sparse Rips filtration); leave it unset for Alpha" }];
  }
  if (!(Number.isFinite(e) && e > 0 && e <= MAX_SPARSE_EPSILON)) {
    return [{ field: "params.sparse_epsilon", description: `must be in (0, ${MAX_SPARSE_EPSILON}] (leave unset for the exact Rips filtration)` }];
  }
  return [];
}

/** The dataset's size against the engines' published bounds (none checked while they are unknown). */
function sizeViolations(params: ComputeParams, dataset: pbUpload.Dataset, e: pbEngine.EngineLimits | undefined): FieldViolation[] {
  if (!e) return [];
  const v: FieldViolation[] = [];
  const alpha = params.algorithm === Algorithm.ALGORITHM_ALPHA;
  const maxPoints = alpha && e.alphaMaxPoints > 0 ? e.alphaMaxPoints : e.maxPoints;
  if (maxPoints > 0 && dataset.n > maxPoints)
    v.push({ field: "dataset_id", description: `the dataset has ${dataset.n} points; the engines take at most ${maxPoints}` });
  const pointCloud = dataset.kind === pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD;
  if (alpha && pointCloud && e.alphaAmbientDims.length > 0 && !e.alphaAmbientDims.includes(dataset.dim)) {
    v.push({
      field: "dataset_id",
      description: `the Alpha complex takes points in dimension ${e.alphaAmbientDims.join(", ")}; the dataset's are in ${dataset.dim}`,
    });
  }
  if (!alpha && pointCloud && e.maxAmbientDim > 0 && dataset.dim > e.maxAmbientDim) {
    v.push({ field: "dataset_id", description: `the dataset's points are in dimension ${dataset.dim}; the engines take at most ${e.maxAmbientDim}` });
  }
  return v;
}

/** Checks that only make sense once the dataset is known (sizes against the engines' limits in `limits.engine`). */
export function validateForDataset(params: ComputeParams, dataset: pbUpload.Dataset, limits?: ParamLimits): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (params.algorithm === Algorithm.ALGORITHM_ALPHA && dataset.kind !== pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD) {
    v.push({ field: "params.algorithm", description: "the Alpha complex needs a point cloud, the dataset is a distance matrix" });
  }
  if (dataset.n === 0) v.push({ field: "dataset_id", description: "the dataset is empty" });
  v.push(...sizeViolations(params, dataset, limits?.engine));
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
  // (the sparse filtration is another result: its own cache entry; absent for exact jobs, so their keys are unchanged)
  const sparse = params.sparseEpsilon !== undefined ? { sparse_epsilon: params.sparseEpsilon } : {};
  return { ...common, threshold: params.threshold ?? null, ...sparse };
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
