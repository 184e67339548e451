import { execFileSync } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./mesh";

// The GUDHI reference (test/reference/gudhi_ref.py, PyPI gudhi 3.13), run in
// the same test as the engine it checks. Its Python is TDA_REF_PYTHON, else
// the environment scripts/bootstrap.sh prepares under the cache directory.

export function referencePython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TDA_REF_PYTHON) return env.TDA_REF_PYTHON;
  const cache = env.TDA_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tda-mesh");
  return join(cache, "pyref/bin/python");
}

/** JSON with +-Infinity written as the bare tokens Python's json accepts. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? (v > 0 ? "__INF__" : "__NINF__") : v))
    .replace(/"__INF__"/g, "Infinity")
    .replace(/"__NINF__"/g, "-Infinity");
}

const fromRef = (v: number | string): number => (v === "inf" ? Infinity : v === "-inf" ? -Infinity : Number(v));

export type Bars = [number, number][];

export interface RefDistance {
  bottleneck: number;
  /** hera's auction (within its relative error 1e-6); undefined where hera cannot answer (gudhi_ref.py). */
  wasserstein?: number;
  /** gudhi.wasserstein: POT's exact optimal transport. */
  wassersteinExact: number;
}

/** gudhi.bottleneck_distance(e=0), gudhi.hera.wasserstein_distance and gudhi.wasserstein for each pair. */
export function referenceDistances(cases: { a: Bars; b: Bars; order?: number; internalP?: number }[]): RefDistance[] {
  const req = { op: "distance", cases: cases.map((c) => ({ a: c.a, b: c.b, order: c.order ?? 1, internal_p: c.internalP ?? Infinity, delta: 1e-6 })) };
  const out = execFileSync(referencePython(), [join(ROOT, "test/reference/gudhi_ref.py")], { input: toJson(req), encoding: "utf8", maxBuffer: 64 << 20 });
  return (JSON.parse(out) as { bottleneck: number | string; wasserstein: number | string | null; wasserstein_exact: number | string }[]).map((r) => ({
    bottleneck: fromRef(r.bottleneck),
    wasserstein: r.wasserstein === null ? undefined : fromRef(r.wasserstein),
    wassersteinExact: fromRef(r.wasserstein_exact),
  }));
}

export interface RefVectorizeCase {
  kind: "betti" | "landscape" | "image" | "entropy" | "amplitudes";
  bars: Bars;
  lo?: number;
  hi?: number;
  ylo?: number;
  yhi?: number;
  resolution?: number;
  layers?: number;
  bandwidth?: number;
  /** Image weight persistence^power; undefined: 1. */
  power?: number;
  order?: number;
  internalP?: number;
}

/** gudhi.representations (BettiCurve, Landscape, PersistenceImage, Entropy) and amplitudes, flat values per case. */
export function referenceVectorize(cases: RefVectorizeCase[]): number[][] {
  const req = { op: "vectorize", cases: cases.map((c) => ({ ...c, internal_p: c.internalP ?? Infinity, power: c.power ?? null, internalP: undefined })) };
  const out = execFileSync(referencePython(), [join(ROOT, "test/reference/gudhi_ref.py")], { input: toJson(req), encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out) as number[][];
}
