import { invalidArgument, pbCommon, type FieldViolation, type pbGateway, type pbJobs } from "@tda/common";

// Checks of obvious input mistakes, done at the edge so that a bad request
// costs nothing downstream. The limits match the engine's own (which checks
// again); field names are the proto field names of the gateway request.

export const MAX_HOMOLOGY_DIM = 8;
export const MAX_MODULUS = 65521;
export const MAX_THREADS = 256;
export const MAX_DEADLINE_SECONDS = 7 * 24 * 3600;
export const MAX_ID_LENGTH = 256;
export const MAX_STREAM_DIM = 4096;
export const MAX_PAGE_SIZE = 1000;
/** Job priorities a tenant may ask for: higher runs first, within [-MAX_PRIORITY, MAX_PRIORITY]. */
export const MAX_PRIORITY = 10;

export function isPrime(p: number): boolean {
  if (!Number.isInteger(p) || p < 2) return false;
  for (let d = 2; d * d <= p; d++) if (p % d === 0) return false;
  return true;
}

function checkId(v: FieldViolation[], field: string, value: string, what: string): void {
  if (value.trim() === "") v.push({ field, description: `${what} is required` });
  else if (value.length > MAX_ID_LENGTH) v.push({ field, description: `${what} is longer than ${MAX_ID_LENGTH} characters` });
}

function checkCommonJob(
  v: FieldViolation[],
  req: { datasetId: string; maxDim: number; idempotencyKey: string; deadlineSeconds: number; priority: number },
): void {
  checkId(v, "dataset_id", req.datasetId, "dataset_id");
  if (!Number.isInteger(req.priority) || Math.abs(req.priority) > MAX_PRIORITY) {
    v.push({ field: "priority", description: `must be an integer in [-${MAX_PRIORITY}, ${MAX_PRIORITY}] (higher runs first; 0 is the default)` });
  }
  if (req.maxDim > MAX_HOMOLOGY_DIM) v.push({ field: "max_dim", description: `must be at most ${MAX_HOMOLOGY_DIM}` });
  if (req.idempotencyKey.length > MAX_ID_LENGTH) {
    v.push({ field: "idempotency_key", description: `must be at most ${MAX_ID_LENGTH} characters` });
  }
  if (req.deadlineSeconds > MAX_DEADLINE_SECONDS) {
    v.push({ field: "deadline_seconds", description: `must be at most ${MAX_DEADLINE_SECONDS} (7 days); 0 means the service default` });
  }
}

/** A finite non-negative bound; leave the field unset for "no bound" (Infinity and NaN are refused here, not deep in the scheduler). */
function checkBound(v: FieldViolation[], field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0) v.push({ field, description: "must be a finite number >= 0 (leave it unset for no bound)" });
}

/**
 * The sparse Rips filtration's epsilon: in (0, MAX_SPARSE_EPSILON]. Its diagram is within a factor
 * 1 + epsilon of the exact one; past 1 (a factor 2) the approximation says little, and at 0 it is the exact
 * filtration (leave the field unset for that).
 */
export const MAX_SPARSE_EPSILON = 1;
function checkSparse(v: FieldViolation[], field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!(Number.isFinite(value) && value > 0 && value <= MAX_SPARSE_EPSILON)) {
    v.push({ field, description: `must be in (0, ${MAX_SPARSE_EPSILON}] (leave it unset for the exact Rips filtration)` });
  }
}

function checkModulus(v: FieldViolation[], field: string, modulus: number, maxModulus: number): void {
  if (modulus !== 0 && (modulus > maxModulus || !isPrime(modulus))) {
    v.push({ field, description: `must be a prime at most ${maxModulus} (0 means 2)` });
  }
}

/**
 * `maxModulus`: the largest modulus the engines accept, as published by them
 * (GetInfo EngineLimits, through the scheduler's GetLimits); MAX_MODULUS when
 * not known yet.
 */
export function ripsViolations(req: pbGateway.ComputeVietorisRipsRequest, maxModulus = MAX_MODULUS): FieldViolation[] {
  const v: FieldViolation[] = [];
  checkCommonJob(v, req);
  checkBound(v, "threshold", req.threshold);
  checkSparse(v, "sparse_epsilon", req.sparseEpsilon);
  checkModulus(v, "modulus", req.modulus, Math.min(maxModulus, MAX_MODULUS));
  if (req.threads > MAX_THREADS) v.push({ field: "threads", description: `must be at most ${MAX_THREADS} (0 means the engine default)` });
  return v;
}

export function alphaViolations(req: pbGateway.ComputeAlphaComplexRequest): FieldViolation[] {
  const v: FieldViolation[] = [];
  checkCommonJob(v, req);
  checkBound(v, "max_alpha", req.maxAlpha);
  return v;
}

