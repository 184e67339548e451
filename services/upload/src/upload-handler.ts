import { promises as fsp } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Context, Span } from "@opentelemetry/api";
import { Metadata, status as GrpcStatus, type ServerReadableStream } from "@grpc/grpc-js";
import { SpanKind, TdaError, contextFromMetadata, inSpan, invalidArgument, nowTimestamp, pbUpload, tenantOf, type EventBus, type Logger } from "@tda/common";
import type { UploadConfig } from "./config";
import type { BlobStore } from "./blob-store";
import { datasetIdOf, publicDataset, type DatasetRepo, type StoredDataset } from "./dataset-repo";
import { UploadParser, formatName } from "./parse/formats";
import { headerError, tooLarge, dimTooLarge } from "./parse/errors";
import { UploadEvents, type UploadEventFields } from "./upload-events";
import { cancelledAfterEnd, isCancelled } from "./cancellation";
import { WriteQueue } from "./write-queue";
import type { ResumeSession, ResumeSessions } from "./resume-sessions";

// Upload: a header, then chunks parsed as they arrive into the canonical
// binary form (spooled to a temp file), validated at the end, then stored
// content-addressed with the dataset record. One function per stage.

type UploadRequest = pbUpload.UploadRequest;
type UploadResponse = pbUpload.UploadResponse;
type UploadCall = ServerReadableStream<UploadRequest, UploadResponse>;

export interface UploadHandlerDeps {
  config: UploadConfig;
  repo: DatasetRepo;
  blobs: BlobStore;
  bus: EventBus;
  log: Logger;
  sessions: ResumeSessions;
}

export const cancelled = (cause?: unknown) => new TdaError(GrpcStatus.CANCELLED, "upload cancelled by the client", { reason: "CANCELLED", cause });

/** Largest slice of input handed to the parser at once (bounds the canonical buffers in memory). */
const SLICE_BYTES = 1024 * 1024;
const MAX_NAME = 512;
/** Canonical output queued for the temp file before the input stream is made to wait. */
const MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024;

/** One upload in progress: what the stages share. */
interface Upload {
  owner: string;
  header: pbUpload.UploadHeader;
  session: ResumeSession | undefined;
  uploadId: string;
  events: UploadEvents;
  log: Logger;
  /** Bytes received so far. */
  bytes: number;
  /** The spool file while it is not yet stored. */
  temp?: string;
}

export function validateHeader(config: UploadConfig, sessions: ResumeSessions, h: pbUpload.UploadHeader): void {
  if (h.name.length > MAX_NAME) throw headerError("name", `name longer than ${MAX_NAME} characters`);
  if (h.dim > config.maxDim) throw dimTooLarge("header.dim: ", config.maxDim, "header.dim");
  if (h.totalBytes > config.maxBytes) throw tooLarge(config.maxBytes);
  if (h.resumeOffset > 0 && (!h.uploadId || !sessions.enabled)) {
    const why = h.uploadId ? "resumable uploads are disabled (UPLOAD_RESUME_TTL_SECONDS=0)" : "resuming needs header.upload_id";
    throw new TdaError(GrpcStatus.FAILED_PRECONDITION, `cannot resume: ${why}`, { reason: "UPLOAD_NOT_RESUMABLE" });
  }
  if (h.uploadId && !/^[A-Za-z0-9_.-]{1,128}$/.test(h.uploadId)) throw headerError("upload_id", "upload_id must be 1-128 characters of [A-Za-z0-9_.-]");
}

/** Reads and checks the header, resumes its session, tells the client the upload id. */
async function begin(deps: UploadHandlerDeps, call: UploadCall, it: AsyncIterator<UploadRequest>, span: Span, ctx: Context): Promise<Upload> {
  const { config, sessions } = deps;
  const owner = tenantOf(call.metadata);
  const first = await it.next();
  if (first.done || first.value.msg?.$case !== "header") {
    throw invalidArgument("the first message of an upload must be the header", [{ field: "header", description: "missing" }]);
  }
  let header = first.value.msg.value;
  validateHeader(config, sessions, header);
  const session = sessions.enabled && header.uploadId ? await sessions.begin(owner, header) : undefined;
  if (session) header = session.header;
  const uploadId = header.uploadId || `up_${randomBytes(12).toString("hex")}`;
  const initial = new Metadata();
  initial.set("x-upload-id", uploadId);
  call.sendMetadata(initial);
  span.setAttributes({ "tda.upload_id": uploadId, "tda.owner": owner, "tda.format": formatName(header.format) });
  const base = {
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
  };
  const events = new UploadEvents(deps.bus, deps.log, base, ctx, config.progressIntervalMs, config.progressBytes);
  return { owner, header, session, uploadId, events, log: deps.log.child({ uploadId, owner }), bytes: 0 };
}

