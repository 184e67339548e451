import { Metadata } from "@grpc/grpc-js";
import { isSpanContextValid } from "@opentelemetry/api";
import {
  clientStream,
  contextFromMetadata,
  inSpan,
  pbCommon,
  serverStream,
  SpanKind,
  traceIdOf,
  unary,
  type EventBus,
  type Logger,
  type pbGateway,
  pbJobs,
  type pbUpload,
} from "@tda/common";
import type { Authenticator } from "./auth";
import type { BrokerCheck } from "./stream-handlers";
import { diagramNpy, MAX_DOWNLOAD_DIMENSION, NPY_CONTENT_TYPE, RIPSER_CONTENT_TYPE, ripserText } from "./downloads";
import { barcodeSvg, diagramSvg, MAX_PICTURE_SIDE, SVG_CONTENT_TYPE } from "./pictures";
import type { RateLimiter } from "./rate-limit";
import type { StreamStats } from "./stream-stats";
import { configureStream, getStreamStatus, publishStream, type StreamDeps } from "./stream-handlers";
import type { StreamWatch } from "./stream-watch";
import { callUnary, type RequestContext, type ServerSurfaceCall } from "./upstream";
import { forwardUpload, forwardWatchJob } from "./forward-streams";
import {
  alphaViolations,
  distanceViolations,
  effectiveLimits,
  featuresViolations,
  estimateViolations,
  idViolations,
  MAX_MODULUS,
  pageSizeViolations,
  requireValid,
  ripsViolations,
} from "./validation";

export const GATEWAY_SERVICE = "tda.gateway.v1.TdaService";
export { STREAM_TOPIC, STREAM_EVENT_TYPE } from "./stream-handlers";
export const TRACE_ID_HEADER = "x-trace-id";

function sideViolations(sides: Record<string, number>): { field: string; description: string }[] {
  return Object.entries(sides)
    .filter(([, v]) => v > MAX_PICTURE_SIDE)
    .map(([field]) => ({ field, description: `must be at most ${MAX_PICTURE_SIDE} pixels (0: default)` }));
}

export interface GatewayDeps {
  log: Logger;
  auth: Authenticator;
  upload: pbUpload.UploadServiceClient;
  jobs: pbJobs.JobServiceClient;
  bus: EventBus;
  streams: StreamStats;
  broker: BrokerCheck;
  /** Per-tenant quota on submissions, uploads and stream publishes. */
  limiter: RateLimiter;
  /** Deadline of every downstream unary call. */
  downstreamTimeoutMs: number;
  /** Largest PublishStream payload in bytes. */
  streamMaxBytes: number;
  /** Kafka topic prefix (reported by GetStreamStatus). */
  topicPrefix: string;
  /** The live-stream methods' own dependencies (stream-handlers.ts). */
  stream: Pick<StreamDeps, "configs" | "flink" | "outputs">;
  /** ListStreams and WatchStream (stream-watch.ts). */
  streamWatch: StreamWatch;
  /** Counts the WatchJob forwards in progress (forward-streams.ts). */
  watches?: { forwards: number };
}

/** What every handler group shares: the deps, the call frame and the engines' published modulus bound. */
interface Frame {
  deps: GatewayDeps;
  timeout: number;
  handle: <T>(method: string, call: ServerSurfaceCall, fn: (rc: RequestContext) => Promise<T>) => Promise<T>;
  publishedMaxModulus: (rc: RequestContext) => Promise<number>;
}

/**
 * Runs one incoming call inside a server span (parent taken from the
 * caller's traceparent), tells the caller the trace id in the response
 * headers, and authenticates it.
 */