/** EstimateJob: the same checks as the compute methods, on a ComputeParams (fields `params.*`). */
export function estimateViolations(req: pbGateway.EstimateJobRequest, maxModulus = MAX_MODULUS): FieldViolation[] {
  const v: FieldViolation[] = [];
  checkId(v, "dataset_id", req.datasetId, "dataset_id");
  const p = req.params;
  if (!p) return [...v, { field: "params", description: "params are required" }];
  if (p.algorithm !== pbCommon.Algorithm.ALGORITHM_RIPS && p.algorithm !== pbCommon.Algorithm.ALGORITHM_ALPHA) {
    v.push({ field: "params.algorithm", description: "must be ALGORITHM_RIPS or ALGORITHM_ALPHA" });
  }
  if (p.maxDim > MAX_HOMOLOGY_DIM) v.push({ field: "params.max_dim", description: `must be at most ${MAX_HOMOLOGY_DIM}` });
  checkBound(v, "params.threshold", p.threshold);
  checkBound(v, "params.max_alpha", p.maxAlpha);
  checkSparse(v, "params.sparse_epsilon", p.sparseEpsilon);
  checkModulus(v, "params.modulus", p.modulus, Math.min(maxModulus, MAX_MODULUS));
  if (p.threads > MAX_THREADS) v.push({ field: "params.threads", description: `must be at most ${MAX_THREADS} (0 means the engine default)` });
  return v;
}

/** The limits of the scheduler (and engines) tightened by the gateway's own. */
export function effectiveLimits(s: pbJobs.GetLimitsResponse): pbGateway.GetLimitsResponse {
  return {
    ...s,
    maxDim: Math.min(s.maxDim, MAX_HOMOLOGY_DIM),
    maxModulus: Math.min(s.maxModulus, MAX_MODULUS),
    maxThreads: Math.min(s.maxThreads, MAX_THREADS),
    maxDeadlineSeconds: Math.min(s.maxDeadlineSeconds, MAX_DEADLINE_SECONDS),
  };
}

/** Throws INVALID_ARGUMENT (message plus every violation) when there is any. */
export function requireValid(message: string, violations: FieldViolation[]): void {
  if (violations.length > 0) throw invalidArgument(message, violations);
}

export function idViolations(field: string, value: string): FieldViolation[] {
  const v: FieldViolation[] = [];
  checkId(v, field, value, field);
  return v;
}

/** Homological dimensions a DiagramDistance request may name (the engine's bound). */
export const MAX_DISTANCE_DIMENSIONS = 64;

export function distanceViolations(req: pbGateway.DiagramDistanceRequest): FieldViolation[] {
  const v = [...idViolations("job_id_a", req.jobIdA), ...idViolations("job_id_b", req.jobIdB)];
  const p = req.params;
  if (!p) return v;
  if (p.order !== 0 && !(p.order >= 1 && Number.isFinite(p.order))) v.push({ field: "params.order", description: "must be finite and >= 1 (0: 1)" });
  if (p.internalP !== 0 && !(p.internalP >= 1)) v.push({ field: "params.internal_p", description: "must be >= 1 or Infinity (0: Infinity)" });
  if (p.dimensions.length > MAX_DISTANCE_DIMENSIONS) v.push({ field: "params.dimensions", description: `at most ${MAX_DISTANCE_DIMENSIONS} dimensions` });
  p.dimensions.forEach((d, i) => {
    if (d >= MAX_DISTANCE_DIMENSIONS) v.push({ field: `params.dimensions[${i}]`, description: `must be below ${MAX_DISTANCE_DIMENSIONS}` });
  });
  if (p.skipBottleneck && p.skipWasserstein) v.push({ field: "params", description: "skip_bottleneck and skip_wasserstein leave nothing to compute" });
  return v;
}

/** Sizes a GetFeatures request may declare (the engine's bounds, GetInfo.limits). */
export const MAX_FEATURE_RESOLUTION = 10_000;
export const MAX_IMAGE_SIDE = 512;
export const MAX_LANDSCAPE_LAYERS = 100;

