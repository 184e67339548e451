import { Metadata, type ClientReadableStream, type ServerReadableStream, type ServerWritableStream } from "@grpc/grpc-js";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import {
  clientStream,
  contextFromMetadata,
  inSpan,
  nowTimestamp,
  pbCommon,
  serverStream,
  SpanKind,
  traceIdOf,
  unary,
  unavailable,
  type EventBus,
  type Logger,
  type pbGateway,
  pbJobs,
  type pbUpload,
} from "@tda/common";
import type { Authenticator } from "./auth";
import type { BrokerCheck } from "./stream-handlers";
import { barcodeSvg, diagramSvg, MAX_PICTURE_SIDE, SVG_CONTENT_TYPE } from "./pictures";
import type { RateLimiter } from "./rate-limit";
import type { StreamStats } from "./stream-stats";
import { configureStream, getStreamStatus, publishStream, type StreamDeps } from "./stream-handlers";
import type { StreamWatch } from "./stream-watch";
import { callUnary, clientDeadline, downstreamMetadata, isTransportFailure, upstreamError, type RequestContext, type ServerSurfaceCall } from "./upstream";
import {
  alphaViolations,
  distanceViolations,
  effectiveLimits,
  featuresViolations,
  estimateViolations,
  idViolations,
  MAX_MODULUS,
  pageSizeViolations,
  parseStreamBatch,
  requireValid,
  ripsViolations,
} from "./validation";

export const GATEWAY_SERVICE = "tda.gateway.v1.TdaService";
export { STREAM_TOPIC, STREAM_EVENT_TYPE } from "./stream-handlers";
export const TRACE_ID_HEADER = "x-trace-id";

const TERMINAL_JOB_STATES: ReadonlySet<pbJobs.JobState> = new Set([
  pbJobs.JobState.JOB_STATE_COMPLETED,
  pbJobs.JobState.JOB_STATE_FAILED,
  pbJobs.JobState.JOB_STATE_CANCELLED,
]);

/** How often one WatchJob call re-opens its upstream stream after connection failures. */
const WATCH_REOPEN_LIMIT = 5;

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
}

