import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { Metadata, status as GrpcStatus, type ServerReadableStream, type ServerWritableStream } from "@grpc/grpc-js";
import {
  SpanKind,
  TdaError,
  clientStream,
  contextFromMetadata,
  inSpan,
  invalidArgument,
  notFound,
  nowTimestamp,
  pbUpload,
  serverStream,
  tenantOf,
  unary,
  writeWithDrain,
  type EventBus,
  type Logger,
  type Redis,
} from "@tda/common";
import type { UploadConfig } from "./config";
import type { BlobStore } from "./blob-store";
import { createDatasetRepo, datasetIdOf, publicDataset, type StoredDataset } from "./dataset-repo";
import { UploadParser, formatName } from "./parse/formats";
import { headerError, tooLarge, dimTooLarge } from "./parse/errors";
import { UploadEvents } from "./upload-events";
import { cancelledAfterEnd, isCancelled } from "./cancellation";
import { WriteQueue } from "./write-queue";
import { createResumeSessions, type ResumeSessions } from "./resume-sessions";

type UploadRequest = pbUpload.UploadRequest;
type UploadResponse = pbUpload.UploadResponse;

export interface UploadServiceDeps {
  config: UploadConfig;
  redis: Redis;
  blobs: BlobStore;
  bus: EventBus;
  log: Logger;
  /** Resumable-upload sessions; by default spooled under config.dataDir. */
  sessions?: ResumeSessions;
}

const cancelled = (cause?: unknown) => new TdaError(GrpcStatus.CANCELLED, "upload cancelled by the client", { reason: "CANCELLED", cause });

/** Largest slice of input handed to the parser at once (bounds the canonical buffers in memory). */
const SLICE_BYTES = 1024 * 1024;
const MAX_NAME = 512;
/** Canonical output queued for the temp file before the input stream is made to wait. */
const MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024;

