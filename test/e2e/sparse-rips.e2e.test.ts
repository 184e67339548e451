import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startMesh, ENGINE_BIN, FIXTURES, type Mesh } from "../helpers/mesh";
import { ndjson, restClient } from "../helpers/rest";
import { barcodeOf, parseRipserOutput } from "../helpers/barcodes";
import { referenceDistances, type Bars } from "../helpers/gudhi";

// The sparse Rips filtration through REST: the gateway checks sparse_epsilon,
// the scheduler caches it apart from the exact job, the engine computes it, and
// the result says that it is an approximation and with which epsilon. Its
// diagram is the CLI's (`--sparse`), and within the proven factor of the exact
// job's diagram: bottleneck distance in log scale (GUDHI's, run here) <= log(1 + eps).

jest.setTimeout(240_000);

const KEY = "key-sparse-0123456789";
const EPS = 0.5;

let mesh: Mesh;
let A: ReturnType<typeof restClient>;
let datasetId = "";

/** tore3D_300.off as CSV rows (the OFF header dropped). */
function torusCsv(): string {
  const lines = readFileSync(join(FIXTURES, "tore3D_300.off"), "utf8").split("\n").slice(2);
  return lines
    .filter((l) => l.trim() !== "")
    .map((l) => l.trim().split(/\s+/).join(","))
    .join("\n");
}

type RestDiagram = { dimension: number; intervals: { birth: number; death: number | string }[] };

function diagramsOf(json: { result: { diagrams: RestDiagram[] } }): { dimension: number; intervals: { birth: number; death: number }[] }[] {
  return json.result.diagrams.map((d) => ({
    dimension: d.dimension,
    intervals: d.intervals.map((i) => ({ birth: i.birth ?? 0, death: i.death === "Infinity" ? Infinity : Number(i.death) })),
  }));
}

/** Diagram in log scale; a birth 0 counts as 1e-30 on both sides. */
function logBars(d: { intervals: { birth: number; death: number }[] } | undefined): Bars {
  return (d?.intervals ?? [])
    .filter((i) => i.death > i.birth)
    .map((i) => [Math.log(Math.max(i.birth, 1e-30)), Number.isFinite(i.death) ? Math.log(Math.max(i.death, 1e-30)) : Infinity]);
}

async function runJob(body: Record<string, unknown>): Promise<{ jobId: string; result: Record<string, unknown> & { result: { diagrams: RestDiagram[] } } }> {
  const sub = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, ...body });
  expect(sub.status).toBe(200);
  const jobId = sub.json.job.job_id as string;
  const watch = await ndjson(`${mesh.rest}/api/v1/tda/jobs/${jobId}/watch`, { "x-api-key": KEY }, 120_000);
  const states = (watch.lines as { result: { update: { state: string } } }[]).map((l) => l.result.update.state);
  expect(states.at(-1)).toBe("JOB_STATE_COMPLETED");
  const res = await A.get(`/api/v1/tda/results/${jobId}`);
  expect(res.status).toBe(200);
  return { jobId, result: res.json };
}

beforeAll(async () => {
  mesh = await startMesh({ redisDb: 10, rest: true, gatewayEnv: { GATEWAY_API_KEYS: `${KEY}:sparse-tenant` } });
  A = restClient(mesh.rest!, { key: KEY });
  const up = await A.upload("/api/v1/data/upload/file?name=torus.csv&format=csv", torusCsv(), "text/csv");
  expect(up.status).toBe(200);
  expect(up.json.dataset.n).toBe("300");
  datasetId = up.json.dataset.dataset_id;
});

afterAll(async () => {
  await mesh?.stop();
});

test("a sparse Rips job says it is an approximation, equals the CLI and is within (1 + eps) of the exact job", async () => {
  const sparse = await runJob({ max_dim: 1, sparse_epsilon: EPS });
  expect(sparse.result.result).toHaveProperty("approximation");
  const approx = (sparse.result.result as unknown as { approximation: Record<string, unknown> }).approximation;
  expect(approx).toEqual({ method: "sparse_rips", epsilon: EPS, interleaving_factor: 1 + EPS });

  // the same engine's command line on the same points
  const csv = join(mesh.logDir, "torus-sparse.csv");
  writeFileSync(csv, torusCsv() + "\n");
  const cli = parseRipserOutput(execFileSync(ENGINE_BIN, ["--format", "point-cloud", "--dim", "1", "--sparse", String(EPS), csv], { encoding: "utf8" }));
  expect(barcodeOf(diagramsOf(sparse.result))).toEqual(cli);

  // the exact job: another cache entry, no approximation marker
  const exact = await runJob({ max_dim: 1 });
  expect(exact.result.cache_hit ?? false).toBe(false);
  // (the REST proxy writes unset fields: an exact result's approximation is null)
  expect((exact.result.result as unknown as { approximation?: unknown }).approximation ?? null).toBeNull();
  const s = diagramsOf(sparse.result);
  const e = diagramsOf(exact.result);
  const ref = referenceDistances([0, 1].map((d) => ({ a: logBars(s.find((x) => x.dimension === d)), b: logBars(e.find((x) => x.dimension === d)) })));
  for (const r of ref) expect(r.bottleneck).toBeLessThanOrEqual(Math.log1p(EPS) + 1e-6);
  // the sparse complex is smaller
  const edges = (x: { result: { stats?: { edges?: string } } }) => Number(x.result.stats?.edges ?? 0);
  expect(edges(sparse.result as never)).toBeLessThan(edges(exact.result as never));

  // asking again for the sparse job is answered from its own cache entry
  const again = await runJob({ max_dim: 1, sparse_epsilon: EPS });
  expect(again.result.cache_hit).toBe(true);
  expect((again.result.result as unknown as { approximation: unknown }).approximation).toEqual(approx);
});

test.each([
  ["0", 0],
  ["above 1", 1.5],
  ["negative", -0.1],
])("sparse_epsilon %s is refused with 400 naming the field", async (_label, eps) => {
  const r = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 1, sparse_epsilon: eps });
  expect(r.status).toBe(400);
  expect(JSON.stringify(r.json.details)).toContain("sparse_epsilon");
});
