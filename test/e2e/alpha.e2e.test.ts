import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pbJobs, pbUpload } from "@tda/common";
import { startMesh, ENGINE_BIN, FIXTURES, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, uploadFile, watchJob, type Gateway } from "../helpers/client";

// An Alpha job submitted through the gateway on an uploaded cloud returns the
// same diagram as the engine's command line on the same file.

jest.setTimeout(180_000);

let mesh: Mesh;
let gw: Gateway;

beforeAll(async () => {
  mesh = await startMesh({ redisDb: 8 });
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
});

type Bars = Map<number, [number, number][]>;

function cliBars(file: string, extra: string[] = []): Bars {
  const out = execFileSync(ENGINE_BIN, ["--algorithm", "alpha", "--format", "point-cloud", ...extra, file], { encoding: "utf8" });
  const bars: Bars = new Map();
  let dim = -1;
  for (const line of out.split("\n")) {
    const h = /^persistence intervals in dim (\d+):/.exec(line);
    if (h) {
      dim = Number(h[1]);
      bars.set(dim, []);
      continue;
    }
    const b = /^\s*\[([^,]+),\s*([^)]*)\)/.exec(line);
    if (b && dim >= 0) bars.get(dim)!.push([Number(b[1]), b[2]!.trim() === "" ? Infinity : Number(b[2])]);
  }
  return bars;
}

function sorted(bars: [number, number][]): [number, number][] {
  return [...bars].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function expectSameBars(ours: [number, number][], ref: [number, number][]): void {
  expect(ours.length).toBe(ref.length);
  const a = sorted(ours);
  const b = sorted(ref);
  for (let i = 0; i < a.length; i++) {
    for (const k of [0, 1]) {
      const x = a[i]![k]!;
      const y = b[i]![k]!;
      if (!Number.isFinite(y)) expect(x).toBe(y);
      else expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(y)));
    }
  }
}

test.each([
  ["squared radii", false],
  ["radii", true],
])("tore3D_300 Alpha through the gateway equals the CLI (%s)", async (_label, radius) => {
  const file = join(FIXTURES, "tore3D_300.off");
  const up = await uploadFile(gw, file, pbUpload.DataFormat.DATA_FORMAT_OFF);
  expect(up.dataset?.n).toBe(300);
  expect(up.dataset?.dim).toBe(3);

  const submitted = await api(gw).computeAlphaComplex({
    datasetId: up.dataset!.datasetId,
    maxDim: 2,
    radius,
    priority: 0,
    idempotencyKey: "",
    deadlineSeconds: 0,
  });
  const updates = await watchJob(gw, submitted.job!.jobId);
  expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
  const res = await api(gw).getResult({ jobId: submitted.job!.jobId });

  const ref = cliBars(file, radius ? ["--radius"] : []);
  expect([...ref.keys()].sort()).toEqual([0, 1, 2]);
  for (const d of [0, 1, 2]) {
    const diagram = res.result!.diagrams.find((x) => x.dimension === d);
    const ours = (diagram?.intervals ?? []).map((i) => [i.birth, i.death] as [number, number]).filter(([b, e]) => !(Number.isFinite(e) && e === b));
    expectSameBars(
      ours,
      ref.get(d)!.filter(([b, e]) => !(Number.isFinite(e) && e === b)),
    );
  }
  // the full alpha complex is the Delaunay triangulation of a convex hull: contractible
  expect(res.result!.bettiNumbers.slice(0, 3)).toEqual([1, 0, 0]);
});