export function createUploadService(deps: UploadServiceDeps): pbUpload.UploadServiceServer {
  const { config, blobs, bus, log } = deps;
  const repo = createDatasetRepo(deps.redis);
  const sessions = deps.sessions ?? createResumeSessions(deps.redis, config.dataDir, config.resumeTtlSeconds);

  async function upload(call: ServerReadableStream<UploadRequest, UploadResponse>): Promise<UploadResponse> {
    const owner = tenantOf(call.metadata);
    return inSpan("tda.upload.v1.UploadService/Upload", contextFromMetadata(call.metadata), SpanKind.SERVER, async (span, ctx) => {
      const it = call[Symbol.asyncIterator]() as AsyncIterator<UploadRequest>;
      const first = await it.next();
      if (first.done || first.value.msg?.$case !== "header") {
        throw invalidArgument("the first message of an upload must be the header", [{ field: "header", description: "missing" }]);
      }
      let header = first.value.msg.value;
      validateHeader(header);
      const session = sessions.enabled && header.uploadId ? await sessions.begin(owner, header) : undefined;
      if (session) header = session.header;
      const uploadId = header.uploadId || `up_${randomBytes(12).toString("hex")}`;
      const initial = new Metadata();
      initial.set("x-upload-id", uploadId);
      call.sendMetadata(initial);
      span.setAttributes({ "tda.upload_id": uploadId, "tda.owner": owner, "tda.format": formatName(header.format) });
      const events = new UploadEvents(
        bus,
        log,
        {
          uploadId,
          owner,
          filename: header.name,
          bytes: 0,
          contentType: header.contentType,
          sha256: "",
          pointCount: 0,
          dimension: 0,
          minBounds: [],
          maxBounds: [],
          datasetId: "",
          errorCode: "",
          errorMessage: "",
          format: formatName(header.format),
        },
        ctx,
        config.progressIntervalMs,
        config.progressBytes,
      );
      const clog = log.child({ uploadId, owner });
      let bytes = 0;
      let temp: string | undefined;
      let parser: UploadParser | undefined;
      let fh: FileHandle | undefined;
      let out: WriteQueue | undefined;
      // a written chunk goes back to the sink that made it
      const recycle = (b: Uint8Array) => parser?.sink.recycle(b);
      const feed = async (chunk: Uint8Array) => {
        bytes += chunk.length;
        if (bytes > config.maxBytes) throw tooLarge(config.maxBytes);
        for (let off = 0; off < chunk.length; off += SLICE_BYTES) {
          parser!.push(chunk.subarray(off, Math.min(chunk.length, off + SLICE_BYTES)));
          for (const b of parser!.sink.take()) out!.push(b, recycle);
          await out!.room();
        }
      };
      try {
        parser = new UploadParser(header.format, {
          maxPoints: config.maxPoints,
          maxDim: config.maxDim,
          maxTokenBytes: config.maxTokenBytes,
          declaredDim: header.dim,
        });
        await events.emit("upload.started", { bytes: session?.offset ?? 0 });
        temp = await blobs.tempPath();
        fh = await fsp.open(temp, "wx");
        out = new WriteQueue(fh, MAX_PENDING_WRITE_BYTES, config.syncEveryBytes);
        try {
          // a resumed upload first replays the bytes received before the break
          if (session) for await (const chunk of session.replay()) await feed(chunk);
          for (;;) {
            const next = await it.next();
            if (next.done) break;
            const msg = next.value.msg;
            if (msg?.$case !== "chunk") throw invalidArgument("only the first message may be a header", [{ field: "header", description: "sent twice" }]);
            if (session) await session.append(msg.value);
            await feed(msg.value);
            events.progress(bytes);
          }
          // A client cancel also ends the request stream (grpc-js clients send END_STREAM,
          // then RST_STREAM): give the reset a moment to arrive before validating the
          // end of the input and committing, so a cancelled upload is not taken for a
          // complete (or a malformed) one.
          if (await cancelledAfterEnd(call, config.endGraceMs)) throw cancelled();
          if (header.totalBytes > 0 && bytes !== header.totalBytes) {
            throw invalidArgument(`received ${bytes} bytes but header.total_bytes is ${header.totalBytes}`, [
              { field: "header.total_bytes", description: `received ${bytes} bytes` },
            ]);
          }
          parser.finish();
          for (const b of parser.sink.take(true)) out.push(b, recycle);
          await out.drain();
          await fh.sync();
        } finally {
          // never close the file under a queued write
          await out.drain().catch(() => undefined);
          await fh.close();
        }
        const finished = parser;
        const sink = finished.sink;
        const sha = sink.sha256();
        const datasetId = datasetIdOf(sha);
        const isPoints = sink.kind === "points";
        const summary = {
          bytes,
          sha256: sha,
          pointCount: sink.n,
          dimension: sink.dim,
          datasetId,
          minBounds: isPoints ? Array.from(sink.min) : [],
          maxBounds: isPoints ? Array.from(sink.max) : [],
          format: formatName(finished.format),
        };
        await events.emit("upload.validated", summary);
        const ds: StoredDataset = {
          datasetId,
          name: header.name,
          format: finished.format,
          kind: isPoints ? pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD : pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX,
          n: sink.n,
          dim: sink.dim,
          minBounds: summary.minBounds,
          maxBounds: summary.maxBounds,
          sha256: sha,
          sizeBytes: sink.sizeBytes,
          owner,
          createdAt: nowTimestamp(),
          sourceBytes: bytes,
          uploadId,
          contentType: header.contentType,
        };
        if (isCancelled(call)) throw cancelled();
        const tempFile = temp;
        // `deduplicated` speaks of this tenant's own datasets only: that the
        // shared content store already held the blob (another tenant stored the
        // same content) is never told, or tenants could probe each other's files.
        const { stored, deduplicated } = await repo.withBlobLock(sha, async () => {
          const existing = await repo.get(owner, datasetId);
          const blobExisted = await blobs.putFromTemp(tempFile, sha);
          if (existing) return { stored: existing, deduplicated: true };
          try {
            const created = await repo.create(ds);
            return { stored: created ? ds : ((await repo.get(owner, datasetId)) ?? ds), deduplicated: !created };
          } catch (err) {
            // nothing partial: drop the blob again unless someone else references it
            if (!blobExisted && (await repo.refCount(sha).catch(() => 1)) === 0) await blobs.delete(sha).catch(() => undefined);
            throw err;
          }
        });
        temp = undefined;
        await session?.discard();
        span.setAttributes({ "tda.dataset_id": datasetId, "tda.n": sink.n, "tda.dim": sink.dim, "tda.deduplicated": deduplicated });
        await events.emit("upload.completed", summary);
        clog.info({ datasetId, n: sink.n, dim: sink.dim, bytes, deduplicated, format: summary.format }, "upload stored");
        return { dataset: publicDataset(stored), uploadId, deduplicated };
      } catch (caught) {
        // a broken stream surfaces in several ways; report it as the cancellation it is
        const err = !(caught instanceof TdaError) && isCancelled(call) ? cancelled(caught) : caught;
        if (temp) await blobs.discardTemp(temp).catch((e: unknown) => clog.warn({ err: e }, "could not remove temp file"));
        const e = err instanceof TdaError ? err : undefined;
        // an interrupted resumable upload keeps its spool; bad input ends the session
        const interrupted = !e || e.code === GrpcStatus.CANCELLED || e.code === GrpcStatus.UNAVAILABLE || e.code === GrpcStatus.DEADLINE_EXCEEDED;
        if (session) {
          await (interrupted ? session.suspend() : session.discard()).catch((x: unknown) => clog.warn({ err: x }, "could not update the resume session"));
        }
        const resumable = session && interrupted ? ` (resumable from byte ${bytes} until the session expires)` : "";
        void events.emit("upload.failed", {
          bytes,
          errorCode: e ? (e.reason ?? GrpcStatus[e.code]) : "INTERNAL",
          errorMessage: (e ? e.message : "internal error") + resumable,
        });
        await events.settled();
        throw err;
      }
    });
  }

  function validateHeader(h: pbUpload.UploadHeader): void {
    if (h.name.length > MAX_NAME) throw headerError("name", `name longer than ${MAX_NAME} characters`);
    if (h.dim > config.maxDim) throw dimTooLarge("header.dim: ", config.maxDim, "header.dim");
    if (h.totalBytes > config.maxBytes) throw tooLarge(config.maxBytes);
    if (h.resumeOffset > 0 && (!h.uploadId || !sessions.enabled)) {
      const why = h.uploadId ? "resumable uploads are disabled (UPLOAD_RESUME_TTL_SECONDS=0)" : "resuming needs header.upload_id";
      throw new TdaError(GrpcStatus.FAILED_PRECONDITION, `cannot resume: ${why}`, { reason: "UPLOAD_NOT_RESUMABLE" });
    }
    if (h.uploadId && !/^[A-Za-z0-9_.-]{1,128}$/.test(h.uploadId)) throw headerError("upload_id", "upload_id must be 1-128 characters of [A-Za-z0-9_.-]");
  }

  async function getDataset(req: pbUpload.GetDatasetRequest, owner: string): Promise<StoredDataset> {
    if (!req.datasetId) throw invalidArgument("dataset_id is required", [{ field: "dataset_id", description: "empty" }]);
    const d = await repo.get(owner, req.datasetId);
    if (!d) throw notFound(`dataset ${req.datasetId}`);
    return d;
  }

  const span = <T>(name: string, md: import("@grpc/grpc-js").Metadata, fn: () => Promise<T>) =>
    inSpan(`tda.upload.v1.UploadService/${name}`, contextFromMetadata(md), SpanKind.SERVER, fn);

  return {
    upload: clientStream(log, "Upload", upload),
    getDataset: unary(log, "GetDataset", (req, call) =>
      span("GetDataset", call.metadata, async () => ({ dataset: publicDataset(await getDataset(req, tenantOf(call.metadata))) })),
    ),
    listDatasets: unary(log, "ListDatasets", (req, call) =>
      span("ListDatasets", call.metadata, async () => {
        const owner = tenantOf(call.metadata);
        const size = Math.min(req.pageSize || config.defaultPageSize, config.maxPageSize);
        let after: string | undefined;
        if (req.pageToken) {
          after = Buffer.from(req.pageToken, "base64url").toString("latin1");
          if (!/^\d{13}:ds_[0-9a-f]{32}$/.test(after))
            throw invalidArgument("page_token is not valid", [{ field: "page_token", description: "not a token returned by ListDatasets" }]);
        }
        const page = await repo.list(owner, size, after);
        return {
          datasets: page.datasets.map(publicDataset),
          nextPageToken: page.more && page.last ? Buffer.from(page.last, "latin1").toString("base64url") : "",
        };
      }),
    ),
    deleteDataset: unary(log, "DeleteDataset", (req, call) =>
      span("DeleteDataset", call.metadata, async () => {
        const owner = tenantOf(call.metadata);
        if (!req.datasetId) throw invalidArgument("dataset_id is required", [{ field: "dataset_id", description: "empty" }]);
        const d = await repo.get(owner, req.datasetId);
        if (!d) throw notFound(`dataset ${req.datasetId}`);
        await repo.withBlobLock(d.sha256, async () => {
          const r = await repo.delete(owner, req.datasetId);
          if (!r) throw notFound(`dataset ${req.datasetId}`);
          if (r.remainingRefs === 0) await blobs.delete(r.sha256);
        });
        log.info({ owner, datasetId: req.datasetId }, "dataset deleted");
        return {};
      }),
    ),
    readPoints: serverStream(log, "ReadPoints", (call: ServerWritableStream<pbUpload.ReadPointsRequest, pbUpload.ReadPointsResponse>) =>
      span("ReadPoints", call.metadata, async () => {
        const d = await getDataset(call.request, tenantOf(call.metadata));
        const want = call.request.chunkBytes || 1024 * 1024;
        const chunkBytes = Math.max(8, Math.min(16 * 1024 * 1024, want - (want % 8)));
        const stream = blobs.openRead(d.sha256, { chunkBytes });
        try {
          let bytes = 0;
          for await (const chunk of stream) {
            if (call.cancelled) break;
            bytes += (chunk as Buffer).length;
            await writeWithDrain(call, { chunk: chunk as Buffer });
          }
          log.info({ datasetId: d.datasetId, bytes, cancelled: call.cancelled }, "points read");
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") {
            throw new TdaError(GrpcStatus.DATA_LOSS, `the stored data of dataset ${d.datasetId} is missing`, { reason: "BLOB_MISSING", cause: err });
          }
          throw err;
        } finally {
          stream.destroy();
        }
      }),
    ),
  };
}
