import { readFileSync } from "node:fs";
import { join } from "node:path";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { pbCommon, pbGateway, pbUpload } from "@tda/common";
import { startMesh, ROOT, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, md, uploadBytes, type Gateway } from "../helpers/client";
import { restClient } from "../helpers/rest";
import { referenceDistances, type Bars, type RefDistance } from "../helpers/gudhi";
import { JobState } from "../helpers/jobs";

// DiagramDistance end to end: two fixtures' Rips results compared by the
// engine through the gateway (gRPC) and the REST proxy, against GUDHI 3.13
// (bottleneck_distance e=0, hera Wasserstein) run here on the same diagrams.

jest.setTimeout(240_000);

const KEY_A = "key-a-0123456789";
const KEY_B = "key-b-0123456789";

let mesh: Mesh;
let gw: Gateway;
let A: ReturnType<typeof restClient>;
let B: ReturnType<typeof restClient>;
const jobs: string[] = [];
const results: pbCommon.PersistenceResult[] = [];

function distance(req: Partial<pbGateway.DiagramDistanceRequest>, key = KEY_A): Promise<pbGateway.DiagramDistanceResponse> {
  const full: pbGateway.DiagramDistanceRequest = { jobIdA: "", jobIdB: "", params: undefined, ...req };
  return new Promise((resolve, reject) => gw.diagramDistance(full, md(key), (err, res) => (err ? reject(err) : resolve(res!))));
}

const bars = (r: pbCommon.PersistenceResult, dim: number): Bars =>
  (r.diagrams.find((d) => d.dimension === dim)?.intervals ?? []).map((iv) => [iv.birth, iv.death] as [number, number]);

/** Equal to the exact optimal transport up to rounding; hera's auction at most its relative error above. */
function expectWasserstein(got: number, ref: RefDistance): void {
  expect(Math.abs(got - ref.wassersteinExact)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.wassersteinExact));
  expect(ref.wasserstein).toBeDefined();
  expect(got).toBeLessThanOrEqual(ref.wasserstein! * (1 + 1e-12) + 1e-12);
  expect(ref.wasserstein!).toBeLessThanOrEqual(got * (1 + 1.01e-6) + 1e-12);
}

/** JSON numbers of grpc-gateway: doubles, "Infinity" for +inf. */
const num = (v: number | string | undefined): number => (v === "Infinity" ? Infinity : Number(v));

beforeAll(async () => {
  mesh = await startMesh({ redisDb: 15, rest: true, gatewayEnv: { GATEWAY_API_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b` } });
  gw = gatewayClient(mesh.gateway);
  const fixtures = ["sphere_3_192_points.dat", "random_point_cloud_50_16_.txt"];
  for (const f of fixtures) {
    const up = await uploadBytes(gw, f, pbUpload.DataFormat.DATA_FORMAT_WHITESPACE, readFileSync(join(ROOT, "test/fixtures", f)), { meta: md(KEY_A) });
    const job = await submitRipsAs(up.dataset!.datasetId);
    jobs.push(job);
  }
  const done = await waitTerminalAs(jobs);
  expect(done.map((j) => j.state)).toEqual([JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_COMPLETED]);
  for (const id of jobs) results.push((await api(gw).getResult({ jobId: id }, md(KEY_A))).result!);
  A = restClient(mesh.rest!, { key: KEY_A });
  B = restClient(mesh.rest!, { key: KEY_B });
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
});

async function submitRipsAs(datasetId: string): Promise<string> {
  const res = await api(gw).computeVietorisRips(
    { datasetId, maxDim: 1, threshold: undefined, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 },
    md(KEY_A),
  );
  return res.job!.jobId;
}

async function waitTerminalAs(ids: string[]) {
  const end = Date.now() + 180_000;
  for (;;) {
    const js = await Promise.all(ids.map(async (id) => (await api(gw).getJob({ jobId: id }, md(KEY_A))).job!));
    if (js.every((j) => [JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED].includes(j.state))) return js;
    if (Date.now() > end) throw new Error("jobs did not finish");
    await new Promise((r) => setTimeout(r, 300));
  }
}

test("gRPC DiagramDistance equals GUDHI's bottleneck and hera's Wasserstein per dimension", async () => {
  const [ra, rb] = results;
  const orders = [
    { order: 1, internalP: Infinity },
    { order: 2, internalP: 2 },
  ];
  for (const o of orders) {
    const res = await distance({
      jobIdA: jobs[0],
      jobIdB: jobs[1],
      params: { order: o.order, internalP: o.internalP === Infinity ? 0 : o.internalP, dimensions: [], skipBottleneck: false, skipWasserstein: false },
    });
    expect(res.result!.dimensions.map((d) => d.dimension)).toEqual([0, 1]);
    const ref = referenceDistances([0, 1].map((d) => ({ a: bars(ra, d), b: bars(rb, d), order: o.order, internalP: o.internalP })));
    for (const d of [0, 1]) {
      const got = res.result!.dimensions[d];
      expect(got.barsA).toBe(bars(ra, d).length);
      expect(got.bottleneck).toBe(ref[d].bottleneck);
      expectWasserstein(got.wasserstein!, ref[d]);
    }
    expect(res.result!.bottleneck).toBe(Math.max(ref[0].bottleneck, ref[1].bottleneck));
  }
  // a result against itself: 0
  const self = await distance({ jobIdA: jobs[1], jobIdB: jobs[1] });
  expect(self.result!.bottleneck).toBe(0);
  expect(self.result!.wasserstein).toBe(0);
});

test("POST /api/v1/tda/distance answers the same over REST; Infinity as JSON", async () => {
  const [ra, rb] = results;
  const res = await A.post("/api/v1/tda/distance", { job_id_a: jobs[0], job_id_b: jobs[1], params: { dimensions: [1] } });
  expect(res.status).toBe(200);
  expect(res.json.job_id_a).toBe(jobs[0]);
  const ref = referenceDistances([{ a: bars(ra, 1), b: bars(rb, 1) }]);
  expect(res.json.result.dimensions).toHaveLength(1);
  expect(num(res.json.result.dimensions[0].bottleneck)).toBe(ref[0].bottleneck);
  expectWasserstein(num(res.json.result.dimensions[0].wasserstein), ref[0]);
  // H0 of both has one essential bar; asking for a dimension only one side has bars in is fine
  const h0 = await A.post("/api/v1/tda/distance", { job_id_a: jobs[0], job_id_b: jobs[1], params: { dimensions: [0, 5], skip_wasserstein: true } });
  expect(h0.status).toBe(200);
  expect(h0.json.result.dimensions.map((d: { dimension: number }) => d.dimension)).toEqual([0, 5]);
  expect(h0.json.result.dimensions[0].wasserstein).toBeUndefined();
  expect(num(h0.json.result.dimensions[1].bottleneck)).toBe(0);
});

test("another tenant's job is not found; bad parameters are 400 naming the field", async () => {
  const other = await B.post("/api/v1/tda/distance", { job_id_a: jobs[0], job_id_b: jobs[1] });
  expect(other.status).toBe(404);
  const bad = await A.post("/api/v1/tda/distance", { job_id_a: jobs[0], job_id_b: "", params: { order: 0.5 } });
  expect(bad.status).toBe(400);
  const fields = (bad.json.details as { field_violations?: { field: string }[] }[]).flatMap((d) => d.field_violations ?? []).map((v) => v.field);
  expect(fields).toEqual(expect.arrayContaining(["job_id_b", "params.order"]));
  await expect(distance({ jobIdA: jobs[0], jobIdB: "job_doesnotexist" })).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND } as Partial<ServiceError>);
});