function handle<T>(deps: GatewayDeps, method: string, call: ServerSurfaceCall, fn: (rc: RequestContext) => Promise<T>): Promise<T> {
  const { log, auth } = deps;
  const parent = contextFromMetadata(call.metadata);
  return inSpan(
    `${GATEWAY_SERVICE}/${method}`,
    parent,
    SpanKind.SERVER,
    async (span, ctx) => {
      const traceId = isSpanContextValid(span.spanContext()) ? traceIdOf(ctx) : "";
      if (traceId !== "") {
        const md = new Metadata();
        md.set(TRACE_ID_HEADER, traceId);
        call.sendMetadata(md);
      }
      const tenant = await auth.authenticate(call.metadata);
      span.setAttribute("tda.tenant", tenant);
      const started = Date.now();
      try {
        const out = await fn({ method, tenant, ctx, traceId, call });
        log.info({ method, tenant, traceId, ms: Date.now() - started }, "call ok");
        return out;
      } catch (err) {
        log.info({ method, tenant, traceId, ms: Date.now() - started, code: (err as { code?: unknown }).code }, "call failed");
        throw err;
      }
    },
    { "rpc.system": "grpc", "rpc.service": GATEWAY_SERVICE, "rpc.method": method },
  );
}

/**
 * The largest modulus the engines accept, as they publish it (GetInfo
 * EngineLimits through the scheduler's GetLimits), reused for 30 s; asked
 * only when a request names a modulus. Unknown (scheduler unreachable): the
 * gateway's own bound, and the scheduler checks again.
 */
function publishedModulus(deps: GatewayDeps): (rc: RequestContext) => Promise<number> {
  let published: { at: number; maxModulus: number } | undefined;
  return async (rc) => {
    if (published && Date.now() - published.at < 30_000) return published.maxModulus;
    try {
      const l = await callUnary<pbJobs.GetLimitsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetLimits", deps.downstreamTimeoutMs, (md, o, cb) =>
        deps.jobs.getLimits({}, md, o, cb),
      );
      if (l.maxModulus > 0) published = { at: Date.now(), maxModulus: l.maxModulus };
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, "GetLimits failed; the modulus is checked against the gateway's own bound");
    }
    return published?.maxModulus ?? MAX_MODULUS;
  };
}

function submit(f: Frame, rc: RequestContext, req: pbJobs.SubmitJobRequest): Promise<pbJobs.SubmitJobResponse> {
  // the per-tenant active-job limit is the scheduler's (checked inside its submit)
  return callUnary<pbJobs.SubmitJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/SubmitJob", f.timeout, (md, o, cb) =>
    f.deps.jobs.submitJob(req, md, o, cb),
  );
}

/** The compute methods: checked here, counted against the tenant's quota, submitted to the scheduler. */
function computeHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "computeVietorisRips" | "computeAlphaComplex"> {
  const { log, limiter } = f.deps;
  return {
    computeVietorisRips: unary(log, "ComputeVietorisRips", (req, call) =>
      f.handle("ComputeVietorisRips", call, async (rc) => {
        requireValid("invalid ComputeVietorisRips request", ripsViolations(req, req.modulus !== 0 ? await f.publishedMaxModulus(rc) : MAX_MODULUS));
        await limiter.take(rc.tenant);
        const res = await submit(f, rc, {
          datasetId: req.datasetId,
          params: {
            algorithm: pbCommon.Algorithm.ALGORITHM_RIPS,
            maxDim: req.maxDim,
            threshold: req.threshold,
            modulus: req.modulus,
            threads: req.threads,
            alphaRadius: false,
            maxAlpha: undefined,
            sparseEpsilon: req.sparseEpsilon,
          },
          priority: req.priority,
          idempotencyKey: req.idempotencyKey,
          deadlineSeconds: req.deadlineSeconds,
        });
        return { job: res.job };
      }),
    ),
    computeAlphaComplex: unary(log, "ComputeAlphaComplex", (req, call) =>
      f.handle("ComputeAlphaComplex", call, async (rc) => {
        requireValid("invalid ComputeAlphaComplex request", alphaViolations(req));
        await limiter.take(rc.tenant);
        const res = await submit(f, rc, {
          datasetId: req.datasetId,
          params: {
            algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA,
            maxDim: req.maxDim,
            threshold: undefined,
            modulus: 0,
            threads: 0,
            alphaRadius: req.radius,
            maxAlpha: req.maxAlpha,
            sparseEpsilon: undefined,
          },
          priority: req.priority,
          idempotencyKey: req.idempotencyKey,
          deadlineSeconds: req.deadlineSeconds,
        });
        return { job: res.job };
      }),
    ),
  };
}

