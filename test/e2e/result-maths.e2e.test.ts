import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { channelOptions, decodeDetails, insecure, pbCommon, pbEngine, pbGateway, pbUpload } from "@tda/common";
import { startMesh, ROOT, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, md, uploadBytes, type Gateway } from "../helpers/client";
import { restClient } from "../helpers/rest";
import { referenceDistances, referenceVectorize, type Bars, type RefDistance } from "../helpers/gudhi";
import { JobState } from "../helpers/jobs";

// The engine's maths on job results, end to end through the gateway (gRPC)
// and the REST proxy, against GUDHI 3.13 run here on the same diagrams:
// DiagramDistance (bottleneck_distance e=0, hera and POT Wasserstein) and
// GetFeatures (gudhi.representations: BettiCurve, Landscape, PersistenceImage,
// Entropy; amplitudes as distances to the empty diagram).

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

function features(req: Partial<pbGateway.GetFeaturesRequest>, key = KEY_A): Promise<pbGateway.GetFeaturesResponse> {
  const full = pbGateway.GetFeaturesRequest.fromPartial(req);
  return new Promise((resolve, reject) => gw.getFeatures(full, md(key), (err, res) => (err ? reject(err) : resolve(res!))));
}

function expectClose(got: number[], want: number[], what: string): void {
  expect({ what, n: got.length }).toEqual({ what, n: want.length });
  const scale = Math.max(1, ...want.map(Math.abs));
  const worst = Math.max(0, ...got.map((g, i) => Math.abs(g - want[i])));
  expect({ what, worst: worst <= 1e-12 * scale }).toEqual({ what, worst: true });
}

const finite = (b: Bars): Bars => b.filter(([x, y]) => Number.isFinite(y) && y > x);

test("GET …/features: Betti curves and landscapes over REST equal GUDHI's on the caller's grid and on the default one", async () => {
  const r = results[0];
  const betti = await A.get(`/api/v1/tda/results/${jobs[0]}/features?kind=FEATURE_KIND_BETTI_CURVE&range_min=0&range_max=1.5&resolution=40`);
  expect(betti.status).toBe(200);
  expect(betti.json.result.vectors.map((v: { dimension: number }) => v.dimension)).toEqual([0, 1]);
  const refB = referenceVectorize([0, 1].map((d) => ({ kind: "betti" as const, bars: bars(r, d), lo: 0, hi: 1.5, resolution: 40 })));
  for (const d of [0, 1]) expect(betti.json.result.vectors[d].values.map(Number)).toEqual(refB[d]);

  // no range: the smallest birth and largest finite death of the finite bars
  const land = await A.get(`/api/v1/tda/results/${jobs[0]}/features?kind=FEATURE_KIND_LANDSCAPE&layers=3&resolution=60&dimensions=1`);
  expect(land.status).toBe(200);
  const v = land.json.result.vectors[0];
  expect([v.dimension, v.rows, v.cols]).toEqual([1, 3, 60]);
  const f = finite(bars(r, 1));
  const lo = Math.min(...f.map((b) => b[0]));
  const hi = Math.max(...f.map((b) => b[1]));
  expect([Number(v.grid[0]), Number(v.grid[59])]).toEqual([lo, hi]);
  const [refL] = referenceVectorize([{ kind: "landscape", bars: f, lo, hi, resolution: 60, layers: 3 }]);
  expectClose(v.values.map(Number), refL, "landscape H1");
});

test("GetFeatures over gRPC: persistence images, entropy and amplitudes equal GUDHI's", async () => {
  const r = results[1];
  const K = pbCommon.FeatureKind;
  const img = await features({
    jobId: jobs[1],
    kind: K.FEATURE_KIND_PERSISTENCE_IMAGE,
    resolution: 12,
    bandwidth: 0.05,
    weight: pbCommon.ImageWeight.IMAGE_WEIGHT_PERSISTENCE_POWER,
    weightPower: 2,
    rangeMin: 0,
    rangeMax: 1.2,
    persistenceMin: 0,
    persistenceMax: 0.8,
  });
  const refI = referenceVectorize(
    [0, 1].map((d) => ({ kind: "image" as const, bars: finite(bars(r, d)), lo: 0, hi: 1.2, ylo: 0, yhi: 0.8, resolution: 12, bandwidth: 0.05, power: 2 })),
  );
  for (const d of [0, 1]) expectClose(img.result!.vectors[d].values, refI[d], `image H${d}`);

  const ent = await features({ jobId: jobs[1], kind: K.FEATURE_KIND_ENTROPY });
  const amp = await features({ jobId: jobs[1], kind: K.FEATURE_KIND_AMPLITUDES, order: 2, internalP: 2 });
  expect(amp.result!.vectors[0].names).toEqual(["total_persistence", "bottleneck", "wasserstein"]);
  const ref = referenceVectorize(
    [0, 1].flatMap((d) => [
      { kind: "entropy" as const, bars: bars(r, d) },
      { kind: "amplitudes" as const, bars: bars(r, d), order: 2, internalP: 2 },
    ]),
  );
  for (const d of [0, 1]) {
    expectClose(ent.result!.vectors[d].values, ref[2 * d], `entropy H${d}`);
    expectClose(amp.result!.vectors[d].values, ref[2 * d + 1], `amplitudes H${d}`);
  }
});