export function featuresViolations(req: pbGateway.GetFeaturesRequest): FieldViolation[] {
  const v = idViolations("job_id", req.jobId);
  const K = pbCommon.FeatureKind;
  const kinds = [K.FEATURE_KIND_BETTI_CURVE, K.FEATURE_KIND_LANDSCAPE, K.FEATURE_KIND_PERSISTENCE_IMAGE, K.FEATURE_KIND_ENTROPY, K.FEATURE_KIND_AMPLITUDES];
  if (!kinds.includes(req.kind))
    v.push({ field: "kind", description: "one of FEATURE_KIND_BETTI_CURVE, _LANDSCAPE, _PERSISTENCE_IMAGE, _ENTROPY, _AMPLITUDES" });
  const image = req.kind === K.FEATURE_KIND_PERSISTENCE_IMAGE;
  const maxRes = image ? MAX_IMAGE_SIDE : MAX_FEATURE_RESOLUTION;
  if (req.resolution > maxRes) v.push({ field: "resolution", description: `at most ${maxRes}${image ? " pixels per side" : " grid points"}` });
  if (req.layers > MAX_LANDSCAPE_LAYERS) v.push({ field: "layers", description: `at most ${MAX_LANDSCAPE_LAYERS}` });
  if (req.dimensions.length > MAX_DISTANCE_DIMENSIONS) v.push({ field: "dimensions", description: `at most ${MAX_DISTANCE_DIMENSIONS} dimensions` });
  req.dimensions.forEach((d, i) => {
    if (d >= MAX_DISTANCE_DIMENSIONS) v.push({ field: `dimensions[${i}]`, description: `must be below ${MAX_DISTANCE_DIMENSIONS}` });
  });
  for (const [field, value] of [
    ["range_min", req.rangeMin],
    ["range_max", req.rangeMax],
    ["persistence_min", req.persistenceMin],
    ["persistence_max", req.persistenceMax],
  ] as const) {
    if (value !== undefined && !Number.isFinite(value)) v.push({ field, description: "must be finite" });
  }
  if (req.rangeMin !== undefined && req.rangeMax !== undefined && req.rangeMin > req.rangeMax)
    v.push({ field: "range_max", description: "must be >= range_min" });
  if (req.bandwidth !== 0 && !(req.bandwidth > 0 && Number.isFinite(req.bandwidth)))
    v.push({ field: "bandwidth", description: "must be finite and > 0 (0: 1)" });
  if (req.order !== 0 && !(req.order >= 1 && Number.isFinite(req.order))) v.push({ field: "order", description: "must be finite and >= 1 (0: 1)" });
  if (req.internalP !== 0 && !(req.internalP >= 1)) v.push({ field: "internal_p", description: "must be >= 1 or Infinity (0: Infinity)" });
  return v;
}

export function pageSizeViolations(pageSize: number): FieldViolation[] {
  return pageSize > MAX_PAGE_SIZE ? [{ field: "page_size", description: `must be at most ${MAX_PAGE_SIZE}` }] : [];
}

export interface StreamBatch {
  /** Little-endian float64 values, row-major. */
  points: Buffer;
  /** Number of points (values / dim). */
  count: number;
}

const STREAM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Validates a PublishStream request and returns its values as canonical
 * little-endian float64 bytes. Throws INVALID_ARGUMENT listing every problem.
 */
export function parseStreamBatch(req: pbGateway.PublishStreamRequest, maxBytes: number): StreamBatch {
  const v: FieldViolation[] = [];
  checkId(v, "stream_id", req.streamId, "stream_id");
  if (req.streamId.trim() !== "" && req.streamId.length <= MAX_ID_LENGTH && !STREAM_ID_PATTERN.test(req.streamId)) {
    v.push({ field: "stream_id", description: "must start with a letter or digit and hold only letters, digits, '.', '_', ':' or '-'" });
  }
  if (req.dim === 0) v.push({ field: "dim", description: "must be greater than 0" });
  else if (req.dim > MAX_STREAM_DIM) v.push({ field: "dim", description: `must be at most ${MAX_STREAM_DIM}` });

  const hasBytes = req.points.length > 0;
  const hasValues = req.values.length > 0;
  let values: Float64Array | undefined;
  if (hasBytes && hasValues) {
    v.push({ field: "points", description: "send either points (bytes) or values (numbers), not both" });
  } else if (!hasBytes && !hasValues) {
    v.push({ field: "points", description: "no points: send points (little-endian float64 bytes) or values" });
  } else if (hasBytes) {
    if (req.points.length > maxBytes) v.push({ field: "points", description: `must be at most ${maxBytes} bytes per call` });
    else if (req.points.length % 8 !== 0) v.push({ field: "points", description: `length ${req.points.length} is not a multiple of 8 (float64 values)` });
    else {
      // Copy into an aligned buffer; the incoming Buffer may sit at any offset of a pooled slab.
      values = new Float64Array(req.points.length / 8);
      const dv = new DataView(req.points.buffer, req.points.byteOffset, req.points.byteLength);
      for (let i = 0; i < values.length; i++) values[i] = dv.getFloat64(i * 8, true);
    }
  } else {
    if (req.values.length * 8 > maxBytes) v.push({ field: "values", description: `must be at most ${maxBytes / 8} values per call` });
    else values = Float64Array.from(req.values);
  }

  if (values !== undefined && req.dim > 0) {
    const field = hasBytes ? "points" : "values";
    if (values.length % req.dim !== 0) {
      v.push({ field, description: `${values.length} values is not a multiple of dim ${req.dim}` });
    }
    const bad = values.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) v.push({ field, description: `value #${bad} is NaN or infinite` });
  }
  requireValid("invalid PublishStream request", v);
  const vals = values!;
  const out = Buffer.alloc(vals.length * 8);
  for (let i = 0; i < vals.length; i++) out.writeDoubleLE(vals[i]!, i * 8);
  return { points: out, count: vals.length / req.dim };
}