/** The TdaService handlers: authenticate, validate, forward. */
export function createGateway(deps: GatewayDeps): pbGateway.TdaServiceServer {
  const { log, auth, upload, jobs, bus, streams, broker, limiter } = deps;
  const timeout = deps.downstreamTimeoutMs;
  const stream: StreamDeps = { log, bus, streams, broker, limiter, streamMaxBytes: deps.streamMaxBytes, topicPrefix: deps.topicPrefix, ...deps.stream };

  /**
   * Runs one incoming call inside a server span (parent taken from the
   * caller's traceparent), tells the caller the trace id in the response
   * headers, and authenticates it.
   */
  function handle<T>(method: string, call: ServerSurfaceCall, fn: (rc: RequestContext) => Promise<T>): Promise<T> {
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

  async function submit(rc: RequestContext, req: pbJobs.SubmitJobRequest): Promise<pbJobs.SubmitJobResponse> {
    // the per-tenant active-job limit is the scheduler's (checked inside its submit)
    return callUnary<pbJobs.SubmitJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/SubmitJob", timeout, (md, o, cb) => jobs.submitJob(req, md, o, cb));
  }

  function watchJob(rc: RequestContext, call: ServerWritableStream<pbGateway.WatchJobRequest, pbGateway.WatchJobResponse>): Promise<void> {
    requireValid("invalid WatchJob request", idViolations("job_id", call.request.jobId));
    return inSpan(
      "tda.jobs.v1.JobService/WatchJob",
      rc.ctx,
      SpanKind.CLIENT,
      (span, ctx) =>
        new Promise<void>((resolve, reject) => {
          const deadline = clientDeadline(call);
          let upstream: ClientReadableStream<pbJobs.WatchJobResponse>;
          let generation = 0; // of the upstream stream whose events count
          let finished = false;
          let forwarded = 0;
          let lastSequence = 0;
          let sawTerminal = false;
          let reopened = 0;
          let waitingForDrain = false;
          const finish = (err?: Error): void => {
            if (finished) return;
            finished = true;
            call.removeListener("cancelled", onCancel);
            span.setAttributes({ "tda.updates_forwarded": forwarded, "tda.watch_reopened": reopened });
            if (err) reject(err);
            else resolve();
          };
          const onCancel = (): void => {
            // The client went away: stop the upstream stream too, unless it already
            // sent the terminal update (it then ends by itself, and a reset would
            // only use up the connection's budget of stream resets: Node's HTTP/2
            // closes a connection whose peer resets streams faster than ~33/s).
            if (!sawTerminal) upstream.cancel();
            finish();
          };
          call.once("cancelled", onCancel);
          const open = (): void => {
            const gen = ++generation;
            const up = jobs.watchJob({ jobId: call.request.jobId }, downstreamMetadata(rc, ctx), deadline === undefined ? {} : { deadline });
            upstream = up;
            up.on("data", (msg: pbJobs.WatchJobResponse) => {
              if (gen !== generation) return;
              const u = msg.update;
              // a reopened watch replays the log from the start: skip what was sent
              if (u && u.sequence > 0) {
                if (u.sequence <= lastSequence) return;
                lastSequence = u.sequence;
              }
              if (u && TERMINAL_JOB_STATES.has(u.state)) sawTerminal = true;
              forwarded++;
              if (!call.write({ update: u }) && !waitingForDrain) {
                waitingForDrain = true;
                up.pause();
                call.once("drain", () => {
                  waitingForDrain = false;
                  upstream.resume();
                });
              }
            });
            up.on("error", (err: Error) => {
              if (gen !== generation || finished) return;
              if (call.cancelled) return finish();
              // the connection to the scheduler failed under the stream (not an
              // error of the scheduler's): watch again, the log replays from the start
              if (!sawTerminal && isTransportFailure(err) && reopened < WATCH_REOPEN_LIMIT) {
                reopened++;
                generation++; // whatever this stream still emits is ignored
                log.debug({ jobId: call.request.jobId, err: err.message, reopened }, "WatchJob: upstream connection failed, watching again");
                setTimeout(open, 50 * reopened);
                return;
              }
              finish(upstreamError("scheduler", err));
            });
            up.on("end", () => {
              if (gen === generation) finish();
            });
          };
          open();
        }),
      { "rpc.system": "grpc", "rpc.method": "tda.jobs.v1.JobService/WatchJob", "peer.service": "scheduler" },
    );
  }

  function uploadData(
    rc: RequestContext,
    call: ServerReadableStream<pbGateway.UploadDataRequest, pbGateway.UploadDataResponse>,
  ): Promise<pbGateway.UploadDataResponse> {
    return inSpan(
      "tda.upload.v1.UploadService/Upload",
      rc.ctx,
      SpanKind.CLIENT,
      (span, ctx) =>
        new Promise<pbGateway.UploadDataResponse>((resolve, reject) => {
          let settled = false;
          let waitingForDrain = false;
          let messages = 0;
          let bytes = 0;
          const deadline = clientDeadline(call);
          const upstream = upload.upload(downstreamMetadata(rc, ctx), deadline === undefined ? {} : { deadline }, (err, res) => {
            settled = true;
            call.removeListener("cancelled", onCancel);
            span.setAttributes({ "tda.upload.messages": messages, "tda.upload.bytes": bytes });
            if (call.isPaused()) call.resume(); // let grpc-js discard whatever the client still sends
            if (err) reject(upstreamError("upload", err));
            else resolve({ dataset: res.dataset, uploadId: res.uploadId, deduplicated: res.deduplicated });
          });
          const onCancel = (): void => upstream.cancel();
          call.once("cancelled", onCancel);
          call.on("data", (msg: pbGateway.UploadDataRequest) => {
            if (settled) return;
            messages++;
            if (msg.msg?.$case === "chunk") bytes += msg.msg.value.length;
            // Same oneof and wire form on both sides (header first, then byte chunks): the
            // message goes on as it is; with the upload-wire codec its received bytes are
            // forwarded without re-encoding (to alter a message, forward a new object instead).
            if (!upstream.write(msg) && !waitingForDrain) {
              waitingForDrain = true;
              call.pause();
              upstream.once("drain", () => {
                waitingForDrain = false;
                call.resume();
              });
            }
          });
          call.on("end", () => {
            if (!settled) upstream.end();
          });
          call.on("error", (err: Error) => {
            log.debug({ err: err.message }, "UploadData: incoming stream failed");
            upstream.cancel();
          });
        }),
      { "rpc.system": "grpc", "rpc.method": "tda.upload.v1.UploadService/Upload", "peer.service": "upload" },
    );
  }

  // The largest modulus the engines accept, as they publish it (GetInfo
  // EngineLimits through the scheduler's GetLimits), reused for 30 s; asked
  // only when a request names a modulus. Unknown (scheduler unreachable): the
  // gateway's own bound, and the scheduler checks again.
  let published: { at: number; maxModulus: number } | undefined;
  async function publishedMaxModulus(rc: RequestContext): Promise<number> {
    if (published && Date.now() - published.at < 30_000) return published.maxModulus;
    try {
      const l = await callUnary<pbJobs.GetLimitsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetLimits", timeout, (md, o, cb) =>
        jobs.getLimits({}, md, o, cb),
      );
      if (l.maxModulus > 0) published = { at: Date.now(), maxModulus: l.maxModulus };
    } catch (err) {
      log.debug({ err: (err as Error).message }, "GetLimits failed; the modulus is checked against the gateway's own bound");
    }
    return published?.maxModulus ?? MAX_MODULUS;
  }

  function fetchResult(rc: RequestContext, jobId: string): Promise<pbJobs.GetResultResponse> {
    return callUnary<pbJobs.GetResultResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetResult", timeout, (md, o, cb) =>
      jobs.getResult({ jobId }, md, o, cb),
    );
  }

  return {
    computeVietorisRips: unary(log, "ComputeVietorisRips", (req, call) =>
      handle("ComputeVietorisRips", call, async (rc) => {
        requireValid("invalid ComputeVietorisRips request", ripsViolations(req, req.modulus !== 0 ? await publishedMaxModulus(rc) : MAX_MODULUS));
        await limiter.take(rc.tenant);
        const res = await submit(rc, {
          datasetId: req.datasetId,
          params: {
            algorithm: pbCommon.Algorithm.ALGORITHM_RIPS,
            maxDim: req.maxDim,
            threshold: req.threshold,
            modulus: req.modulus,
            threads: req.threads,
            alphaRadius: false,
            maxAlpha: undefined,
          },
          priority: req.priority,
          idempotencyKey: req.idempotencyKey,
          deadlineSeconds: req.deadlineSeconds,
        });
        return { job: res.job };
      }),
    ),

    computeAlphaComplex: unary(log, "ComputeAlphaComplex", (req, call) =>
      handle("ComputeAlphaComplex", call, async (rc) => {
        requireValid("invalid ComputeAlphaComplex request", alphaViolations(req));
        await limiter.take(rc.tenant);
        const res = await submit(rc, {
          datasetId: req.datasetId,
          params: {
            algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA,
            maxDim: req.maxDim,
            threshold: undefined,
            modulus: 0,
            threads: 0,
            alphaRadius: req.radius,
            maxAlpha: req.maxAlpha,
          },
          priority: req.priority,
          idempotencyKey: req.idempotencyKey,
          deadlineSeconds: req.deadlineSeconds,
        });
        return { job: res.job };
      }),
    ),

    estimateJob: unary(log, "EstimateJob", (req, call) =>
      handle("EstimateJob", call, async (rc) => {
        requireValid("invalid EstimateJob request", estimateViolations(req, req.params?.modulus ? await publishedMaxModulus(rc) : MAX_MODULUS));
        return callUnary<pbJobs.EstimateJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/EstimateJob", timeout, (md, o, cb) =>
          jobs.estimateJob({ datasetId: req.datasetId, params: req.params }, md, o, cb),
        );
      }),
    ),

    getLimits: unary(log, "GetLimits", (_req, call) =>
      handle("GetLimits", call, async (rc) =>
        effectiveLimits(
          await callUnary<pbJobs.GetLimitsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetLimits", timeout, (md, o, cb) => jobs.getLimits({}, md, o, cb)),
        ),
      ),
    ),

    diagramDistance: unary(log, "DiagramDistance", (req, call) =>
      handle("DiagramDistance", call, async (rc) => {
        requireValid("invalid DiagramDistance request", distanceViolations(req));
        // the scheduler checks that both jobs are the caller's and completed
        return callUnary<pbJobs.DiagramDistanceResponse>(rc, "scheduler", "tda.jobs.v1.JobService/DiagramDistance", timeout, (md, o, cb) =>
          jobs.diagramDistance({ jobIdA: req.jobIdA, jobIdB: req.jobIdB, params: req.params }, md, o, cb),
        );
      }),
    ),

    getFeatures: unary(log, "GetFeatures", (req, call) =>
      handle("GetFeatures", call, async (rc) => {
        requireValid("invalid GetFeatures request", featuresViolations(req));
        const { jobId, ...params } = req;
        return callUnary<pbJobs.VectorizeResponse>(rc, "scheduler", "tda.jobs.v1.JobService/Vectorize", timeout, (md, o, cb) =>
          jobs.vectorize({ jobId, params }, md, o, cb),
        );
      }),
    ),

    getJob: unary(log, "GetJob", (req, call) =>
      handle("GetJob", call, async (rc) => {
        requireValid("invalid GetJob request", idViolations("job_id", req.jobId));
        const res = await callUnary<pbJobs.GetJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetJob", timeout, (md, o, cb) =>
          jobs.getJob({ jobId: req.jobId }, md, o, cb),
        );
        return { job: res.job };
      }),
    ),

    listJobs: unary(log, "ListJobs", (req, call) =>
      handle("ListJobs", call, async (rc) => {
        requireValid("invalid ListJobs request", pageSizeViolations(req.pageSize));
        const res = await callUnary<pbJobs.ListJobsResponse>(rc, "scheduler", "tda.jobs.v1.JobService/ListJobs", timeout, (md, o, cb) =>
          jobs.listJobs({ pageSize: req.pageSize, pageToken: req.pageToken, state: req.state }, md, o, cb),
        );
        return { jobs: res.jobs, nextPageToken: res.nextPageToken };
      }),
    ),

    watchJob: serverStream(log, "WatchJob", (call) => handle("WatchJob", call, (rc) => watchJob(rc, call))),

    cancelJob: unary(log, "CancelJob", (req, call) =>
      handle("CancelJob", call, async (rc) => {
        requireValid("invalid CancelJob request", idViolations("job_id", req.jobId));
        const res = await callUnary<pbJobs.CancelJobResponse>(rc, "scheduler", "tda.jobs.v1.JobService/CancelJob", timeout, (md, o, cb) =>
          jobs.cancelJob({ jobId: req.jobId }, md, o, cb),
        );
        return { job: res.job };
      }),
    ),

    getResult: unary(log, "GetResult", (req, call) =>
      handle("GetResult", call, async (rc) => {
        requireValid("invalid GetResult request", idViolations("job_id", req.jobId));
        const res = await callUnary<pbJobs.GetResultResponse>(rc, "scheduler", "tda.jobs.v1.JobService/GetResult", timeout, (md, o, cb) =>
          jobs.getResult({ jobId: req.jobId }, md, o, cb),
        );
        return { jobId: res.jobId, result: res.result, cacheHit: res.cacheHit };
      }),
    ),

    getResultDiagramSvg: unary(log, "GetResultDiagramSvg", (req, call) =>
      handle("GetResultDiagramSvg", call, async (rc) => {
        requireValid("invalid GetResultDiagramSvg request", [
          ...idViolations("job_id", req.jobId),
          ...sideViolations({ width: req.width, height: req.height }),
        ]);
        const res = await fetchResult(rc, req.jobId);
        const svg = diagramSvg(res.result?.diagrams ?? [], { width: req.width, height: req.height, title: `persistence diagram of job ${req.jobId}` });
        return { contentType: SVG_CONTENT_TYPE, data: Buffer.from(svg, "utf8"), extensions: [] };
      }),
    ),

    getResultBarcodeSvg: unary(log, "GetResultBarcodeSvg", (req, call) =>
      handle("GetResultBarcodeSvg", call, async (rc) => {
        requireValid("invalid GetResultBarcodeSvg request", [...idViolations("job_id", req.jobId), ...sideViolations({ width: req.width })]);
        const res = await fetchResult(rc, req.jobId);
        const svg = barcodeSvg(res.result?.diagrams ?? [], { width: req.width, title: `barcode of job ${req.jobId}` });
        return { contentType: SVG_CONTENT_TYPE, data: Buffer.from(svg, "utf8"), extensions: [] };
      }),
    ),

    uploadData: clientStream(log, "UploadData", (call) =>
      handle("UploadData", call, async (rc) => {
        await limiter.take(rc.tenant);
        return uploadData(rc, call);
      }),
    ),

    getDataset: unary(log, "GetDataset", (req, call) =>
      handle("GetDataset", call, async (rc) => {
        requireValid("invalid GetDataset request", idViolations("data_id", req.dataId));
        const res = await callUnary<pbUpload.GetDatasetResponse>(rc, "upload", "tda.upload.v1.UploadService/GetDataset", timeout, (md, o, cb) =>
          upload.getDataset({ datasetId: req.dataId }, md, o, cb),
        );
        return { dataset: res.dataset };
      }),
    ),

    listDatasets: unary(log, "ListDatasets", (req, call) =>
      handle("ListDatasets", call, async (rc) => {
        requireValid("invalid ListDatasets request", pageSizeViolations(req.pageSize));
        const res = await callUnary<pbUpload.ListDatasetsResponse>(rc, "upload", "tda.upload.v1.UploadService/ListDatasets", timeout, (md, o, cb) =>
          upload.listDatasets({ pageSize: req.pageSize, pageToken: req.pageToken }, md, o, cb),
        );
        return { datasets: res.datasets, nextPageToken: res.nextPageToken };
      }),
    ),

    deleteDataset: unary(log, "DeleteDataset", (req, call) =>
      handle("DeleteDataset", call, async (rc) => {
        requireValid("invalid DeleteDataset request", idViolations("data_id", req.dataId));
        await callUnary<pbUpload.DeleteDatasetResponse>(rc, "upload", "tda.upload.v1.UploadService/DeleteDataset", timeout, (md, o, cb) =>
          upload.deleteDataset({ datasetId: req.dataId }, md, o, cb),
        );
        return {};
      }),
    ),

    publishStream: unary(log, "PublishStream", (req, call) => handle("PublishStream", call, (rc) => publishStream(stream, rc, req))),
    configureStream: unary(log, "ConfigureStream", (req, call) => handle("ConfigureStream", call, (rc) => configureStream(stream, rc, req))),
    getStreamStatus: unary(log, "GetStreamStatus", (req, call) => handle("GetStreamStatus", call, (rc) => getStreamStatus(stream, rc, req))),
    listStreams: unary(log, "ListStreams", (req, call) => handle("ListStreams", call, (rc) => deps.streamWatch.listStreams(rc, req))),
    watchStream: serverStream(log, "WatchStream", (call) => handle("WatchStream", call, (rc) => deps.streamWatch.watchStream(rc, call))),
  };
}
