import { Metadata, status as GrpcStatus, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import {
  channelOptions,
  clientCredentials,
  DATASET_ID_RE,
  fromServiceError,
  injectCarrier,
  meshChannelOptions,
  metadataWithTrace,
  notFound,
  pbUpload,
  setTenant,
  TdaError,
  tenantFields,
  unavailable,
  type MeshTls,
} from "@tda/common";

// The scheduler's view of the upload service, which owns datasets: their
// metadata (asked at every submit and estimate: a deleted dataset is not found
// by the next submit) and their canonical float64 values (ReadPoints), both on
// behalf of the job's owner.
//
// The metadata lookups ride on one long-lived LookupDatasets stream (opened on
// first use, again after it fails), each lookup carrying its own signed tenant:
// a unary GetDataset per submit cost both processes more CPU than the lookup
// itself (HTTP/2 headers and trailers, per-call metadata). An upload service
// without LookupDatasets (UNIMPLEMENTED) is asked with GetDataset instead.
//
// A found dataset is answered again from its reply for the time the upload
// service grants in it (cache_ms, counted from when the lookup was sent): the
// upload service returns from a DeleteDataset only that long after the
// dataset is gone, so a submit made after a delete returned still gets
// NOT_FOUND, and the lookups of a busy dataset cost no round trip. At most
// kMaxReused answers are kept (the oldest go first).

export interface UploadClient {
  /** The owner's dataset; NOT_FOUND when it does not exist or is another tenant's. */
  getDataset(owner: string, datasetId: string, ctx: Context, timeoutMs: number): Promise<pbUpload.Dataset>;
  /** Server stream of little-endian float64 chunks. */
  readPoints(owner: string, datasetId: string, ctx: Context, deadline: number): ClientReadableStream<pbUpload.ReadPointsResponse>;
  close(): void;
}

function tenantMetadata(owner: string, ctx: Context): Metadata {
  const md = new Metadata();
  setTenant(md, owner);
  return metadataWithTrace(md, ctx);
}

/** The error a failed GetDataset or lookup of `datasetId` (status `code`) becomes; `other` for codes passed on as they are. */
function lookupError(code: number, datasetId: string, cause: Error, other: () => TdaError): TdaError {
  if (code === GrpcStatus.NOT_FOUND) return notFound(`dataset "${datasetId}"`);
  if (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED) return unavailable("the upload service is unavailable", cause);
  return other();
}

/** Answers kept for reuse, at most. */
export const kMaxReused = 10_000;

interface Reusable {
  dataset: pbUpload.Dataset;
  /** performance.now() until which it may be reused. */
  until: number;
}

/** The found answers kept for reuse until their lease ends (at most kMaxReused: the oldest go first). */
function reusableAnswers() {
  const kept = new Map<string, Reusable>();
  return {
    get(key: string): pbUpload.Dataset | undefined {
      const k = kept.get(key);
      if (k && performance.now() < k.until) return k.dataset;
      if (k) kept.delete(key);
      return undefined;
    },
    keep(key: string, dataset: pbUpload.Dataset, until: number): void {
      kept.delete(key); // (re-inserted last: the order is the age)
      if (kept.size >= kMaxReused) kept.delete(kept.keys().next().value!);
      kept.set(key, { dataset, until });
    },
    clear: () => kept.clear(),
  };
}

interface Lookup {
  datasetId: string;
  /** Where a reusable answer is kept, and when the lookup was sent. */
  key: string;
  sentAt: number;
  resolve: (d: pbUpload.Dataset) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** Sends it again (by GetDataset) when the stream turns out to be unsupported. */
  unary: () => void;
}

/** One LookupDatasets stream and the lookups waiting for their reply on it. */
interface LookupStream {
  call: ClientDuplexStream<pbUpload.LookupDatasetsRequest, pbUpload.LookupDatasetsResponse>;
  waiting: Map<number, Lookup>;
  /** Replies received so far (a stream that still answers others is not given up for one slow lookup). */
  replies: number;
}

/** GetDataset as one unary call (an upload service without LookupDatasets). */
function getDatasetUnary(client: pbUpload.UploadServiceClient, owner: string, datasetId: string, ctx: Context, timeoutMs: number): Promise<pbUpload.Dataset> {
  return new Promise((resolve, reject) => {
    client.getDataset(
      { datasetId },
      tenantMetadata(owner, ctx),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: pbUpload.GetDatasetResponse) => {
        if (!err && res?.dataset) return resolve(res.dataset);
        if (!err) return reject(notFound(`dataset "${datasetId}"`));
        reject(lookupError(err.code, datasetId, err, () => fromServiceError(err)));
      },
    );
  });
}