/**
 * Receives the rest of the stream (after the replay of a resumed session's
 * earlier bytes) through the parser into the spool file, and checks its end.
 * Returns the finished parser.
 */
async function receive(deps: UploadHandlerDeps, call: UploadCall, it: AsyncIterator<UploadRequest>, up: Upload): Promise<UploadParser> {
  const { config } = deps;
  const parser = new UploadParser(up.header.format, {
    maxPoints: config.maxPoints,
    maxDim: config.maxDim,
    maxTokenBytes: config.maxTokenBytes,
    declaredDim: up.header.dim,
  });
  await up.events.emit("upload.started", { bytes: up.session?.offset ?? 0 });
  up.temp = await deps.blobs.tempPath();
  const fh = await fsp.open(up.temp, "wx");
  const out = new WriteQueue(fh, MAX_PENDING_WRITE_BYTES, config.syncEveryBytes);
  // a written chunk goes back to the sink that made it
  const recycle = (b: Uint8Array) => parser.sink.recycle(b);
  const feed = async (chunk: Uint8Array) => {
    up.bytes += chunk.length;
    if (up.bytes > config.maxBytes) throw tooLarge(config.maxBytes);
    for (let off = 0; off < chunk.length; off += SLICE_BYTES) {
      parser.push(chunk.subarray(off, Math.min(chunk.length, off + SLICE_BYTES)));
      for (const b of parser.sink.take()) out.push(b, recycle);
      await out.room();
    }
  };
  try {
    // a resumed upload first replays the bytes received before the break
    if (up.session) for await (const chunk of up.session.replay()) await feed(chunk);
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      const msg = next.value.msg;
      if (msg?.$case !== "chunk") throw invalidArgument("only the first message may be a header", [{ field: "header", description: "sent twice" }]);
      if (up.session) await up.session.append(msg.value);
      await feed(msg.value);
      up.events.progress(up.bytes);
    }
    await checkEnd(deps.config, call, up);
    parser.finish();
    for (const b of parser.sink.take(true)) out.push(b, recycle);
    await out.drain();
    await fh.sync();
  } finally {
    // never close the file under a queued write
    await out.drain().catch(() => undefined);
    await fh.close();
  }
  return parser;
}

async function checkEnd(config: UploadConfig, call: UploadCall, up: Upload): Promise<void> {
  // A client cancel also ends the request stream (grpc-js clients send END_STREAM,
  // then RST_STREAM): give the reset a moment to arrive before validating the
  // end of the input and committing, so a cancelled upload is not taken for a
  // complete (or a malformed) one.
  if (await cancelledAfterEnd(call, config.endGraceMs)) throw cancelled();
  const total = up.header.totalBytes;
  if (total > 0 && up.bytes !== total) {
    throw invalidArgument(`received ${up.bytes} bytes but header.total_bytes is ${total}`, [
      { field: "header.total_bytes", description: `received ${up.bytes} bytes` },
    ]);
  }
}

/** The validated upload as a dataset record, and the summary its events carry. */
function datasetOf(up: Upload, parser: UploadParser): { ds: StoredDataset; summary: UploadEventFields } {
  const sink = parser.sink;
  const sha = sink.sha256();
  const isPoints = sink.kind === "points";
  const summary = {
    bytes: up.bytes,
    sha256: sha,
    pointCount: sink.n,
    dimension: sink.dim,
    datasetId: datasetIdOf(sha),
    minBounds: isPoints ? Array.from(sink.min) : [],
    maxBounds: isPoints ? Array.from(sink.max) : [],
    format: formatName(parser.format),
  };
  const ds: StoredDataset = {
    datasetId: summary.datasetId,
    name: up.header.name,
    format: parser.format,
    kind: isPoints ? pbUpload.DatasetKind.DATASET_KIND_POINT_CLOUD : pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX,
    n: sink.n,
    dim: sink.dim,
    minBounds: summary.minBounds,
    maxBounds: summary.maxBounds,
    sha256: sha,
    sizeBytes: sink.sizeBytes,
    owner: up.owner,
    createdAt: nowTimestamp(),
    sourceBytes: up.bytes,
    uploadId: up.uploadId,
    contentType: up.header.contentType,
  };
  return { ds, summary };
}