/** What a client asks before or after computing: estimate, limits, distances, features. */
function planningHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "estimateJob" | "getLimits" | "diagramDistance" | "getFeatures"> {
  const { log, jobs } = f.deps;
  const timeout = f.timeout;
  return {
    estimateJob: unary(log, "EstimateJob", (req, call) =>
      f.handle("EstimateJob", call, async (rc) => {
        requireValid("invalid EstimateJob request", estimateViolations(req, req.params?.modulus ? await f.publishedMaxModulus(rc) : MAX_MODULUS));
        return callUnary<pbJobs.EstimateJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/EstimateJob", timeout, (md, o, cb) =>
          jobs.estimateJob({ datasetId: req.datasetId, params: req.params }, md, o, cb),
        );
      }),
    ),
    getLimits: unary(log, "GetLimits", (_req, call) =>
      f.handle("GetLimits", call, async (rc) =>
        effectiveLimits(
          await callUnary<pbJobs.GetLimitsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetLimits", timeout, (md, o, cb) => jobs.getLimits({}, md, o, cb)),
        ),
      ),
    ),
    diagramDistance: unary(log, "DiagramDistance", (req, call) =>
      f.handle("DiagramDistance", call, async (rc) => {
        requireValid("invalid DiagramDistance request", distanceViolations(req));
        // the scheduler checks that both jobs are the caller's and completed
        return callUnary<pbJobs.DiagramDistanceResponse>(rc, "scheduler", "tda.jobs.v1.JobService/DiagramDistance", timeout, (md, o, cb) =>
          jobs.diagramDistance({ jobIdA: req.jobIdA, jobIdB: req.jobIdB, params: req.params }, md, o, cb),
        );
      }),
    ),
    getFeatures: unary(log, "GetFeatures", (req, call) =>
      f.handle("GetFeatures", call, async (rc) => {
        requireValid("invalid GetFeatures request", featuresViolations(req));
        const { jobId, ...params } = req;
        return callUnary<pbJobs.VectorizeResponse>(rc, "scheduler", "tda.jobs.v1.JobService/Vectorize", timeout, (md, o, cb) =>
          jobs.vectorize({ jobId, params }, md, o, cb),
        );
      }),
    ),
  };
}

/** A job's record, list, live updates, cancellation and result. */
function jobHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "getJob" | "listJobs" | "watchJob" | "cancelJob" | "getResult"> {
  const { log, jobs } = f.deps;
  const timeout = f.timeout;
  return {
    getJob: unary(log, "GetJob", (req, call) =>
      f.handle("GetJob", call, async (rc) => {
        requireValid("invalid GetJob request", idViolations("job_id", req.jobId));
        const res = await callUnary<pbJobs.GetJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetJob", timeout, (md, o, cb) =>
          jobs.getJob({ jobId: req.jobId }, md, o, cb),
        );
        return { job: res.job };
      }),
    ),
    listJobs: unary(log, "ListJobs", (req, call) =>
      f.handle("ListJobs", call, async (rc) => {
        requireValid("invalid ListJobs request", pageSizeViolations(req.pageSize));
        const res = await callUnary<pbJobs.ListJobsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/ListJobs", timeout, (md, o, cb) =>
          jobs.listJobs({ pageSize: req.pageSize, pageToken: req.pageToken, state: req.state }, md, o, cb),
        );
        return { jobs: res.jobs, nextPageToken: res.nextPageToken };
      }),
    ),
    watchJob: serverStream(log, "WatchJob", (call) => f.handle("WatchJob", call, (rc) => forwardWatchJob(f.deps, rc, call))),
    cancelJob: unary(log, "CancelJob", (req, call) =>
      f.handle("CancelJob", call, async (rc) => {
        requireValid("invalid CancelJob request", idViolations("job_id", req.jobId));
        const res = await callUnary<pbJobs.CancelJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/CancelJob", timeout, (md, o, cb) =>
          jobs.cancelJob({ jobId: req.jobId }, md, o, cb),
        );
        return { job: res.job };
      }),
    ),
    getResult: unary(log, "GetResult", (req, call) =>
      f.handle("GetResult", call, async (rc) => {
        requireValid("invalid GetResult request", idViolations("job_id", req.jobId));
        const res = await fetchResult(f, rc, req.jobId);
        return { jobId: res.jobId, result: res.result, cacheHit: res.cacheHit };
      }),
    ),
  };
}