/** Settles `l` with its reply `r`; a found dataset is kept for reuse for the lease the reply grants. */
function settle(l: Lookup, r: pbUpload.LookupDatasetsResponse, reusable: ReturnType<typeof reusableAnswers>): void {
  clearTimeout(l.timer);
  if (r.code === GrpcStatus.OK && r.dataset) {
    if (r.cacheMs > 0) reusable.keep(l.key, r.dataset, l.sentAt + r.cacheMs);
    return l.resolve(r.dataset);
  }
  // OK without a dataset: not found, as a unary reply without one
  const code = r.code === GrpcStatus.OK ? GrpcStatus.NOT_FOUND : r.code;
  l.reject(lookupError(code, l.datasetId, new Error(r.message), () => new TdaError(r.code, r.message, { reason: r.reason || undefined })));
}

export function createUploadClient(address: string, tls?: MeshTls): UploadClient {
  const client = new pbUpload.UploadServiceClient(address, clientCredentials(tls), meshChannelOptions(tls, channelOptions));
  let current: LookupStream | undefined;
  let streamUnsupported = false;
  let nextId = 1;
  const reusable = reusableAnswers();

  const unaryGetDataset = (owner: string, datasetId: string, ctx: Context, timeoutMs: number) => getDatasetUnary(client, owner, datasetId, ctx, timeoutMs);

  /**
   * Forgets `s` (the next lookup opens a new stream) and settles what waited on
   * it: asked again with GetDataset when the service does not have the stream
   * (UNIMPLEMENTED) or ended it cleanly (e.g. at its shutdown: the unary call
   * finds another replica or fails as any call would); UNAVAILABLE when the
   * stream broke (their outcome is unknown).
   */
  const drop = (s: LookupStream, err: ServiceError | undefined): void => {
    if (current === s) current = undefined;
    if (err?.code === GrpcStatus.UNIMPLEMENTED) streamUnsupported = true;
    for (const l of s.waiting.values()) {
      clearTimeout(l.timer);
      if (!err || err.code === GrpcStatus.UNIMPLEMENTED) l.unary();
      else l.reject(unavailable("the upload service is unavailable", err));
    }
    s.waiting.clear();
  };

  const open = (): LookupStream => {
    const s: LookupStream = { call: client.lookupDatasets(), waiting: new Map(), replies: 0 };
    s.call.on("data", (r: pbUpload.LookupDatasetsResponse) => {
      s.replies++;
      const l = s.waiting.get(r.id);
      if (!l) return; // timed out meanwhile
      s.waiting.delete(r.id);
      settle(l, r, reusable);
    });
    s.call.on("error", (err: ServiceError) => drop(s, err));
    s.call.on("end", () => drop(s, undefined));
    return s;
  };

  return {
    getDataset(owner, datasetId, ctx, timeoutMs) {
      // another tenant's dataset is indistinguishable from one that does not exist
      if (!DATASET_ID_RE.test(datasetId)) return Promise.reject(notFound(`dataset "${datasetId}"`));
      if (streamUnsupported) return unaryGetDataset(owner, datasetId, ctx, timeoutMs);
      const key = `${owner}\u0000${datasetId}`;
      const kept = reusable.get(key);
      if (kept) return Promise.resolve(kept);
      return new Promise((resolve, reject) => {
        const s = (current ??= open());
        const id = nextId++;
        const repliesBefore = s.replies;
        const timer = setTimeout(() => {
          s.waiting.delete(id);
          reject(unavailable("the upload service is unavailable", new Error(`no lookup reply within ${timeoutMs} ms`)));
          // a stream that stopped answering (nothing since this lookup was sent) is not used again
          if (current === s && s.replies === repliesBefore) {
            current = undefined;
            s.call.cancel();
          }
        }, timeoutMs);
        s.waiting.set(id, {
          datasetId,
          key,
          sentAt: performance.now(),
          resolve,
          reject,
          timer,
          unary: () => unaryGetDataset(owner, datasetId, ctx, timeoutMs).then(resolve, reject),
        });
        s.call.write({ id, datasetId, ...tenantFields(owner), traceparent: injectCarrier(ctx).traceparent ?? "" });
      });
    },
    readPoints(owner, datasetId, ctx, deadline) {
      return client.readPoints({ datasetId, chunkBytes: 1 << 20 }, tenantMetadata(owner, ctx), { deadline });
    },
    close() {
      reusable.clear();
      if (current) {
        current.call.end();
        current = undefined;
      }
      client.close();
    },
  };
}
