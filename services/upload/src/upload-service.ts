import { status as GrpcStatus, type Metadata, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import {
  SpanKind,
  TdaError,
  clientStream,
  contextFromCarrier,
  contextFromMetadata,
  inSpan,
  invalidArgument,
  logError,
  notFound,
  pbUpload,
  serverStream,
  tenantOf,
  tenantOfFields,
  toServiceError,
  unary,
  writeUnlessCancelled,
  type EventBus,
  type Logger,
  type Redis,
} from "@tda/common";
import type { UploadConfig } from "./config";
import type { BlobStore } from "./blob-store";
import { createDatasetRepo, publicDataset, type DatasetRepo, type StoredDataset } from "./dataset-repo";
import { createResumeSessions, type ResumeSessions } from "./resume-sessions";
import { uploadHandler } from "./upload-handler";

export interface UploadServiceDeps {
  config: UploadConfig;
  redis: Redis;
  blobs: BlobStore;
  bus: EventBus;
  log: Logger;
  /** Resumable-upload sessions; by default spooled under config.dataDir. */
  sessions?: ResumeSessions;
  /** The open LookupDatasets streams, ended at shutdown (createLookupStreams). */
  lookupStreams?: LookupStreams;
}

/**
 * The open LookupDatasets streams. They last as long as their caller, so a
 * graceful shutdown (which waits for open calls) ends them itself: `endAll`
 * ends each once the lookups it has received are answered, and any stream
 * opened afterwards right away.
 */
export interface LookupStreams {
  add(end: () => void): () => void;
  endAll(): void;
}

export function createLookupStreams(): LookupStreams {
  const open = new Set<() => void>();
  let ending = false;
  return {
    add(end) {
      if (ending) {
        queueMicrotask(end);
        return () => undefined;
      }
      open.add(end);
      return () => open.delete(end);
    },
    endAll() {
      ending = true;
      for (const end of [...open]) end();
      open.clear();
    },
  };
}

/** What the handlers below share. */
interface Handlers {
  config: UploadConfig;
  repo: DatasetRepo;
  blobs: BlobStore;
  log: Logger;
  lookupStreams: LookupStreams | undefined;
}

async function getDataset(h: Handlers, req: pbUpload.GetDatasetRequest, owner: string): Promise<StoredDataset> {
  if (!req.datasetId) throw invalidArgument("dataset_id is required", [{ field: "dataset_id", description: "empty" }]);
  const d = await h.repo.get(owner, req.datasetId);
  if (!d) throw notFound(`dataset ${req.datasetId}`);
  return d;
}

async function listDatasets(h: Handlers, req: pbUpload.ListDatasetsRequest, owner: string): Promise<pbUpload.ListDatasetsResponse> {
  const size = Math.min(req.pageSize || h.config.defaultPageSize, h.config.maxPageSize);
  let after: string | undefined;
  if (req.pageToken) {
    after = Buffer.from(req.pageToken, "base64url").toString("latin1");
    if (!/^\d{13}:ds_[0-9a-f]{32}$/.test(after))
      throw invalidArgument("page_token is not valid", [{ field: "page_token", description: "not a token returned by ListDatasets" }]);
  }
  const page = await h.repo.list(owner, size, after);
  return {
    datasets: page.datasets.map(publicDataset),
    nextPageToken: page.more && page.last ? Buffer.from(page.last, "latin1").toString("base64url") : "",
  };
}

async function deleteDataset(h: Handlers, req: pbUpload.DeleteDatasetRequest, owner: string): Promise<pbUpload.DeleteDatasetResponse> {
  if (!req.datasetId) throw invalidArgument("dataset_id is required", [{ field: "dataset_id", description: "empty" }]);
  const d = await h.repo.get(owner, req.datasetId);
  if (!d) throw notFound(`dataset ${req.datasetId}`);
  await h.repo.withBlobLock(d.sha256, async () => {
    const r = await h.repo.delete(owner, req.datasetId);
    if (!r) throw notFound(`dataset ${req.datasetId}`);
    if (r.remainingRefs === 0) await h.blobs.delete(r.sha256);
  });
  h.log.info({ owner, datasetId: req.datasetId }, "dataset deleted");
  // a lookup answered before the delete may be reused for lookupLeaseMs after
  // it was sent (LookupDatasetsResponse.cache_ms): the caller learns of the
  // delete only once no such answer is left
  // (+1: a timer may fire up to a millisecond early)
  if (h.config.lookupLeaseMs > 0) await new Promise((res) => setTimeout(res, h.config.lookupLeaseMs + 1));
  return {};
}

async function readPoints(h: Handlers, call: ServerWritableStream<pbUpload.ReadPointsRequest, pbUpload.ReadPointsResponse>): Promise<void> {
  const d = await getDataset(h, call.request, tenantOf(call.metadata));
  const want = call.request.chunkBytes || 1024 * 1024;
  const chunkBytes = Math.max(8, Math.min(16 * 1024 * 1024, want - (want % 8)));
  const stream = h.blobs.openRead(d.sha256, { chunkBytes });
  try {
    let bytes = 0;
    for await (const chunk of stream) {
      if (call.cancelled) break;
      bytes += (chunk as Buffer).length;
      if (!(await writeUnlessCancelled(call, { chunk: chunk as Buffer }))) break; // cancelled while waiting for "drain"
    }
    h.log.info({ datasetId: d.datasetId, bytes, cancelled: call.cancelled }, "points read");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new TdaError(GrpcStatus.DATA_LOSS, `the stored data of dataset ${d.datasetId} is missing`, { reason: "BLOB_MISSING", cause: err });
    }
    throw err;
  } finally {
    stream.destroy();
  }
}

