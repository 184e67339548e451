import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Server, ServerCredentials, status, type ServerDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { channelOptions, insecure, pbUpload, TdaError } from "@tda/common";
import { createUploadClient, type UploadClient } from "../src/upload-client";
import { REDIS_URL, randomCloud, tenantMd, uploadPoints } from "./helpers";
import { startUploadForTest, type UploadForTest } from "./upload-harness";

// The scheduler's upload client: dataset lookups on one LookupDatasets stream
// against the real upload service; against an upload service without the
// stream (GetDataset instead) and one that stops answering.

let dataDir: string;
let upload: UploadForTest;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "upload-client-test-"));
  upload = await startUploadForTest(dataDir, REDIS_URL);
});

afterAll(async () => {
  await upload?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const tenant = () => `uc-${randomUUID().slice(0, 8)}`;
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof TdaError ? e.code : `not a TdaError: ${String(e)}`),
  );

/** A server with only the given UploadService handlers (the rest UNIMPLEMENTED). */
async function partialUpload(handlers: Partial<pbUpload.UploadServiceServer>): Promise<{ address: string; stop(): void }> {
  const server = new Server();
  server.addService(pbUpload.UploadServiceService, handlers as pbUpload.UploadServiceServer);
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

describe("upload client", () => {
  let client: UploadClient;
  beforeAll(() => {
    client = createUploadClient(upload.address);
  });
  afterAll(() => client.close());

  it("answers many concurrent lookups of several tenants on one stream, each as its tenant: the owner's dataset, NOT_FOUND for another's or a deleted one", async () => {
    const [a, b] = [tenant(), tenant()];
    const [dsA, dsB, gone] = await Promise.all([
      uploadPoints(upload.address, a, randomCloud(10, 3)),
      uploadPoints(upload.address, b, randomCloud(11, 2)),
      uploadPoints(upload.address, a, randomCloud(12, 2)),
    ]);
    const uc = new pbUpload.UploadServiceClient(upload.address, insecure(), channelOptions);
    await new Promise<void>((res, rej) => uc.deleteDataset({ datasetId: gone.datasetId }, tenantMd(a), (e: ServiceError | null) => (e ? rej(e) : res())));
    uc.close();
    const asks = Array.from({ length: 60 }, (_, i) => {
      const [owner, ds] = (
        [
          [a, dsA],
          [b, dsB],
          [b, dsA],
          [a, gone],
        ] as const
      )[i % 4]!;
      return client.getDataset(owner, ds.datasetId, ROOT_CONTEXT, 5000).then(
        (d) => `${d.datasetId} n=${d.n} owner=${d.owner}`,
        (e: unknown) => (e instanceof TdaError ? `code ${e.code}: ${e.message}` : String(e)),
      );
    });
    const got = await Promise.all(asks);
    got.forEach((g, i) => {
      const want = [
        `${dsA.datasetId} n=10 owner=${a}`,
        `${dsB.datasetId} n=11 owner=${b}`,
        `code ${status.NOT_FOUND}: dataset "${dsA.datasetId}" not found`,
        `code ${status.NOT_FOUND}: dataset "${gone.datasetId}" not found`,
      ][i % 4];
      expect([i, g]).toEqual([i, want]);
    });
  });

  it("after the upload service restarted (its stream gone), the next lookup opens a new stream", async () => {
    const own = tenant();
    const [ds, other] = await Promise.all([uploadPoints(upload.address, own, randomCloud(5, 2)), uploadPoints(upload.address, own, randomCloud(6, 2))]);
    expect((await client.getDataset(own, ds.datasetId, ROOT_CONTEXT, 5000)).datasetId).toBe(ds.datasetId);
    const port = Number(upload.address.split(":").pop());
    // the open lookup stream does not hold up a graceful shutdown (the harness's grace is 1 s)
    const t0 = Date.now();
    await upload.close();
    expect(Date.now() - t0).toBeLessThan(900);
    // (ds's answer may still be reused: the next test; `other` was never asked)
    expect(await codeOf(client.getDataset(own, other.datasetId, ROOT_CONTEXT, 2000))).toBe(status.UNAVAILABLE);
    upload = await startUploadForTest(dataDir, REDIS_URL, port);
    // the channel reconnects with backoff: the first lookups may still find it down
    let got: string | number = "none";
    for (let i = 0; i < 50 && got !== other.datasetId; i++) {
      got = await client.getDataset(own, other.datasetId, ROOT_CONTEXT, 2000).then(
        (d) => d.datasetId,
        (e: unknown) => (e instanceof TdaError && e.code === status.UNAVAILABLE ? status.UNAVAILABLE : String(e)),
      );
      if (got === status.UNAVAILABLE) await new Promise((r) => setTimeout(r, 200));
    }
    expect(got).toBe(other.datasetId);
  });

  it("answers a found dataset again from its reply while the upload service's lease (cache_ms) lasts, and asks again after; a NOT_FOUND is not reused", async () => {
    const lease = 1500;
    const own = await startUploadForTest(dataDir, REDIS_URL, 0, { UPLOAD_LOOKUP_LEASE_MS: String(lease) });
    const c = createUploadClient(own.address);
    try {
      const t = tenant();
      const ds = await uploadPoints(own.address, t, randomCloud(7, 3));
      const missing = "ds_" + "0".repeat(32);
      const t0 = performance.now();
      expect((await c.getDataset(t, ds.datasetId, ROOT_CONTEXT, 5000)).n).toBe(7);
      expect(await codeOf(c.getDataset(t, missing, ROOT_CONTEXT, 5000))).toBe(status.NOT_FOUND);
      // another tenant asking for it is not answered from the owner's reply
      expect(await codeOf(c.getDataset(tenant(), ds.datasetId, ROOT_CONTEXT, 5000))).toBe(status.NOT_FOUND);
      await own.close();
      // within the lease, without the upload service: the found one from its reply, the missing one asked again
      const [again, notAgain] = await Promise.all([
        c.getDataset(t, ds.datasetId, ROOT_CONTEXT, 2000).then((d) => d.n),
        codeOf(c.getDataset(t, missing, ROOT_CONTEXT, 2000)),
      ]);
      expect(performance.now() - t0).toBeLessThan(lease); // (else the first answer proves nothing)
      expect([again, notAgain]).toEqual([7, status.UNAVAILABLE]);
      await new Promise((r) => setTimeout(r, lease));
      expect(await codeOf(c.getDataset(t, ds.datasetId, ROOT_CONTEXT, 2000))).toBe(status.UNAVAILABLE);
    } finally {
      c.close();
      await own.close().catch(() => undefined);
    }
  });
});

it("asks an upload service without LookupDatasets with GetDataset (and keeps doing so)", async () => {
  let unaryCalls = 0;
  const older = await partialUpload({
    getDataset: (call, cb) => {
      unaryCalls++;
      if (call.request.datasetId === "ds_00000000000000000000000000000001")
        return cb(null, { dataset: pbUpload.Dataset.fromPartial({ datasetId: call.request.datasetId, n: 7 }) });
      cb({ code: status.NOT_FOUND, details: "no such dataset" });
    },
  });
  const c = createUploadClient(older.address);
  try {
    expect((await c.getDataset("t", "ds_00000000000000000000000000000001", ROOT_CONTEXT, 5000)).n).toBe(7);
    expect(await codeOf(c.getDataset("t", "ds_00000000000000000000000000000002", ROOT_CONTEXT, 5000))).toBe(status.NOT_FOUND);
    expect((await c.getDataset("t", "ds_00000000000000000000000000000001", ROOT_CONTEXT, 5000)).n).toBe(7);
    expect(unaryCalls).toBe(3);
  } finally {
    c.close();
    older.stop();
  }
});

it("a lookup the stream does not answer in time is UNAVAILABLE, and the next lookup uses a new stream", async () => {
  let streams = 0;
  const mute = await partialUpload({
    lookupDatasets: (call: ServerDuplexStream<pbUpload.LookupDatasetsRequest, pbUpload.LookupDatasetsResponse>) => {
      const answer = streams++ > 0; // the first stream never answers
      call.on("data", (r: pbUpload.LookupDatasetsRequest) => {
        if (answer)
          call.write({ id: r.id, dataset: pbUpload.Dataset.fromPartial({ datasetId: r.datasetId, n: 3 }), code: 0, message: "", reason: "", cacheMs: 0 });
      });
      call.on("error", () => undefined);
    },
  });
  const c = createUploadClient(mute.address);
  try {
    const t0 = Date.now();
    expect(await codeOf(c.getDataset("t", "ds_00000000000000000000000000000003", ROOT_CONTEXT, 300))).toBe(status.UNAVAILABLE);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await c.getDataset("t", "ds_00000000000000000000000000000003", ROOT_CONTEXT, 5000)).n).toBe(3);
    expect(streams).toBe(2);
  } finally {
    c.close();
    mute.stop();
  }
});