function fetchResult(f: Frame, rc: RequestContext, jobId: string): Promise<pbJobs.GetResultResponse> {
  return callUnary<pbJobs.GetResultResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetResult", f.timeout, (md, o, cb) =>
    f.deps.jobs.getResult({ jobId }, md, o, cb),
  );
}

/** A completed job's result as files: SVG pictures, Ripser's text, NumPy arrays. */
function downloadHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "getResultDiagramSvg" | "getResultBarcodeSvg" | "getResultRipserText" | "getResultNpy"> {
  const { log } = f.deps;
  return {
    getResultDiagramSvg: unary(log, "GetResultDiagramSvg", (req, call) =>
      f.handle("GetResultDiagramSvg", call, async (rc) => {
        requireValid("invalid GetResultDiagramSvg request", [
          ...idViolations("job_id", req.jobId),
          ...sideViolations({ width: req.width, height: req.height }),
        ]);
        const res = await fetchResult(f, rc, req.jobId);
        const svg = diagramSvg(res.result?.diagrams ?? [], { width: req.width, height: req.height, title: `persistence diagram of job ${req.jobId}` });
        return { contentType: SVG_CONTENT_TYPE, data: Buffer.from(svg, "utf8"), extensions: [] };
      }),
    ),
    getResultBarcodeSvg: unary(log, "GetResultBarcodeSvg", (req, call) =>
      f.handle("GetResultBarcodeSvg", call, async (rc) => {
        requireValid("invalid GetResultBarcodeSvg request", [...idViolations("job_id", req.jobId), ...sideViolations({ width: req.width })]);
        const res = await fetchResult(f, rc, req.jobId);
        const svg = barcodeSvg(res.result?.diagrams ?? [], { width: req.width, title: `barcode of job ${req.jobId}` });
        return { contentType: SVG_CONTENT_TYPE, data: Buffer.from(svg, "utf8"), extensions: [] };
      }),
    ),
    getResultRipserText: unary(log, "GetResultRipserText", (req, call) =>
      f.handle("GetResultRipserText", call, async (rc) => {
        requireValid("invalid GetResultRipserText request", idViolations("job_id", req.jobId));
        const res = await fetchResult(f, rc, req.jobId);
        return { contentType: RIPSER_CONTENT_TYPE, data: Buffer.from(ripserText(res.result?.diagrams ?? []), "utf8"), extensions: [] };
      }),
    ),
    getResultNpy: unary(log, "GetResultNpy", (req, call) =>
      f.handle("GetResultNpy", call, async (rc) => {
        requireValid("invalid GetResultNpy request", [
          ...idViolations("job_id", req.jobId),
          ...(req.dimension > MAX_DOWNLOAD_DIMENSION ? [{ field: "dimension", description: `at most ${MAX_DOWNLOAD_DIMENSION}` }] : []),
        ]);
        const res = await fetchResult(f, rc, req.jobId);
        const diagram = res.result?.diagrams.find((d) => d.dimension === req.dimension);
        return { contentType: NPY_CONTENT_TYPE, data: diagramNpy(diagram), extensions: [] };
      }),
    ),
  };
}