/** One lookup of LookupDatasets: the reply GetDataset would give, as a message. */
async function lookupOne(h: Handlers, req: pbUpload.LookupDatasetsRequest): Promise<pbUpload.LookupDatasetsResponse> {
  try {
    const d = await inSpan(
      "tda.upload.v1.UploadService/LookupDatasets",
      contextFromCarrier({ traceparent: req.traceparent || undefined }),
      SpanKind.SERVER,
      () => getDataset(h, { datasetId: req.datasetId }, tenantOfFields(req)),
      { "tda.dataset_id": req.datasetId },
    );
    return { id: req.id, dataset: publicDataset(d), code: GrpcStatus.OK, message: "", reason: "", cacheMs: h.config.lookupLeaseMs };
  } catch (err) {
    logError(h.log, "LookupDatasets", err);
    const e = toServiceError(err);
    return {
      id: req.id,
      dataset: undefined,
      code: e.code ?? GrpcStatus.INTERNAL,
      message: e.details ?? "",
      reason: err instanceof TdaError ? (err.reason ?? "") : "",
      cacheMs: 0,
    };
  }
}

/**
 * LookupDatasets: each lookup is answered as GetDataset would answer it, in
 * whatever order they finish; the stream ends once the caller's side has
 * ended and every lookup is answered.
 */
function lookupDatasets(h: Handlers, call: ServerDuplexStream<pbUpload.LookupDatasetsRequest, pbUpload.LookupDatasetsResponse>): void {
  let pending = 0;
  let ended = false;
  let done = false;
  const finish = (): void => {
    if (done || !ended || pending > 0) return;
    done = true;
    unregister();
    if (!call.cancelled) call.end();
  };
  // ended by the caller, or by this service's shutdown
  const unregister =
    h.lookupStreams?.add(() => {
      ended = true;
      finish();
    }) ?? (() => undefined);
  call.on("cancelled", () => {
    done = true;
    unregister();
  });
  call.on("data", (req: pbUpload.LookupDatasetsRequest) => {
    pending++;
    void lookupOne(h, req).then((reply) => {
      pending--;
      if (!call.cancelled && !done) call.write(reply);
      finish();
    });
  });
  call.on("end", () => {
    ended = true;
    finish();
  });
  call.on("error", (err: Error) => h.log.debug({ method: "LookupDatasets", err: err.message }, "lookup stream failed"));
}

const span = <T>(name: string, md: Metadata, fn: () => Promise<T>) =>
  inSpan(`tda.upload.v1.UploadService/${name}`, contextFromMetadata(md), SpanKind.SERVER, fn);

export function createUploadService(deps: UploadServiceDeps): pbUpload.UploadServiceServer {
  const { config, blobs, bus, log } = deps;
  const repo = createDatasetRepo(deps.redis);
  const sessions = deps.sessions ?? createResumeSessions(deps.redis, config.dataDir, config.resumeTtlSeconds);
  const h: Handlers = { config, repo, blobs, log, lookupStreams: deps.lookupStreams };
  return {
    upload: clientStream(log, "Upload", uploadHandler({ config, repo, blobs, bus, log, sessions })),
    getDataset: unary(log, "GetDataset", (req, call) =>
      span("GetDataset", call.metadata, async () => ({ dataset: publicDataset(await getDataset(h, req, tenantOf(call.metadata))) })),
    ),
    lookupDatasets: (call: ServerDuplexStream<pbUpload.LookupDatasetsRequest, pbUpload.LookupDatasetsResponse>) => lookupDatasets(h, call),
    listDatasets: unary(log, "ListDatasets", (req, call) => span("ListDatasets", call.metadata, () => listDatasets(h, req, tenantOf(call.metadata)))),
    deleteDataset: unary(log, "DeleteDataset", (req, call) => span("DeleteDataset", call.metadata, () => deleteDataset(h, req, tenantOf(call.metadata)))),
    readPoints: serverStream(log, "ReadPoints", (call: ServerWritableStream<pbUpload.ReadPointsRequest, pbUpload.ReadPointsResponse>) =>
      span("ReadPoints", call.metadata, () => readPoints(h, call)),
    ),
  };
}
