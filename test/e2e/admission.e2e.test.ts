import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh, type Mesh } from "../helpers/mesh";
import { restClient } from "../helpers/rest";
import { barcodeOf, runRipser } from "../helpers/barcodes";
import { waitFor } from "../helpers/jobs";

// Memory admission that follows the data, through REST on a real mesh with an
// engine limited to 3 GiB. The estimate from the sizes alone refused a
// thresholded cloud needing little (a 12,000-point torus, H2, threshold 0.15:
// "4.6 GiB") and admitted any cloud given a threshold beyond its scale (1500
// points in R^8, max_dim 3, threshold 1e30: "1.9 GiB", over 50 GiB without one).
// The engine now measures the complex below the threshold it will use.

jest.setTimeout(300_000);

const LIMIT = 3 * 2 ** 30;
let mesh: Mesh;
let A: ReturnType<typeof restClient>;
let dir: string;

beforeAll(async () => {
  mesh = await startMesh({ redisDb: 6, rest: true, engineEnv: { TDA_ENGINE_MEMORY_LIMIT: String(LIMIT) } });
  A = restClient(mesh.rest!);
  dir = mkdtempSync(join(tmpdir(), "tda-admission-"));
});

afterAll(async () => {
  await mesh?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cloudCsv(rows: number[][]): string {
  return rows.map((r) => r.map((x) => x.toFixed(6)).join(",")).join("\n") + "\n";
}

/** n points of the Clifford torus in R^4 (radius 1/sqrt 2 in each plane). */
function torus(n: number, seed: number): number[][] {
  const u = rng(seed);
  const r = Math.SQRT1_2;
  return Array.from({ length: n }, () => {
    const a = 2 * Math.PI * u();
    const b = 2 * Math.PI * u();
    return [r * Math.cos(a), r * Math.sin(a), r * Math.cos(b), r * Math.sin(b)];
  });
}

async function upload(name: string, csv: string): Promise<string> {
  const up = await A.upload(`/api/v1/data/upload/file?name=${name}&format=csv`, csv, "text/csv");
  expect(up.status).toBe(200);
  return up.json.dataset.dataset_id as string;
}

interface RestJob {
  state: string;
  error_code?: string;
  error_message?: string;
}

async function finished(jobId: string): Promise<RestJob> {
  return waitFor(
    `job ${jobId}`,
    async () => {
      const j = (await A.get(`/api/v1/tda/jobs/${jobId}`)).json.job as RestJob;
      return /COMPLETED|FAILED|CANCELLED/.test(j.state) ? j : undefined;
    },
    240_000,
    500,
  );
}

async function estimate(datasetId: string, params: Record<string, unknown>) {
  const r = await A.post("/api/v1/tda/estimate", { dataset_id: datasetId, params: { algorithm: "ALGORITHM_RIPS", ...params } });
  expect(r.status).toBe(200);
  return { memory: Number(r.json.memory_bytes), admissible: Boolean(r.json.admissible) };
}

test("a 12,000-point torus, H2, threshold 0.15 (refused as 4.6 GiB before) is admitted and equals Debian ripser", async () => {
  const csv = cloudCsv(torus(12_000, 20261205));
  const id = await upload("torus12k.csv", csv);
  const est = await estimate(id, { max_dim: 2, threshold: 0.15 });
  expect(est.admissible).toBe(true);
  expect(est.memory).toBeLessThan(512 * 2 ** 20);

  const sub = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: id, max_dim: 2, threshold: 0.15 });
  expect(sub.status).toBe(200);
  const job = await finished(sub.json.job.job_id);
  expect([job.state, job.error_code ?? ""]).toEqual(["JOB_STATE_COMPLETED", ""]);

  const res = await A.get(`/api/v1/tda/results/${sub.json.job.job_id}`);
  const diagrams = (res.json.result.diagrams as { dimension: number; intervals: { birth: number; death: number | string }[] }[]).map((d) => ({
    dimension: d.dimension,
    intervals: d.intervals.map((i) => ({ birth: Number(i.birth ?? 0), death: i.death === "Infinity" ? Infinity : Number(i.death ?? 0) })),
  }));
  const file = join(dir, "torus12k.csv");
  writeFileSync(file, csv);
  const ref = runRipser(["--format", "point-cloud", "--dim", "2", "--threshold", "0.15", file]);
  const got = barcodeOf(diagrams);
  expect(got.get(1)!.length).toBeGreaterThan(0);
  expect(got).toEqual(ref);
});

test("1500 points in R^8, max_dim 3: a threshold of 1e30 is refused like no threshold (MEMORY_LIMIT_EXCEEDED)", async () => {
  const u = rng(8);
  const id = await upload("r8.csv", cloudCsv(Array.from({ length: 1500 }, () => Array.from({ length: 8 }, () => u()))));
  const none = await estimate(id, { max_dim: 3 });
  const huge = await estimate(id, { max_dim: 3, threshold: 1e30 });
  expect([none.admissible, huge.admissible]).toEqual([false, false]);
  expect(huge.memory).toBeGreaterThan(LIMIT);
  expect(huge.memory).toBeGreaterThan(0.8 * none.memory);

  for (const params of [{ max_dim: 3, threshold: 1e30 }, { max_dim: 3 }]) {
    const sub = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: id, ...params });
    expect(sub.status).toBe(200);
    const job = await finished(sub.json.job.job_id);
    expect([job.state, job.error_code]).toEqual(["JOB_STATE_FAILED", "MEMORY_LIMIT_EXCEEDED"]);
  }
});
