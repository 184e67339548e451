import { setTimeout as sleep } from "node:timers/promises";
import IORedis from "ioredis";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { channelOptions, decodeDetails, insecure, mintTenantToken, pbJobs, pbUpload } from "@tda/common";
import { startMesh, procOf, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, md, uploadBytes, watchJob, type Gateway } from "../helpers/client";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-redis";

// A hostile tenant against the real mesh: a header that declares sizes far
// past the limits is refused before the service sizes anything by it (and the
// upload service is still there afterwards); nothing tells one tenant what
// another stored or ran.

const KEY_A = "hostile-key-a-0123456789";
const KEY_B = "hostile-key-b-0123456789";

jest.setTimeout(120_000);

let redis: PrivateRedis;
let mesh: Mesh;
let gw: Gateway;

beforeAll(async () => {
  redis = await startPrivateRedis();
  mesh = await startMesh({
    redisUrl: redis.url,
    gatewayEnv: { GATEWAY_API_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b` },
    // one worker slot, so that a job can be held queued behind a stopped engine
    schedulerEnv: { SCHEDULER_CONCURRENCY: "1" },
  });
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
  await redis?.stop();
});

/** A version-1 .npy header for `shape` (padded to 64 bytes as NumPy does) followed by `body`. */
function npy(descr: string, shape: number[], body = Buffer.alloc(0)): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  dict += " ".repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + "\n";
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, "latin1"), body]);
}

async function refusal(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the upload to be refused");
}

const F = pbUpload.DataFormat;

test("a 128-byte .npy declaring shape (1, 4294967295) is refused as INVALID_ARGUMENT and the upload service lives on", async () => {
  const file = npy("<f8", [1, 4294967295]);
  expect(file.length).toBe(128);
  const err = await refusal(uploadBytes(gw, "wide.npy", F.DATA_FORMAT_AUTO, file, { meta: md(KEY_A) }));
  expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  expect(decodeDetails(err).errorInfo?.reason).toBe("UPLOAD_DIM_TOO_LARGE");
  expect(err.details).toMatch(/shape \(1, 4294967295\)/);

  // rows past the point limit, PLY and OFF counts: refused from the header too
  const many = await refusal(uploadBytes(gw, "tall.npy", F.DATA_FORMAT_NPY, npy("<f8", [4294967295, 4294967295]), { meta: md(KEY_A) }));
  expect(many.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  const off = await refusal(uploadBytes(gw, "wide.off", F.DATA_FORMAT_OFF, Buffer.from("nOFF\n4294967295\n1 0 0\n"), { meta: md(KEY_A) }));
  expect([off.code, decodeDetails(off).errorInfo?.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, "UPLOAD_DIM_TOO_LARGE"]);

  const upload = procOf(mesh, "upload").child;
  expect([upload.exitCode, upload.signalCode]).toEqual([null, null]);
  const ok = await uploadBytes(gw, "fine.npy", F.DATA_FORMAT_AUTO, npy("<f8", [2, 2], Buffer.from(new Float64Array([0, 0, 1, 1]).buffer)), { meta: md(KEY_A) });
  expect([ok.dataset?.n, ok.dataset?.dim]).toEqual([2, 2]);
});

test("tenant B is not told that tenant A stored the same file, nor handed A's job id on a result-cache hit", async () => {
  const rows: string[] = [];
  for (let i = 0; i < 24; i++) rows.push(`${Math.cos((2 * Math.PI * i) / 24).toFixed(6)},${Math.sin((2 * Math.PI * i) / 24).toFixed(6)},${(i % 3) * 0.01}`);
  const csv = Buffer.from(rows.join("\n") + "\n");
  const a = await uploadBytes(gw, "circle.csv", F.DATA_FORMAT_CSV, csv, { meta: md(KEY_A) });
  const b = await uploadBytes(gw, "circle.csv", F.DATA_FORMAT_CSV, csv, { meta: md(KEY_B) });
  expect(b.dataset?.datasetId).toBe(a.dataset?.datasetId); // one content store...
  expect([a.deduplicated, b.deduplicated]).toEqual([false, false]); // ...but nothing said about it
  const again = await uploadBytes(gw, "circle-again.csv", F.DATA_FORMAT_CSV, csv, { meta: md(KEY_B) });
  expect(again.deduplicated).toBe(true); // B's own earlier copy may be named

  const req = { datasetId: a.dataset!.datasetId, maxDim: 1, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 };
  const jobA = (await api(gw).computeVietorisRips(req, md(KEY_A))).job!.jobId;
  expect((await watchJob(gw, jobA, md(KEY_A))).at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
  const jobB = (await api(gw).computeVietorisRips(req, md(KEY_B))).job!.jobId;
  const updates = await watchJob(gw, jobB, md(KEY_B));
  expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
  const resB = await api(gw).getResult({ jobId: jobB }, md(KEY_B));
  expect(resB.cacheHit).toBe(true);
  const seen = JSON.stringify([updates, await api(gw).getJob({ jobId: jobB }, md(KEY_B)), resB]);
  expect(seen).not.toContain(jobA);
});

test("the gateway refuses, naming the field, a modulus past the engines' published limit, an infinite or NaN threshold and an unbounded priority", async () => {
  const csv = Buffer.from("0,0\n1,0\n0,1\n1,1\n");
  const ds = (await uploadBytes(gw, "square.csv", F.DATA_FORMAT_CSV, csv, { meta: md(KEY_B) })).dataset!.datasetId;
  const base = { datasetId: ds, maxDim: 1, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 };
  const limits = await new Promise<{ maxModulus: number }>((res, rej) => gw.getLimits({}, md(KEY_B), (e, r) => (e ? rej(e) : res(r!))));
  expect(limits.maxModulus).toBe(251); // what the engine publishes (GetInfo EngineLimits)
  const cases: [Partial<typeof base> & { threshold?: number }, string][] = [
    [{ modulus: 257 }, "modulus"],
    [{ modulus: 65521 }, "modulus"],
    [{ threshold: Infinity }, "threshold"],
    [{ threshold: NaN }, "threshold"],
    [{ priority: 2_000_000_000 }, "priority"],
    [{ priority: -2_000_000_000 }, "priority"],
  ];
  for (const [over, field] of cases) {
    const err = await refusal(api(gw).computeVietorisRips({ ...base, ...over }, md(KEY_B)));
    expect([err.code, decodeDetails(err).badRequest?.fieldViolations.map((v) => v.field)]).toEqual([GrpcStatus.INVALID_ARGUMENT, [field]]);
  }
  // at the published limit: accepted and computed
  const ok = (await api(gw).computeVietorisRips({ ...base, modulus: 251, priority: 10 }, md(KEY_B))).job!.jobId;
  expect((await watchJob(gw, ok, md(KEY_B))).at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_COMPLETED);
});

test("upload and scheduler take the tenant only from a token the mesh key signed: a bare x-tenant-id, a forged or an expired token is UNAUTHENTICATED", async () => {
  const ds = (await uploadBytes(gw, "mine.csv", F.DATA_FORMAT_CSV, Buffer.from("0,0\n3,4\n"), { meta: md(KEY_A) })).dataset!.datasetId;
  const upload = new pbUpload.UploadServiceClient(mesh.upload, insecure(), channelOptions);
  const jobs = new pbJobs.JobServiceClient(mesh.scheduler, insecure(), channelOptions);
  const meta = (set: (m: Metadata) => void) => {
    const m = new Metadata();
    set(m);
    return m;
  };
  const asA = {
    bare: meta((m) => m.set("x-tenant-id", "tenant-a")),
    none: meta(() => undefined),
    forged: meta((m) => m.set("x-tenant-token", mintTenantToken("tenant-a", 60, "not-the-mesh-key-0123456789abcdef0123456789"))),
    expired: meta((m) => m.set("x-tenant-token", mintTenantToken("tenant-a", 60, mesh.meshKey, Date.now() - 3_600_000))),
    tampered: meta((m) =>
      m.set("x-tenant-token", mintTenantToken("tenant-b", 60, mesh.meshKey).replace(/^v1\.[^.]+/, `v1.${Buffer.from("tenant-a").toString("base64url")}`)),
    ),
    signed: meta((m) => m.set("x-tenant-token", mintTenantToken("tenant-a", 60, mesh.meshKey))),
  };
  const getDataset = (m: Metadata) => new Promise<unknown>((res, rej) => upload.getDataset({ datasetId: ds }, m, (e, r) => (e ? rej(e) : res(r))));
  const listJobs = (m: Metadata) =>
    new Promise<unknown>((res, rej) => jobs.listJobs({ pageSize: 10, pageToken: "", state: 0 }, m, (e, r) => (e ? rej(e) : res(r))));
  try {
    for (const [name, m] of Object.entries(asA)) {
      if (name === "signed") continue;
      expect([name, (await refusal(getDataset(m))).code]).toEqual([name, GrpcStatus.UNAUTHENTICATED]);
      expect([name, (await refusal(listJobs(m))).code]).toEqual([name, GrpcStatus.UNAUTHENTICATED]);
    }
    // the same calls with a token the mesh key signed: the check is not refusing everything
    expect(((await getDataset(asA.signed)) as pbUpload.GetDatasetResponse).dataset?.datasetId).toBe(ds);
    await listJobs(asA.signed);
    // LookupDatasets (one stream, each lookup naming its tenant): the same check per lookup
    const tokens: Record<string, { tenantToken: string; tenant: string }> = {
      bare: { tenantToken: "", tenant: "tenant-a" },
      none: { tenantToken: "", tenant: "" },
      forged: { tenantToken: asA.forged.get("x-tenant-token")[0] as string, tenant: "" },
      expired: { tenantToken: asA.expired.get("x-tenant-token")[0] as string, tenant: "" },
      tampered: { tenantToken: asA.tampered.get("x-tenant-token")[0] as string, tenant: "" },
      otherTenant: { tenantToken: mintTenantToken("tenant-b", 60, mesh.meshKey), tenant: "" },
      signed: { tenantToken: asA.signed.get("x-tenant-token")[0] as string, tenant: "" },
    };
    const names = Object.keys(tokens);
    const stream = upload.lookupDatasets();
    const replies = new Promise<pbUpload.LookupDatasetsResponse[]>((res, rej) => {
      const got: pbUpload.LookupDatasetsResponse[] = [];
      stream.on("data", (r: pbUpload.LookupDatasetsResponse) => got.push(r));
      stream.on("error", rej);
      stream.on("end", () => res(got));
    });
    names.forEach((name, i) => stream.write({ id: i + 1, datasetId: ds, ...tokens[name]!, traceparent: "" }));
    stream.end();
    const byName = Object.fromEntries((await replies).map((r) => [names[r.id - 1], [r.code, r.dataset?.datasetId ?? ""]]));
    expect(byName).toEqual({
      bare: [GrpcStatus.UNAUTHENTICATED, ""],
      none: [GrpcStatus.UNAUTHENTICATED, ""],
      forged: [GrpcStatus.UNAUTHENTICATED, ""],
      expired: [GrpcStatus.UNAUTHENTICATED, ""],
      tampered: [GrpcStatus.UNAUTHENTICATED, ""],
      otherTenant: [GrpcStatus.NOT_FOUND, ""],
      signed: [GrpcStatus.OK, ds],
    });
  } finally {
    upload.close();
    jobs.close();
  }
});

test("a WatchJob whose pub/sub message was lost while the subscriber reconnected re-reads the job and ends", async () => {
  const redisAdmin = new IORedis(redis.url, { maxRetriesPerRequest: 3 });
  const engine = procOf(mesh, "engine-0").child;
  const csv = Buffer.from(Array.from({ length: 30 }, (_, i) => `${i},${(i * i) % 7},${i % 5}`).join("\n") + "\n");
  const ds = (await uploadBytes(gw, "watch.csv", F.DATA_FORMAT_CSV, csv, { meta: md(KEY_A) })).dataset!.datasetId;
  const submit = (maxDim: number) =>
    api(gw)
      .computeVietorisRips({ datasetId: ds, maxDim, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0 }, md(KEY_A))
      .then((r) => r.job!.jobId);
  engine.kill("SIGSTOP"); // the one worker slot (SCHEDULER_CONCURRENCY=1) hangs on the first job, the second stays queued
  try {
    await submit(1);
    const jobId = await submit(2);
    const updates: pbJobs.JobUpdate[] = [];
    const stream = gw.watchJob({ jobId }, md(KEY_A));
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("data", (r: { update?: pbJobs.JobUpdate }) => r.update && updates.push(r.update));
      stream.on("error", reject);
      stream.on("end", () => resolve());
    });
    for (let i = 0; updates.length === 0; i++) {
      if (i > 100) throw new Error("the watch sent nothing");
      await sleep(100);
    }
    expect((await api(gw).getJob({ jobId }, md(KEY_A))).job?.state).toBe(pbJobs.JobState.JOB_STATE_QUEUED);

    // drop every subscriber connection and keep them out while the job is cancelled:
    // the cancellation's message is published to nobody
    const clients = String(await redisAdmin.call("client", "list"))
      .trim()
      .split("\n").length;
    await redisAdmin.call("config", "set", "maxclients", String(clients)); // no new connection from now on
    try {
      expect(Number(await redisAdmin.call("client", "kill", "type", "pubsub"))).toBeGreaterThan(0);
      const cancelled = await api(gw).cancelJob({ jobId }, md(KEY_A));
      expect(cancelled.job?.state).toBe(pbJobs.JobState.JOB_STATE_CANCELLED);
      await sleep(500);
    } finally {
      await redisAdmin.call("config", "set", "maxclients", "10000");
    }
    const t0 = Date.now();
    await Promise.race([ended, sleep(30_000).then(() => Promise.reject(new Error("the watch never ended after its message was lost")))]);
    expect(updates.at(-1)?.state).toBe(pbJobs.JobState.JOB_STATE_CANCELLED);
    expect(Date.now() - t0).toBeLessThan(30_000);
  } finally {
    engine.kill("SIGCONT");
    redisAdmin.disconnect();
  }
});
