import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { pbJobs, pbUpload } from "@tda/common";
import { startMesh, ROOT, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, md, uploadBytes, watchJob, type Gateway } from "../helpers/client";
import { annotatedPaths, ndjson, restCall, restClient } from "../helpers/rest";
import { parseExposition, sumOf } from "../helpers/prom-text";
import { makeTestKeys, signToken, trustedPem } from "../helpers/jwt";

// The REST surface (tda-rest, grpc-gateway) in front of the real mesh, driven
// with plain HTTP: every route, error mapping, NDJSON watch, tenants, JWTs,
// pictures and the Prometheus endpoints of every TS service.

jest.setTimeout(180_000);

const KEY_A = "key-a-0123456789";
const KEY_B = "key-b-0123456789";
const KEY_C = "key-c-0123456789"; // spends its rate budget in the 429 test
const RATE_LIMIT = 12;
const ISSUER = "https://issuer.tda-mesh.test";
const keys = makeTestKeys();

let mesh: Mesh;
let gw: Gateway;
let A: ReturnType<typeof restClient>;
let B: ReturnType<typeof restClient>;

/** 40 points on a circle of radius 1 plus a little deterministic jitter: one long H1 bar. */
function circleCsv(n = 40): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const r = 1 + 0.01 * Math.sin(7 * i);
    rows.push(`${(r * Math.cos(t)).toFixed(6)},${(r * Math.sin(t)).toFixed(6)}`);
  }
  return rows.join("\n") + "\n";
}

