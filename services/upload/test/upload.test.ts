import path from "node:path";
import { existsSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { pbUpload } from "@tda/common";
import { HealthClient, HealthCheckResponse_ServingStatus } from "@tda/common/dist/gen/grpc/health/v1/health";
import { channelOptions, insecure } from "@tda/common";
import {
  cleanupTenants,
  decodeDetails,
  expectGrpcError,
  filesUnder,
  newTenant,
  outboxEvents,
  readPoints,
  startService,
  tenantMd,
  unary,
  upload,
  useRedis,
  type RedisHandle,
  type ServiceHandle,
} from "./helpers";

const F = pbUpload.DataFormat;
const CSV = "x,y,z\n1,2,3\n4,5,6\n-1,0.5,9\n";
const VALUES = [1, 2, 3, 4, 5, 6, -1, 0.5, 9];

let rh: RedisHandle;
let svc: ServiceHandle;

beforeAll(async () => {
  rh = await useRedis();
  svc = await startService();
});

afterAll(async () => {
  await svc?.stop();
  if (rh) await cleanupTenants(rh.redis);
  await rh?.stop();
});

const blobFiles = () => filesUnder(path.join(svc.dataDir, "blobs"));
const tmpFiles = () => filesUnder(path.join(svc.dataDir, "tmp"));
const get = (tenant: string, datasetId: string) =>
  unary<pbUpload.GetDatasetRequest, pbUpload.GetDatasetResponse>((r, md, cb) => svc.client.getDataset(r, md, cb), { datasetId }, tenant);
const list = (tenant: string, pageSize: number, pageToken = "") =>
  unary<pbUpload.ListDatasetsRequest, pbUpload.ListDatasetsResponse>((r, md, cb) => svc.client.listDatasets(r, md, cb), { pageSize, pageToken }, tenant);
const del = (tenant: string, datasetId: string) =>
  unary<pbUpload.DeleteDatasetRequest, pbUpload.DeleteDatasetResponse>((r, md, cb) => svc.client.deleteDataset(r, md, cb), { datasetId }, tenant);
const tenantKeys = (tenant: string) => rh.redis.keys(`tda:*${tenant}*`);

function blobPath(sha: string): string {
  return path.join(svc.dataDir, "blobs", "sha256", sha.slice(0, 2), sha.slice(2));
}

describe("Upload", () => {
  it("stores a CSV upload: metadata, bounds, blob, events", async () => {
    const tenant = newTenant();
    const res = await upload(svc.client, tenant, { name: "tiny.csv", format: F.DATA_FORMAT_CSV, contentType: "text/csv" }, [
      "x,y,z\n1,2",
      ",3\n4,5,6\n-1,0.",
      "5,9\n",
    ]);
    const d = res.dataset!;
    expect(res.deduplicated).toBe(false);
    expect(d.datasetId).toMatch(/^ds_[0-9a-f]{32}$/);
    expect(d.datasetId).toBe(`ds_${d.sha256.slice(0, 32)}`);
    expect([d.n, d.dim, d.kind, d.format, d.sizeBytes, d.sourceBytes, d.owner, d.name]).toEqual([
      3,
      3,
      pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD,
      F.DATA_FORMAT_CSV,
      72,
      CSV.length,
      tenant,
      "tiny.csv",
    ]);
    expect(d.minBounds).toEqual([-1, 0.5, 3]);
    expect(d.maxBounds).toEqual([4, 5, 9]);
    expect(existsSync(blobPath(d.sha256))).toBe(true);
    expect(await rh.redis.hget(`tda:dataset:${tenant}:${d.datasetId}`, "sha256")).toBe(d.sha256);
    expect(await rh.redis.zcard(`tda:datasets:${tenant}`)).toBe(1);
    expect(tmpFiles()).toEqual([]);

    const got = await get(tenant, d.datasetId);
    expect(got.dataset).toEqual(d);

    const events = await outboxEvents(rh.redis, svc.eventSource, res.uploadId);
    expect(events.map((e) => e.type)).toEqual(["upload.started", "upload.validated", "upload.completed"]);
    const done = events[2]!.data;
    expect([done.owner, done.filename, done.bytes, done.contentType, done.sha256, done.pointCount, done.dimension, done.datasetId, done.format]).toEqual([
      tenant,
      "tiny.csv",
      CSV.length,
      "text/csv",
      d.sha256,
      3,
      3,
      d.datasetId,
      "CSV",
    ]);
    expect(done.minBounds).toEqual([-1, 0.5, 3]);
  });

  it("stores RAW_FLOAT64 and deduplicates it against the same points sent as CSV", async () => {
    const tenant = newTenant();
    const csv = await upload(svc.client, tenant, { format: F.DATA_FORMAT_CSV }, [CSV]);
    const before = blobFiles().length;
    const raw = Buffer.from(new Float64Array(VALUES).buffer);
    const bin = await upload(svc.client, tenant, { format: F.DATA_FORMAT_RAW_FLOAT64, dim: 3 }, [raw.subarray(0, 11), raw.subarray(11)]);
    expect(bin.dataset!.datasetId).toBe(csv.dataset!.datasetId);
    expect(bin.deduplicated).toBe(true);
    expect(blobFiles().length).toBe(before);
    const again = await upload(svc.client, tenant, { format: F.DATA_FORMAT_AUTO }, [CSV]);
    expect([again.deduplicated, again.dataset!.datasetId]).toEqual([true, csv.dataset!.datasetId]);
    expect(await rh.redis.zcard(`tda:datasets:${tenant}`)).toBe(1);
  });

  it("rejects a ragged row with INVALID_ARGUMENT naming the line, keeping nothing", async () => {
    const tenant = newTenant();
    const blobsBefore = blobFiles();
    const err = await expectGrpcError(upload(svc.client, tenant, { name: "bad.csv", format: F.DATA_FORMAT_CSV }, ["1,2,3\n4,5,6\n", "7,8\n9,10,11\n"]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe("line 3: expected 3 values, got 2");
    expect(decodeDetails(err).badRequest?.fieldViolations.map((v) => [v.field, v.description])).toEqual([["chunk", "line 3: expected 3 values, got 2"]]);
    expect(blobFiles()).toEqual(blobsBefore);
    expect(tmpFiles()).toEqual([]);
    expect(await tenantKeys(tenant)).toEqual([]);
    const events = await outboxEvents(rh.redis, svc.eventSource);
    const failed = events.filter((e) => e.type === "upload.failed" && e.data.owner === tenant);
    expect(failed.map((e) => [e.data.errorCode, e.data.errorMessage])).toEqual([["INVALID_ARGUMENT", "line 3: expected 3 values, got 2"]]);
  });

  it("rejects nan with INVALID_ARGUMENT naming the line", async () => {
    const tenant = newTenant();
    const err = await expectGrpcError(upload(svc.client, tenant, { format: F.DATA_FORMAT_AUTO }, ["1 2\n3 4\n5 nan\n"]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe("line 3: not a finite number: 'nan' (column 2)");
    expect(tmpFiles()).toEqual([]);
    expect(await tenantKeys(tenant)).toEqual([]);
  });

  it("rejects a missing header, a second header and a binary upload without dim", async () => {
    const tenant = newTenant();
    const noHeader = await expectGrpcError(
      new Promise((resolve, reject) => {
        const call = svc.client.upload((e, r) => (e ? reject(e) : resolve(r)));
        call.write({ msg: { $case: "chunk", value: Buffer.from("1,2\n") } });
        call.end();
      }),
    );
    expect(noHeader.code).toBe(status.INVALID_ARGUMENT);
    const twoHeaders = await expectGrpcError(
      new Promise((resolve, reject) => {
        const call = svc.client.upload(tenantMd(tenant), (e, r) => (e ? reject(e) : resolve(r)));
        const header = { name: "", format: F.DATA_FORMAT_CSV, dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: 0 };
        call.write({ msg: { $case: "header", value: header } });
        call.write({ msg: { $case: "chunk", value: Buffer.from("1,2\n") } });
        call.write({ msg: { $case: "header", value: header } });
        call.end();
      }),
    );
    expect([twoHeaders.code, decodeDetails(twoHeaders).badRequest?.fieldViolations[0]?.field]).toEqual([status.INVALID_ARGUMENT, "header"]);
    const noDim = await expectGrpcError(upload(svc.client, tenant, { format: F.DATA_FORMAT_RAW_FLOAT64 }, [Buffer.alloc(16)]));
    expect(noDim.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeDetails(noDim).badRequest?.fieldViolations[0]?.field).toBe("header.dim");
    const empty = await expectGrpcError(upload(svc.client, tenant, { format: F.DATA_FORMAT_CSV }, []));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, "empty input: no data values found"]);
    expect(tmpFiles()).toEqual([]);
    expect(await tenantKeys(tenant)).toEqual([]);
  });

  it("keeps nothing when the client cancels mid-upload", async () => {
    const tenant = newTenant();
    const blobsBefore = blobFiles();
    const done = new Promise<unknown>((resolve) => {
      const call = svc.client.upload(tenantMd(tenant), (e, r) => resolve(e ?? r));
      call.write({
        msg: { $case: "header", value: { name: "c", format: F.DATA_FORMAT_CSV, dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: 0 } },
      });
      call.write({ msg: { $case: "chunk", value: Buffer.from("1,2\n3,4\n") } });
      // cancel mid-stream, once the server has started on it
      const until = Date.now() + 5000;
      const poll = () =>
        void outboxEvents(rh.redis, svc.eventSource).then((ev) => {
          if (ev.some((e) => e.data.owner === tenant) || Date.now() > until) setTimeout(() => call.cancel(), 20);
          else setTimeout(poll, 10);
        });
      poll();
    });
    expect(((await done) as { code?: number }).code).toBe(status.CANCELLED);
    const until = Date.now() + 5000;
    let events: string[] = [];
    while (Date.now() < until) {
      events = (await outboxEvents(rh.redis, svc.eventSource)).filter((e) => e.data.owner === tenant).map((e) => e.type);
      if (events.includes("upload.failed")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(events[0]).toBe("upload.started");
    expect(events[events.length - 1]).toBe("upload.failed");
    expect(events).not.toContain("upload.completed");
    expect(tmpFiles()).toEqual([]);
    expect(blobFiles()).toEqual(blobsBefore);
    expect(await tenantKeys(tenant)).toEqual([]);
  });
});

describe("datasets", () => {
  it("isolates tenants: another tenant gets NOT_FOUND", async () => {
    const a = newTenant();
    const b = newTenant();
    const res = await upload(svc.client, a, { format: F.DATA_FORMAT_CSV }, ["9,9\n8,8\n"]);
    const id = res.dataset!.datasetId;
    expect((await expectGrpcError(get(b, id))).code).toBe(status.NOT_FOUND);
    expect((await expectGrpcError(readPoints(svc.client, b, id))).code).toBe(status.NOT_FOUND);
    expect((await expectGrpcError(del(b, id))).code).toBe(status.NOT_FOUND);
    expect((await list(b, 10)).datasets).toEqual([]);
    expect((await get(a, id)).dataset!.datasetId).toBe(id);
    expect((await expectGrpcError(get(a, "ds_0123"))).code).toBe(status.NOT_FOUND);
  });

  it("ReadPoints returns the canonical float64 values exactly, in chunks", async () => {
    const tenant = newTenant();
    const n = 5000;
    const vals: number[] = [];
    let text = "";
    for (let i = 0; i < n; i++) {
      const row = [Math.sin(i) * 123.456, Math.cos(i * 0.37) / 7, i * 1e-9];
      vals.push(...row);
      text += row.map(String).join(",") + "\n";
    }
    const buf = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let o = 0; o < buf.length; o += 10_007) chunks.push(buf.subarray(o, o + 10_007));
    const res = await upload(svc.client, tenant, { format: F.DATA_FORMAT_CSV }, chunks);
    expect([res.dataset!.n, res.dataset!.dim]).toEqual([n, 3]);
    const { data, chunks: count } = await readPoints(svc.client, tenant, res.dataset!.datasetId, 4096);
    expect(data.length).toBe(n * 3 * 8);
    expect(count).toBe(Math.ceil((n * 3 * 8) / 4096));
    expect(Array.from(new Float64Array(data.buffer, data.byteOffset, n * 3))).toEqual(vals);
  });

  it("lists datasets newest first with opaque page tokens", async () => {
    const tenant = newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await upload(svc.client, tenant, { format: F.DATA_FORMAT_CSV, name: `d${i}` }, [`${i},${i + 1}\n`])).dataset!.datasetId);
      await new Promise((r) => setTimeout(r, 3));
    }
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await list(tenant, 2, token);
      expect(page.datasets.length).toBeLessThanOrEqual(2);
      seen.push(...page.datasets.map((d) => d.datasetId));
      token = page.nextPageToken;
      pages++;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    const bad = await expectGrpcError(list(tenant, 2, "bm9wZQ"));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
  });

  it("deletes a dataset; the blob goes only when no tenant references it", async () => {
    const a = newTenant();
    const b = newTenant();
    const text = "0.25 0.5\n0.75 1\n";
    const ra = await upload(svc.client, a, { format: F.DATA_FORMAT_WHITESPACE }, [text]);
    const rb = await upload(svc.client, b, { format: F.DATA_FORMAT_WHITESPACE }, [text]);
    const { datasetId: id, sha256: sha } = ra.dataset!;
    expect(rb.dataset!.datasetId).toBe(id);
    // one blob for both, but b is not told that someone else stored it
    expect([ra.deduplicated, rb.deduplicated]).toEqual([false, false]);
    expect(await rh.redis.scard(`tda:blob-refs:${sha}`)).toBe(2);

    await del(a, id);
    expect((await expectGrpcError(get(a, id))).code).toBe(status.NOT_FOUND);
    expect((await expectGrpcError(del(a, id))).code).toBe(status.NOT_FOUND);
    expect(existsSync(blobPath(sha))).toBe(true);
    expect((await readPoints(svc.client, b, id)).data.length).toBe(32);

    await del(b, id);
    expect(existsSync(blobPath(sha))).toBe(false);
    expect(await rh.redis.exists(`tda:blob-refs:${sha}`)).toBe(0);
    expect(await tenantKeys(a)).toEqual([]);
    expect(await tenantKeys(b)).toEqual([]);
  });

  it("lets a found LookupDatasets answer be reused for its lease (cache_ms), and returns from DeleteDataset only once that lease is over", async () => {
    const lease = 300;
    const own = await startService({ UPLOAD_LOOKUP_LEASE_MS: String(lease) });
    try {
      const t = newTenant();
      const r = await upload(own.client, t, { format: F.DATA_FORMAT_WHITESPACE }, ["0.5 1\n2 3\n"]);
      const id = r.dataset!.datasetId;
      const lookup = (datasetId: string) =>
        new Promise<pbUpload.LookupDatasetsResponse>((res, rej) => {
          const call = own.client.lookupDatasets();
          call.on("data", (reply: pbUpload.LookupDatasetsResponse) => {
            res(reply);
            call.end();
          });
          call.on("error", rej);
          call.write({ id: 7, datasetId, tenant: t, tenantToken: "", traceparent: "" });
        });
      const found = await lookup(id);
      expect([found.id, found.code, found.dataset?.datasetId, found.cacheMs]).toEqual([7, status.OK, id, lease]);
      const t0 = performance.now();
      await unary<pbUpload.DeleteDatasetRequest, pbUpload.DeleteDatasetResponse>((q, md, cb) => own.client.deleteDataset(q, md, cb), { datasetId: id }, t);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(lease);
      const gone = await lookup(id);
      expect([gone.code, gone.dataset, gone.cacheMs]).toEqual([status.NOT_FOUND, undefined, 0]);
    } finally {
      await own.stop();
    }
  });

  it("serves the standard health check", async () => {
    const health = new HealthClient(svc.srv.address, insecure(), channelOptions);
    for (const service of ["", "tda.upload.v1.UploadService"]) {
      const r = await new Promise<{ status: number }>((resolve, reject) => health.check({ service }, (e, res) => (e ? reject(e) : resolve(res))));
      expect(r.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    health.close();
  });
});

describe("limits", () => {
  let small: ServiceHandle;
  beforeAll(async () => {
    small = await startService({ UPLOAD_MAX_POINTS: "3", UPLOAD_MAX_BYTES: "1K", UPLOAD_MAX_DIM: "4", UPLOAD_PROGRESS_INTERVAL_MS: "0" });
  });
  afterAll(async () => {
    await small?.stop();
  });

  it("answers RESOURCE_EXHAUSTED (size, points) or INVALID_ARGUMENT (dimension) with an ErrorInfo reason and keeps nothing", async () => {
    const tenant = newTenant();
    const cases: [string[], number, string, status][] = [
      [["1\n2\n3\n4\n"], 0, "UPLOAD_TOO_MANY_POINTS", status.RESOURCE_EXHAUSTED],
      [["1 2 3 4 5\n"], 0, "UPLOAD_DIM_TOO_LARGE", status.INVALID_ARGUMENT],
      [["1\n".repeat(300), "1\n".repeat(300)], 0, "UPLOAD_TOO_LARGE", status.RESOURCE_EXHAUSTED],
      [["1\n"], 4096, "UPLOAD_TOO_LARGE", status.RESOURCE_EXHAUSTED],
    ];
    for (const [chunks, totalBytes, reason, code] of cases) {
      const err = await expectGrpcError(upload(small.client, tenant, { format: F.DATA_FORMAT_AUTO, totalBytes }, chunks));
      expect([err.code, decodeDetails(err).errorInfo?.reason]).toEqual([code, reason]);
    }
    expect(filesUnder(path.join(small.dataDir, "tmp"))).toEqual([]);
    expect(filesUnder(path.join(small.dataDir, "blobs"))).toEqual([]);
    expect(await tenantKeys(tenant)).toEqual([]);
  });

  it("publishes upload.progress events in order (unthrottled here)", async () => {
    const tenant = newTenant();
    const res = await upload(small.client, tenant, { format: F.DATA_FORMAT_CSV }, ["1,2\n", "3,4\n", "5,6\n"]);
    const events = await outboxEvents(rh.redis, small.eventSource, res.uploadId);
    expect(events.map((e) => [e.type, e.data.bytes])).toEqual([
      ["upload.started", 0],
      ["upload.progress", 4],
      ["upload.progress", 8],
      ["upload.progress", 12],
      ["upload.validated", 12],
      ["upload.completed", 12],
    ]);
  });
});