/**
 * Stores the spooled blob (content-addressed) and the dataset record under the
 * blob's lock. `deduplicated` speaks of this tenant's own datasets only: that
 * the shared content store already held the blob (another tenant stored the
 * same content) is never told, or tenants could probe each other's files.
 */
async function store(deps: UploadHandlerDeps, ds: StoredDataset, tempFile: string): Promise<{ stored: StoredDataset; deduplicated: boolean }> {
  const { repo, blobs } = deps;
  return repo.withBlobLock(ds.sha256, async () => {
    const existing = await repo.get(ds.owner, ds.datasetId);
    const blobExisted = await blobs.putFromTemp(tempFile, ds.sha256);
    if (existing) return { stored: existing, deduplicated: true };
    try {
      const created = await repo.create(ds);
      return { stored: created ? ds : ((await repo.get(ds.owner, ds.datasetId)) ?? ds), deduplicated: !created };
    } catch (err) {
      // nothing partial: drop the blob again unless someone else references it
      if (!blobExisted && (await repo.refCount(ds.sha256).catch(() => 1)) === 0) await blobs.delete(ds.sha256).catch(() => undefined);
      throw err;
    }
  });
}

/** Cleans up after a failed upload (spool, resume session) and reports it; returns the error to throw. */
async function failed(deps: UploadHandlerDeps, call: UploadCall, up: Upload, caught: unknown): Promise<unknown> {
  // a broken stream surfaces in several ways; report it as the cancellation it is
  const err = !(caught instanceof TdaError) && isCancelled(call) ? cancelled(caught) : caught;
  if (up.temp) await deps.blobs.discardTemp(up.temp).catch((e: unknown) => up.log.warn({ err: e }, "could not remove temp file"));
  const e = err instanceof TdaError ? err : undefined;
  // an interrupted resumable upload keeps its spool; bad input ends the session
  const interrupted = !e || e.code === GrpcStatus.CANCELLED || e.code === GrpcStatus.UNAVAILABLE || e.code === GrpcStatus.DEADLINE_EXCEEDED;
  if (up.session) {
    await (interrupted ? up.session.suspend() : up.session.discard()).catch((x: unknown) => up.log.warn({ err: x }, "could not update the resume session"));
  }
  const resumable = up.session && interrupted ? ` (resumable from byte ${up.bytes} until the session expires)` : "";
  void up.events.emit("upload.failed", {
    bytes: up.bytes,
    errorCode: e ? (e.reason ?? GrpcStatus[e.code]) : "INTERNAL",
    errorMessage: (e ? e.message : "internal error") + resumable,
  });
  await up.events.settled();
  return err;
}

export function uploadHandler(deps: UploadHandlerDeps): (call: UploadCall) => Promise<UploadResponse> {
  return (call) =>
    inSpan("tda.upload.v1.UploadService/Upload", contextFromMetadata(call.metadata), SpanKind.SERVER, async (span, ctx) => {
      const it = call[Symbol.asyncIterator]() as AsyncIterator<UploadRequest>;
      const up = await begin(deps, call, it, span, ctx);
      try {
        const parser = await receive(deps, call, it, up);
        const { ds, summary } = datasetOf(up, parser);
        await up.events.emit("upload.validated", summary);
        if (isCancelled(call)) throw cancelled();
        const { stored, deduplicated } = await store(deps, ds, up.temp!);
        up.temp = undefined;
        await up.session?.discard();
        span.setAttributes({ "tda.dataset_id": ds.datasetId, "tda.n": ds.n, "tda.dim": ds.dim, "tda.deduplicated": deduplicated });
        await up.events.emit("upload.completed", summary);
        up.log.info({ datasetId: ds.datasetId, n: ds.n, dim: ds.dim, bytes: up.bytes, deduplicated, format: summary.format }, "upload stored");
        return { dataset: publicDataset(stored), uploadId: up.uploadId, deduplicated };
      } catch (caught) {
        throw await failed(deps, call, up, caught);
      }
    });
}