beforeAll(async () => {
  mesh = await startMesh({
    redisDb: 11,
    rest: true,
    gatewayEnv: {
      GATEWAY_API_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b,${KEY_C}:tenant-c`,
      GATEWAY_JWT_PUBLIC_KEYS: trustedPem(keys),
      GATEWAY_JWT_ISSUER: ISSUER,
      GATEWAY_RATE_LIMIT: String(RATE_LIMIT),
      GATEWAY_RATE_WINDOW_MS: "600000",
    },
  });
  gw = gatewayClient(mesh.gateway);
  A = restClient(mesh.rest!, { key: KEY_A });
  B = restClient(mesh.rest!, { key: KEY_B });
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
});

// Shared across the tests below (they run in order).
let datasetId = "";
let jobId = "";

test("upload a CSV through the streamed file endpoint, then GET and list the dataset", async () => {
  const up = await A.upload("/api/v1/data/upload/file?name=circle.csv&format=csv", circleCsv(), "text/csv");
  expect(up.status).toBe(200);
  expect(up.json.dataset.n).toBe("40");
  expect(up.json.dataset.dim).toBe(2);
  datasetId = up.json.dataset.dataset_id;
  expect(datasetId).not.toBe("");

  const got = await A.get(`/api/v1/data/${encodeURIComponent(datasetId)}`);
  expect(got.status).toBe(200);
  expect(got.json.dataset.dataset_id).toBe(datasetId);
  expect(got.json.dataset.format).toBe("DATA_FORMAT_CSV");

  const list = await A.get("/api/v1/data?page_size=100");
  expect(list.status).toBe(200);
  expect(list.json.datasets.map((d: { dataset_id: string }) => d.dataset_id)).toContain(datasetId);
});

test("compute Vietoris-Rips, watch it as NDJSON, GET the job and its result (same as over gRPC)", async () => {
  const sub = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 1 });
  expect(sub.status).toBe(200);
  jobId = sub.json.job.job_id;
  expect(jobId).not.toBe("");

  const watch = await ndjson(`${mesh.rest}/api/v1/tda/jobs/${jobId}/watch`, { "x-api-key": KEY_A });
  expect(watch.status).toBe(200);
  expect(watch.lines.length).toBeGreaterThan(0);
  const states = (watch.lines as { result: { update: { state: string } } }[]).map((l) => l.result.update.state);
  expect(states.at(-1)).toBe("JOB_STATE_COMPLETED");

  const job = await A.get(`/api/v1/tda/jobs/${jobId}`);
  expect(job.status).toBe(200);
  expect(job.json.job.state).toBe("JOB_STATE_COMPLETED");
  const jobs = await A.get("/api/v1/tda/jobs?page_size=50");
  expect(jobs.json.jobs.map((j: { job_id: string }) => j.job_id)).toContain(jobId);

  const res = await A.get(`/api/v1/tda/results/${jobId}`);
  expect(res.status).toBe(200);
  const viaGrpc = await api(gw).getResult({ jobId }, md(KEY_A));
  const restBars = (res.json.result.diagrams as { dimension: number; intervals: { birth: number; death: number | string }[] }[]).map((d) => ({
    dimension: d.dimension,
    intervals: d.intervals.map((i) => [i.birth, i.death === "Infinity" ? Infinity : Number(i.death)]),
  }));
  const grpcBars = viaGrpc.result!.diagrams.map((d) => ({ dimension: d.dimension, intervals: d.intervals.map((i) => [i.birth, i.death]) }));
  expect(restBars).toEqual(grpcBars);
  // A circle: one essential H0 class and one long H1 bar.
  const h1 = grpcBars.find((d) => d.dimension === 1)!;
  expect(h1.intervals.some(([b, d]) => d! - b! > 0.5)).toBe(true);
});

test("the result as SVG persistence diagram and barcode", async () => {
  const viaGrpc = await api(gw).getResult({ jobId }, md(KEY_A));
  const total = viaGrpc.result!.diagrams.reduce((n, d) => n + d.intervals.length, 0);
  const diagram = await A.get(`/api/v1/tda/results/${jobId}/diagram.svg?width=400`);
  expect(diagram.status).toBe(200);
  expect(diagram.headers.get("content-type")).toBe("image/svg+xml");
  expect(diagram.text).toMatch(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="400" height="400"/);
  expect(diagram.text.match(/<circle /g)).toHaveLength(total);
  const barcode = await A.get(`/api/v1/tda/results/${jobId}/barcode.svg`);
  expect(barcode.status).toBe(200);
  expect(barcode.headers.get("content-type")).toBe("image/svg+xml");
  expect(barcode.text.match(/<rect x=/g)?.length).toBe(total + 1); // + background
  // Too large a picture is a 400 naming the field.
  const big = await A.get(`/api/v1/tda/results/${jobId}/diagram.svg?width=100000`);
  expect(big.status).toBe(400);
  expect(JSON.stringify(big.json.details)).toContain("width");
});

test("alpha complex, cancel and delete over REST", async () => {
  const sub = await A.post("/api/v1/tda/compute/alpha-complex", { dataset_id: datasetId, max_dim: 1 });
  expect(sub.status).toBe(200);
  const id = sub.json.job.job_id;
  const cancel = await A.post(`/api/v1/tda/jobs/${id}/cancel`, {});
  // Either it was still cancellable, or it had already finished (FAILED_PRECONDITION → 400).
  expect([200, 400]).toContain(cancel.status);
  const up = await A.upload("/api/v1/data/upload/file?name=tmp.csv&format=csv", "0,0\n1,0\n0,1\n", "text/csv");
  expect(up.status).toBe(200);
  const del = await A.del(`/api/v1/data/${up.json.dataset.dataset_id}`);
  expect(del.status).toBe(200);
  expect((await A.get(`/api/v1/data/${up.json.dataset.dataset_id}`)).status).toBe(404);
});

test("stream publish and status", async () => {
  const pub = await A.post("/api/v1/stream/publish", { stream_id: "rest-s1", dim: 2, values: [0, 0, 1, 1, 2, 2] });
  expect(pub.status).toBe(200);
  expect(pub.json.points).toBe("3");
  const st = await A.get("/api/v1/stream/status?stream_id=rest-s1");
  expect(st.status).toBe(200);
  expect(Number(st.json.events_published)).toBe(1);
  expect(Number(st.json.points_published)).toBe(3);
  expect(st.json.topic).toBe("tda_events");
});

test("error mapping: 400 with field violations, 401, 404, 429 with Retry-After", async () => {
  const bad = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 99 });
  expect(bad.status).toBe(400);
  expect(bad.json.code).toBe(3);
  expect(JSON.stringify(bad.json.details)).toContain("max_dim");

  const unknownField = await A.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, maxdimension: 1 });
  expect(unknownField.status).toBe(400);

  const anon = await restCall(mesh.rest!, "GET", `/api/v1/tda/jobs/${jobId}`);
  expect(anon.status).toBe(401);
  expect(anon.headers.get("www-authenticate")).toMatch(/Bearer/);
  expect((await restCall(mesh.rest!, "GET", "/api/v1/data", { key: "not-a-key" })).status).toBe(401);

  expect((await A.get("/api/v1/tda/jobs/no-such-job")).status).toBe(404);
  expect((await A.get("/api/v1/tda/results/no-such-job")).status).toBe(404);
  expect((await A.get("/api/v1/data/no-such-dataset")).status).toBe(404);
  expect((await A.get("/api/v1/no/such/route")).status).toBe(404);

  const C = restClient(mesh.rest!, { key: KEY_C });
  let refused: Awaited<ReturnType<typeof C.post>> | undefined;
  // Up to two windows' worth, in case a fixed window happens to roll over mid-loop.
  for (let i = 0; i <= 2 * RATE_LIMIT + 1 && !refused; i++) {
    const r = await C.post("/api/v1/stream/publish", { stream_id: "rest-quota", dim: 1, values: [i] });
    if (r.status !== 200) refused = r;
  }
  expect(refused?.status).toBe(429);
  expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(JSON.stringify(refused!.json.details)).toContain("RATE_LIMITED");
  // Other tenants are not affected by tenant-c's quota.
  expect((await A.post("/api/v1/stream/publish", { stream_id: "rest-s2", dim: 1, values: [1] })).status).toBe(200);
});

test("tenant isolation: tenant B sees none of tenant A's datasets, jobs or results (REST and gRPC)", async () => {
  for (const path of [
    `/api/v1/data/${datasetId}`,
    `/api/v1/tda/jobs/${jobId}`,
    `/api/v1/tda/results/${jobId}`,
    `/api/v1/tda/results/${jobId}/diagram.svg`,
    `/api/v1/tda/results/${jobId}/barcode.svg`,
  ]) {
    const r = await B.get(path);
    expect({ path, status: r.status }).toEqual({ path, status: 404 });
  }
  const listB = await B.get("/api/v1/data?page_size=1000");
  expect(listB.json.datasets.map((d: { dataset_id: string }) => d.dataset_id)).not.toContain(datasetId);
  const jobsB = await B.get("/api/v1/tda/jobs?page_size=1000");
  expect(jobsB.json.jobs.map((j: { job_id: string }) => j.job_id)).not.toContain(jobId);
  // Nor can B compute on A's dataset: to B it does not exist.
  const foreign = await B.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: datasetId, max_dim: 1 });
  expect(foreign.status).toBe(404);
  expect(JSON.stringify(foreign.json)).toMatch(/not found/);

  const b = api(gw);
  for (const call of [() => b.getDataset({ dataId: datasetId }, md(KEY_B)), () => b.getJob({ jobId }, md(KEY_B)), () => b.getResult({ jobId }, md(KEY_B))]) {
    const err = (await call().catch((e: ServiceError) => e)) as ServiceError;
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
  }
  // ...while A still sees them.
  expect((await api(gw).getJob({ jobId }, md(KEY_A))).job?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
});

test("JWTs: a valid token acts as its tenant; expired or wrongly signed → 401 / UNAUTHENTICATED", async () => {
  const good = await signToken(keys, { issuer: ISSUER, claims: { tenant: "tenant-a" } });
  const asA = restClient(mesh.rest!, { bearer: good });
  expect((await asA.get(`/api/v1/tda/jobs/${jobId}`)).status).toBe(200);
  const es = await signToken(keys, { issuer: ISSUER, alg: "ES256", claims: { tenant: "tenant-b" } });
  expect((await restClient(mesh.rest!, { bearer: es }).get(`/api/v1/tda/jobs/${jobId}`)).status).toBe(404); // tenant-b: not its job

  const expired = await signToken(keys, { issuer: ISSUER, claims: { tenant: "tenant-a" }, expiresIn: -120 });
  const forged = await signToken(keys, { issuer: ISSUER, claims: { tenant: "tenant-a" }, key: keys.stranger.privateKey });
  const wrongIssuer = await signToken(keys, { issuer: "https://elsewhere.test", claims: { tenant: "tenant-a" } });
  for (const [token, why] of [
    [expired, /expired/],
    [forged, /signature/],
    [wrongIssuer, /iss/],
  ] as const) {
    const r = await restClient(mesh.rest!, { bearer: token }).get(`/api/v1/tda/jobs/${jobId}`);
    expect(r.status).toBe(401);
    expect(r.json.message).toMatch(why);
    const m = md();
    m.set("authorization", `Bearer ${token}`);
    const err = (await api(gw)
      .getJob({ jobId }, m)
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
  }
});

test("/health asks the gateway only, which reports its own dependencies", async () => {
  const h = await restCall(mesh.rest!, "GET", "/health");
  expect(h.status).toBe(200);
  expect(h.json.status).toBe("SERVING");
  // the edge knows the gateway; the gateway names what it depends on (no engine: that is the scheduler's)
  expect(Object.keys(h.json.services)).toEqual(["gateway"]);
  expect(Object.keys(h.json.dependencies).sort()).toEqual(expect.arrayContaining(["redis", "scheduler", "upload"]));
  expect(Object.values(h.json.dependencies).every((s) => s === "SERVING")).toBe(true);
  expect(Object.keys(h.json.dependencies).some((n) => n.startsWith("engine"))).toBe(false);
});

test("the OpenAPI document parses and lists every annotated route", async () => {
  const doc = await restCall(mesh.rest!, "GET", "/openapi.json");
  expect(doc.status).toBe(200);
  const spec = JSON.parse(doc.text) as { paths: Record<string, Record<string, unknown>> };
  const routes = annotatedPaths(readFileSync(join(ROOT, "proto/tda/gateway/v1/gateway.proto"), "utf8"));
  expect(routes.length).toBeGreaterThanOrEqual(15);
  for (const r of routes) {
    expect({ route: `${r.method} ${r.path}`, present: Boolean(spec.paths[r.path]?.[r.method]) }).toEqual({ route: `${r.method} ${r.path}`, present: true });
  }
  expect(spec.paths["/api/v1/data/upload/file"]?.post).toBeDefined();
});

async function scrape(url: string): Promise<{ text: string; contentType: string | null }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return { text: await res.text(), contentType: res.headers.get("content-type") };
}

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); install Debian's prometheus package (scripts/bootstrap.sh)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("/metrics of gateway, upload, scheduler and the REST proxy follow the text format and count what happened", async () => {
  const [g, u, s, r] = await Promise.all([
    scrape(mesh.metrics.gateway),
    scrape(mesh.metrics.upload),
    scrape(mesh.metrics.scheduler),
    scrape(`${mesh.rest}/metrics`),
  ]);
  for (const x of [g, u, s, r]) {
    expect(x.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    parseExposition(x.text); // throws on any format error
    const check = promtool(x.text);
    // promtool exits 0 when the text parses; lint remarks (e.g. on Go runtime metric names) come with status 3.
    expect(check.out).not.toMatch(/error while linting|parse error|text format parsing error/i);
  }
  const ge = parseExposition(g.text);
  expect(sumOf(ge, "tda_grpc_server_requests_total", { method: "tda.gateway.v1.TdaService/ComputeVietorisRips", code: "OK" })).toBeGreaterThanOrEqual(1);
  expect(sumOf(ge, "tda_grpc_server_requests_total", { method: "tda.gateway.v1.TdaService/GetJob", code: "NOT_FOUND" })).toBeGreaterThanOrEqual(1);
  expect(sumOf(ge, "tda_grpc_server_requests_total", { method: "tda.gateway.v1.TdaService/PublishStream", code: "RESOURCE_EXHAUSTED" })).toBeGreaterThanOrEqual(
    1,
  );
  expect(sumOf(ge, "tda_grpc_server_request_duration_seconds_count", { method: "tda.gateway.v1.TdaService/GetResult" })).toBeGreaterThanOrEqual(1);
  expect(ge.types.get("tda_grpc_server_request_duration_seconds")).toBe("histogram");

  const ue = parseExposition(u.text);
  expect(sumOf(ue, "tda_upload_bytes_total")).toBeGreaterThanOrEqual(circleCsv().length);
  expect(sumOf(ue, "tda_grpc_server_requests_total", { method: "tda.upload.v1.UploadService/Upload" })).toBeGreaterThanOrEqual(2);

  const se = parseExposition(s.text);
  expect(sumOf(se, "tda_jobs_total", { event: "submitted", algorithm: "rips" })).toBeGreaterThanOrEqual(1);
  expect(sumOf(se, "tda_jobs_total", { event: "completed", algorithm: "rips" })).toBeGreaterThanOrEqual(1);
  expect(sumOf(se, "tda_job_duration_seconds_count", { algorithm: "rips", outcome: "completed" })).toBeGreaterThanOrEqual(1);
  expect(se.samples.some((x) => x.name === "tda_scheduler_queue_jobs" && x.labels.state === "waiting")).toBe(true);
  expect(se.types.get("tda_kafka_produce_errors_total")).toBe("counter");

  const re = parseExposition(r.text);
  expect(sumOf(re, "tda_rest_requests_total")).toBeGreaterThan(10);
});

test("the Python example client submits a job through the gateway and reads its result", () => {
  const file = join(mesh.dataDir, "..", "circle-py.csv");
  require("node:fs").writeFileSync(file, circleCsv(30));
  const r = spawnSync(
    "/usr/bin/python3",
    [join(ROOT, "examples/python-client/client.py"), file, "--gateway", mesh.gateway, "--api-key", KEY_A, "--max-dim", "1"],
    {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  expect({ status: r.status, out }).toEqual({ status: 0, out: expect.stringContaining("Betti numbers: b0 = 1") });
  expect(out).toMatch(/persistence intervals in dim 1:/);
});

test("a gRPC upload is visible over REST and vice versa (same tenant)", async () => {
  const up = await uploadBytes(gw, "tri.csv", pbUpload.DataFormat.DATA_FORMAT_CSV, Buffer.from("0,0\n2,0\n0,2\n"), { meta: md(KEY_A) });
  const got = await A.get(`/api/v1/data/${up.dataset!.datasetId}`);
  expect(got.status).toBe(200);
  expect(got.json.dataset.n).toBe("3");
  const updates = await watchJob(gw, jobId, md(KEY_A));
  expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
});
