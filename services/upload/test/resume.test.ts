import path from "node:path";
import { createHash } from "node:crypto";
import { statSync, utimesSync, writeFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { pbUpload } from "@tda/common";
import {
  cleanupTenants,
  decodeDetails,
  expectGrpcError,
  filesUnder,
  newTenant,
  outboxEvents,
  startService,
  tenantMd,
  upload,
  useRedis,
  type RedisHandle,
  type ServiceHandle,
} from "./helpers";
import { createResumeSessions } from "../src/resume-sessions";

const F = pbUpload.DataFormat;

let rh: RedisHandle;
let svc: ServiceHandle;

beforeAll(async () => {
  rh = await useRedis();
  svc = await startService({ UPLOAD_RESUME_TTL_SECONDS: "600" });
});

afterAll(async () => {
  await svc?.stop();
  if (rh) await cleanupTenants(rh.redis);
  await rh?.stop();
});

const header = (h: Partial<pbUpload.UploadHeader>): pbUpload.UploadHeader => ({
  name: "",
  format: 0,
  dim: 0,
  contentType: "",
  uploadId: "",
  resumeOffset: 0,
  totalBytes: 0,
  ...h,
});

/** The spool file of a resumable upload (named by the service after owner and upload id). */
const spoolName = (tenant: string, uploadId: string) => `${createHash("sha256").update(`${tenant}\n${uploadId}`).digest("hex").slice(0, 40)}.src`;

/** Sends a header and chunks, then cancels the call; resolves once the server reported the failure. */
async function interrupted(tenant: string, h: pbUpload.UploadHeader, chunks: string[]): Promise<void> {
  await new Promise<void>((resolve) => {
    const call = svc.client.upload(tenantMd(tenant), () => resolve());
    call.write({ msg: { $case: "header", value: h } });
    for (const c of chunks) call.write({ msg: { $case: "chunk", value: Buffer.from(c) } });
    // cancel once the server has spooled everything sent (as after a network break)
    const sent = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
    const until = Date.now() + 5000;
    const spool = path.join(svc.dataDir, "tmp", "resume", spoolName(tenant, h.uploadId));
    const poll = () => {
      let size = 0;
      try {
        size = statSync(spool).size;
      } catch {
        // not created yet
      }
      if (size >= sent || Date.now() > until) call.cancel();
      else setTimeout(poll, 10);
    };
    poll();
  });
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const ev = await outboxEvents(rh.redis, svc.eventSource, h.uploadId);
    if (ev.some((e) => e.type === "upload.failed")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no upload.failed event after the cancel");
}

describe("resumable uploads", () => {
  it("resumes an interrupted upload from the acknowledged offset", async () => {
    const tenant = newTenant();
    const id = `r-${Date.now()}`;
    await interrupted(tenant, header({ uploadId: id, format: F.DATA_FORMAT_CSV, name: "resumed.csv" }), ["1,2\n3,4\n5,"]);
    expect(await rh.redis.exists(`tda:upload-session:${tenant}:${id}`)).toBe(1);
    expect(filesUnder(path.join(svc.dataDir, "tmp", "resume")).length).toBe(1);
    expect(filesUnder(path.join(svc.dataDir, "tmp")).filter((f) => f.endsWith(".part"))).toEqual([]);
    expect(await rh.redis.keys(`tda:dataset:${tenant}:*`)).toEqual([]);

    // too far: the error says where to resume from
    const far = await expectGrpcError(upload(svc.client, tenant, { uploadId: id, resumeOffset: 1000 }, ["x"]));
    expect(far.code).toBe(status.FAILED_PRECONDITION);
    expect(decodeDetails(far).errorInfo?.metadata).toEqual({ resume_offset: "10" });

    // another tenant cannot resume it
    expect((await expectGrpcError(upload(svc.client, newTenant(), { uploadId: id, resumeOffset: 10 }, ["6\n"]))).code).toBe(status.NOT_FOUND);

    // header fields come from the original upload; the rest of the bytes complete it
    const res = await upload(svc.client, tenant, { uploadId: id, resumeOffset: 10 }, ["6\n7,8\n"]);
    expect(res.uploadId).toBe(id);
    expect([res.dataset!.n, res.dataset!.dim, res.dataset!.name, res.dataset!.sourceBytes]).toEqual([4, 2, "resumed.csv", 16]);
    const direct = await upload(svc.client, tenant, { format: F.DATA_FORMAT_CSV }, ["1,2\n3,4\n5,6\n7,8\n"]);
    expect(direct.dataset!.datasetId).toBe(res.dataset!.datasetId);
    expect(direct.deduplicated).toBe(true);

    expect(await rh.redis.exists(`tda:upload-session:${tenant}:${id}`)).toBe(0);
    expect(filesUnder(path.join(svc.dataDir, "tmp"))).toEqual([]);
    expect((await expectGrpcError(upload(svc.client, tenant, { uploadId: id, resumeOffset: 10 }, ["x"]))).code).toBe(status.NOT_FOUND);
  });

  it("may resume from an earlier offset, re-sending bytes", async () => {
    const tenant = newTenant();
    const id = `r2-${Date.now()}`;
    await interrupted(tenant, header({ uploadId: id, format: F.DATA_FORMAT_WHITESPACE }), ["1 2\n", "3 4\n"]);
    const res = await upload(svc.client, tenant, { uploadId: id, resumeOffset: 4 }, ["3 4\n5 6\n"]);
    expect([res.dataset!.n, res.dataset!.dim]).toEqual([3, 2]);
    expect(filesUnder(path.join(svc.dataDir, "tmp"))).toEqual([]);
  });

  it("ends the session on bad input, keeping nothing", async () => {
    const tenant = newTenant();
    const id = `r3-${Date.now()}`;
    await interrupted(tenant, header({ uploadId: id, format: F.DATA_FORMAT_CSV }), ["1,2\n"]);
    const bad = await expectGrpcError(upload(svc.client, tenant, { uploadId: id, resumeOffset: 4 }, ["3\n"]));
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, "line 2: expected 2 values, got 1"]);
    expect(await rh.redis.exists(`tda:upload-session:${tenant}:${id}`)).toBe(0);
    expect(filesUnder(path.join(svc.dataDir, "tmp"))).toEqual([]);
    expect(await rh.redis.keys(`tda:dataset:${tenant}:*`)).toEqual([]);
  });

  it("refuses to resume without an upload id", async () => {
    const err = await expectGrpcError(upload(svc.client, newTenant(), { resumeOffset: 5 }, ["1\n"]));
    expect([err.code, decodeDetails(err).errorInfo?.reason]).toEqual([status.FAILED_PRECONDITION, "UPLOAD_NOT_RESUMABLE"]);
  });

  it("cleans up abandoned uploads: the session key expires, the sweeper removes old spools and .part files", async () => {
    const tenant = newTenant();
    const id = `r4-${Date.now()}`;
    const keep = `r5-${Date.now()}`;
    await interrupted(tenant, header({ uploadId: id, format: F.DATA_FORMAT_CSV }), ["1,2\n"]);
    await interrupted(tenant, header({ uploadId: keep, format: F.DATA_FORMAT_CSV }), ["3,4\n"]);
    const sessionKey = `tda:upload-session:${tenant}:${id}`;
    const ttl = await rh.redis.pttl(sessionKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600_000);
    const dir = path.join(svc.dataDir, "tmp", "resume");
    const before = filesUnder(dir);
    expect(before.length).toBe(2);

    // the session key lapses (as after UPLOAD_RESUME_TTL_SECONDS): the upload cannot be resumed any more
    await rh.redis.pexpire(sessionKey, 1);
    const until = Date.now() + 5000;
    while ((await rh.redis.exists(sessionKey)) === 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect((await expectGrpcError(upload(svc.client, tenant, { uploadId: id, resumeOffset: 4 }, ["3,4\n"]))).code).toBe(status.NOT_FOUND);

    // the sweep (run by the service every minute) removes spools older than the TTL and leaves live ones
    const spools = filesUnder(dir);
    const old = (Date.now() - (600 + 120) * 1000) / 1000;
    const abandoned = spoolName(tenant, id);
    expect(spools).toContain(abandoned);
    utimesSync(path.join(dir, abandoned), old, old);
    const oldPart = path.join(svc.dataDir, "tmp", "upload-crashed.part");
    writeFileSync(oldPart, "partial");
    utimesSync(oldPart, (Date.now() - 7 * 3600_000) / 1000, (Date.now() - 7 * 3600_000) / 1000);
    const freshPart = path.join(svc.dataDir, "tmp", "upload-live.part");
    writeFileSync(freshPart, "in progress");
    expect(await createResumeSessions(rh.redis, svc.dataDir, 600).sweep()).toBe(1);
    expect(await svc.srv.blobs.sweepTemp(6 * 3600_000)).toBe(1);
    expect(filesUnder(dir)).toEqual(spools.filter((f) => f !== abandoned));
    expect(filesUnder(path.join(svc.dataDir, "tmp")).filter((f) => f.endsWith(".part"))).toEqual(["upload-live.part"]);
    // the untouched session still resumes
    const res = await upload(svc.client, tenant, { uploadId: keep, resumeOffset: 4 }, ["5,6\n"]);
    expect(res.dataset!.n).toBe(2);
    writeFileSync(freshPart, "");
    await svc.srv.blobs.discardTemp(freshPart);
  });
});