it("one lookup left unanswered while the stream answers others is UNAVAILABLE alone: the stream is kept", async () => {
  let streams = 0;
  const SLOW = "ds_0000000000000000000000000000000f";
  const partial = await partialUpload({
    lookupDatasets: (call: ServerDuplexStream<pbUpload.LookupDatasetsRequest, pbUpload.LookupDatasetsResponse>) => {
      streams++;
      call.on("data", (r: pbUpload.LookupDatasetsRequest) => {
        if (r.datasetId === SLOW) return; // never answered
        setTimeout(
          () => call.write({ id: r.id, dataset: pbUpload.Dataset.fromPartial({ datasetId: r.datasetId, n: 4 }), code: 0, message: "", reason: "", cacheMs: 0 }),
          20,
        );
      });
      call.on("error", () => undefined);
    },
  });
  const c = createUploadClient(partial.address);
  try {
    const slow = codeOf(c.getDataset("t", SLOW, ROOT_CONTEXT, 300));
    const other = c.getDataset("t", "ds_00000000000000000000000000000004", ROOT_CONTEXT, 5000);
    expect((await other).n).toBe(4);
    expect(await slow).toBe(status.UNAVAILABLE);
    expect((await c.getDataset("t", "ds_00000000000000000000000000000005", ROOT_CONTEXT, 5000)).n).toBe(4);
    expect(streams).toBe(1);
  } finally {
    c.close();
    partial.stop();
  }
});
