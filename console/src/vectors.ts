// Vectorisations of a result as the API computes them
// (GET /api/v1/tda/results/{job_id}/features, the engine's Vectorize: GUDHI's
// representations): the query a set of parameters makes, and the CSV / JSON
// files the console offers for download.

import { toNumber, type JsonDouble } from "./api";

export type FeatureKind =
  "FEATURE_KIND_BETTI_CURVE" | "FEATURE_KIND_LANDSCAPE" | "FEATURE_KIND_PERSISTENCE_IMAGE" | "FEATURE_KIND_ENTROPY" | "FEATURE_KIND_AMPLITUDES";

export const KINDS: { kind: FeatureKind; label: string; short: string }[] = [
  { kind: "FEATURE_KIND_BETTI_CURVE", label: "Betti curves", short: "betti" },
  { kind: "FEATURE_KIND_LANDSCAPE", label: "Persistence landscapes", short: "landscape" },
  { kind: "FEATURE_KIND_PERSISTENCE_IMAGE", label: "Persistence images", short: "image" },
  { kind: "FEATURE_KIND_ENTROPY", label: "Persistence entropy", short: "entropy" },
  { kind: "FEATURE_KIND_AMPLITUDES", label: "Amplitudes", short: "amplitudes" },
];

/** The form's values as typed (blank: the API's default). */
export interface VectorParams {
  dims: number[];
  rangeMin: string;
  rangeMax: string;
  resolution: string;
  layers: string;
  bandwidth: string;
  weight: "IMAGE_WEIGHT_CONSTANT" | "IMAGE_WEIGHT_PERSISTENCE_POWER";
  weightPower: string;
  persistenceMin: string;
  persistenceMax: string;
  order: string;
  internalP: string;
}

export const DEFAULT_PARAMS: Omit<VectorParams, "dims"> = {
  rangeMin: "",
  rangeMax: "",
  resolution: "",
  layers: "",
  bandwidth: "",
  weight: "IMAGE_WEIGHT_CONSTANT",
  weightPower: "",
  persistenceMin: "",
  persistenceMax: "",
  order: "",
  internalP: "",
};

/** Which parameters a kind reads (query names). */
export const PARAMS_OF: Record<FeatureKind, (keyof VectorParams)[]> = {
  FEATURE_KIND_BETTI_CURVE: ["rangeMin", "rangeMax", "resolution"],
  FEATURE_KIND_LANDSCAPE: ["rangeMin", "rangeMax", "resolution", "layers"],
  FEATURE_KIND_PERSISTENCE_IMAGE: ["rangeMin", "rangeMax", "persistenceMin", "persistenceMax", "resolution", "bandwidth", "weight", "weightPower"],
  FEATURE_KIND_ENTROPY: [],
  FEATURE_KIND_AMPLITUDES: ["order", "internalP"],
};

const QUERY_NAME: Record<Exclude<keyof VectorParams, "dims">, string> = {
  rangeMin: "range_min",
  rangeMax: "range_max",
  resolution: "resolution",
  layers: "layers",
  bandwidth: "bandwidth",
  weight: "weight",
  weightPower: "weight_power",
  persistenceMin: "persistence_min",
  persistenceMax: "persistence_max",
  order: "order",
  internalP: "internal_p",
};

/** The query string of a features request: the kind, the dimensions, and the parameters the kind reads that are not blank. */
export function featuresQuery(kind: FeatureKind, p: VectorParams): string {
  const q = new URLSearchParams({ kind });
  for (const d of p.dims) q.append("dimensions", String(d));
  for (const key of PARAMS_OF[kind]) {
    if (key === "dims") continue;
    const v = String(p[key]).trim();
    if (key === "weightPower" && p.weight !== "IMAGE_WEIGHT_PERSISTENCE_POWER") continue;
    if (v !== "") q.set(QUERY_NAME[key], v);
  }
  return q.toString();
}

export interface FeatureVectorJson {
  dimension: number;
  values: JsonDouble[];
  rows: number;
  cols: number;
  grid: JsonDouble[];
  grid_y: JsonDouble[];
  names: string[];
}

export interface FeaturesJson {
  job_id: string;
  result: { kind: FeatureKind; vectors: FeatureVectorJson[] };
}

/** A vector with numbers (JSON doubles may be "Infinity" / "NaN" strings). */
export interface Vector {
  dimension: number;
  values: number[];
  rows: number;
  cols: number;
  grid: number[];
  gridY: number[];
  names: string[];
}

export function vectorsOf(f: FeaturesJson): Vector[] {
  return f.result.vectors.map((v) => ({
    dimension: v.dimension,
    values: v.values.map(toNumber),
    rows: v.rows,
    cols: v.cols,
    grid: v.grid.map(toNumber),
    gridY: v.grid_y.map(toNumber),
    names: v.names,
  }));
}

function cell(v: number | string): string {
  if (typeof v === "string") return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return String(v);
}

/**
 * One row per value, in long form (pandas.read_csv reads it; inf and nan as
 * NumPy spells them): Betti curve `dimension,t,value`; landscape
 * `dimension,layer,t,value` (layer 1 the highest); image
 * `dimension,birth,persistence,value`; entropy and amplitudes `dimension,name,value`.
 */
export function featuresCsv(kind: FeatureKind, vectors: Vector[]): string {
  const rows: (number | string)[][] = [];
  let head: string[];
  switch (kind) {
    case "FEATURE_KIND_BETTI_CURVE":
      head = ["dimension", "t", "value"];
      for (const v of vectors) v.grid.forEach((t, i) => rows.push([v.dimension, t, v.values[i]!]));
      break;
    case "FEATURE_KIND_LANDSCAPE":
      head = ["dimension", "layer", "t", "value"];
      for (const v of vectors) for (let k = 0; k < v.rows; k++) v.grid.forEach((t, i) => rows.push([v.dimension, k + 1, t, v.values[k * v.cols + i]!]));
      break;
    case "FEATURE_KIND_PERSISTENCE_IMAGE":
      head = ["dimension", "birth", "persistence", "value"];
      for (const v of vectors)
        for (let r = 0; r < v.rows; r++) for (let c = 0; c < v.cols; c++) rows.push([v.dimension, v.grid[c]!, v.gridY[r]!, v.values[r * v.cols + c]!]);
      break;
    default:
      head = ["dimension", "name", "value"];
      for (const v of vectors)
        v.values.forEach((x, i) => rows.push([v.dimension, v.names[i] ?? (kind === "FEATURE_KIND_ENTROPY" ? "entropy" : `value_${i}`), x]));
  }
  return [head.join(","), ...rows.map((r) => r.map(cell).join(","))].join("\n") + "\n";
}