/** Datasets: upload (streamed through), read, list, delete — the upload service's. */
function datasetHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "uploadData" | "getDataset" | "listDatasets" | "deleteDataset"> {
  const { log, upload, limiter } = f.deps;
  const timeout = f.timeout;
  return {
    uploadData: clientStream(log, "UploadData", (call) =>
      f.handle("UploadData", call, async (rc) => {
        await limiter.take(rc.tenant);
        return forwardUpload(f.deps, rc, call);
      }),
    ),
    getDataset: unary(log, "GetDataset", (req, call) =>
      f.handle("GetDataset", call, async (rc) => {
        requireValid("invalid GetDataset request", idViolations("data_id", req.dataId));
        const res = await callUnary<pbUpload.GetDatasetResponse>(rc, "upload", "tda.upload.v1.UploadService/GetDataset", timeout, (md, o, cb) =>
          upload.getDataset({ datasetId: req.dataId }, md, o, cb),
        );
        return { dataset: res.dataset };
      }),
    ),
    listDatasets: unary(log, "ListDatasets", (req, call) =>
      f.handle("ListDatasets", call, async (rc) => {
        requireValid("invalid ListDatasets request", pageSizeViolations(req.pageSize));
        const res = await callUnary<pbUpload.ListDatasetsResponse>(rc, "upload", "tda.upload.v1.UploadService/ListDatasets", timeout, (md, o, cb) =>
          upload.listDatasets({ pageSize: req.pageSize, pageToken: req.pageToken }, md, o, cb),
        );
        return { datasets: res.datasets, nextPageToken: res.nextPageToken };
      }),
    ),
    deleteDataset: unary(log, "DeleteDataset", (req, call) =>
      f.handle("DeleteDataset", call, async (rc) => {
        requireValid("invalid DeleteDataset request", idViolations("data_id", req.dataId));
        await callUnary<pbUpload.DeleteDatasetResponse>(rc, "upload", "tda.upload.v1.UploadService/DeleteDataset", timeout, (md, o, cb) =>
          upload.deleteDataset({ datasetId: req.dataId }, md, o, cb),
        );
        return {};
      }),
    ),
  };
}

/** The live-stream methods (stream-handlers.ts, stream-watch.ts). */
function streamHandlers(f: Frame): Pick<pbGateway.TdaServiceServer, "publishStream" | "configureStream" | "getStreamStatus" | "listStreams" | "watchStream"> {
  const { deps } = f;
  const { log, bus, streams, broker, limiter } = deps;
  const stream: StreamDeps = { log, bus, streams, broker, limiter, streamMaxBytes: deps.streamMaxBytes, topicPrefix: deps.topicPrefix, ...deps.stream };
  return {
    publishStream: unary(log, "PublishStream", (req, call) => f.handle("PublishStream", call, (rc) => publishStream(stream, rc, req))),
    configureStream: unary(log, "ConfigureStream", (req, call) => f.handle("ConfigureStream", call, (rc) => configureStream(stream, rc, req))),
    getStreamStatus: unary(log, "GetStreamStatus", (req, call) => f.handle("GetStreamStatus", call, (rc) => getStreamStatus(stream, rc, req))),
    listStreams: unary(log, "ListStreams", (req, call) => f.handle("ListStreams", call, (rc) => deps.streamWatch.listStreams(rc, req))),
    watchStream: serverStream(log, "WatchStream", (call) => f.handle("WatchStream", call, (rc) => deps.streamWatch.watchStream(rc, call))),
  };
}

/** The TdaService handlers: authenticate, validate, forward. */
export function createGateway(deps: GatewayDeps): pbGateway.TdaServiceServer {
  const f: Frame = {
    deps,
    timeout: deps.downstreamTimeoutMs,
    handle: (method, call, fn) => handle(deps, method, call, fn),
    publishedMaxModulus: publishedModulus(deps),
  };
  return {
    ...computeHandlers(f),
    ...planningHandlers(f),
    ...jobHandlers(f),
    ...downloadHandlers(f),
    ...datasetHandlers(f),
    ...streamHandlers(f),
  };
}