test("GetFeatures refuses sizes past the engine's bounds before any work, naming the field", async () => {
  const big = await A.get(`/api/v1/tda/results/${jobs[0]}/features?kind=FEATURE_KIND_PERSISTENCE_IMAGE&resolution=100000`);
  expect(big.status).toBe(400);
  const layers = await A.get(`/api/v1/tda/results/${jobs[0]}/features?kind=FEATURE_KIND_LANDSCAPE&layers=100000`);
  expect(layers.status).toBe(400);
  const none = await A.get(`/api/v1/tda/results/${jobs[0]}/features`);
  expect(none.status).toBe(400);
  const fields = [big, layers, none].map((x) =>
    (x.json.details as { field_violations?: { field: string }[] }[]).flatMap((d) => d.field_violations ?? []).map((v) => v.field),
  );
  expect(fields).toEqual([["resolution"], ["layers"], ["kind"]]);
  const other = await B.get(`/api/v1/tda/results/${jobs[0]}/features?kind=FEATURE_KIND_ENTROPY`);
  expect(other.status).toBe(404);
  // the largest side is served (512 x 512 pixels per dimension)
  await expect(features({ jobId: jobs[0], kind: pbCommon.FeatureKind.FEATURE_KIND_PERSISTENCE_IMAGE, resolution: 512 })).resolves.toBeDefined();
});

test("the engine itself refuses declared sizes past its bounds (INVALID_ARGUMENT naming the field) and publishes them", async () => {
  const engine = new pbEngine.EngineServiceClient(mesh.engines[0], insecure(), channelOptions);
  try {
    const call = <Req, Res>(fn: (req: Req, md: Metadata, cb: (err: ServiceError | null, res?: Res) => void) => unknown, req: Req): Promise<Res> =>
      new Promise((resolve, reject) => fn.call(engine, req, new Metadata(), (err, res) => (err ? reject(err) : resolve(res!))));
    const info = await call<pbEngine.GetInfoRequest, pbEngine.GetInfoResponse>(engine.getInfo, {});
    const lim = info.limits!;
    expect([lim.wassersteinMaxBars, lim.vectorizeMaxResolution, lim.vectorizeMaxLayers]).toEqual([2000, 10000, 100]);
    const many = Array.from({ length: lim.wassersteinMaxBars + 1 }, (_, i) => ({ birth: i, death: i + 0.5 }));
    const fieldsOf = (err: unknown) => decodeDetails(err as ServiceError).badRequest?.fieldViolations.map((v) => v.field) ?? [];
    const tooMany = await call(engine.diagramDistance, pbEngine.DiagramDistanceRequest.fromPartial({ a: [{ dimension: 0, intervals: many }], b: [] })).catch(
      (e: unknown) => e,
    );
    expect((tooMany as ServiceError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(fieldsOf(tooMany)).toEqual(["a[0].intervals"]);
    // the bottleneck distance alone takes them
    const ok = await call<pbEngine.DiagramDistanceRequest, pbEngine.DiagramDistanceResponse>(
      engine.diagramDistance,
      pbEngine.DiagramDistanceRequest.fromPartial({ a: [{ dimension: 0, intervals: many }], b: [], params: { skipWasserstein: true } }),
    );
    expect(ok.result!.bottleneck).toBe(0.25);
    const K = pbCommon.FeatureKind;
    const wide = await call(
      engine.vectorize,
      pbEngine.VectorizeRequest.fromPartial({ diagrams: [], params: { kind: K.FEATURE_KIND_BETTI_CURVE, resolution: lim.vectorizeMaxResolution + 1 } }),
    ).catch((e: unknown) => e);
    expect(fieldsOf(wide)).toEqual(["params.resolution"]);
    const heavy = await call(
      engine.vectorize,
      pbEngine.VectorizeRequest.fromPartial({
        diagrams: [{ dimension: 0, intervals: many }],
        params: { kind: K.FEATURE_KIND_PERSISTENCE_IMAGE, resolution: 512 },
      }),
    ).catch((e: unknown) => e);
    expect(fieldsOf(heavy)).toEqual(["params.resolution"]);
    const bad = await call(
      engine.vectorize,
      pbEngine.VectorizeRequest.fromPartial({ diagrams: [{ dimension: 0, intervals: [{ birth: 2, death: 1 }] }], params: { kind: K.FEATURE_KIND_ENTROPY } }),
    ).catch((e: unknown) => e);
    expect(fieldsOf(bad)).toEqual(["diagrams[0].intervals[0]"]);
  } finally {
    engine.close();
  }
});
