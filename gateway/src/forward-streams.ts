import type { ClientReadableStream, ServerReadableStream, ServerWritableStream } from "@grpc/grpc-js";
import { inSpan, SpanKind, type Logger, type pbGateway, pbJobs, type pbUpload } from "@tda/common";
import { clientDeadline, downstreamMetadata, isTransportFailure, upstreamError, type RequestContext } from "./upstream";
import { idViolations, requireValid } from "./validation";

// The gateway's two streaming forwards: WatchJob (server stream from the
// scheduler, re-opened after a connection failure, de-duplicated by sequence
// number) and UploadData (client stream to the upload service, with
// back-pressure both ways).

export interface ForwardDeps {
  log: Logger;
  jobs: pbJobs.JobServiceClient;
  upload: pbUpload.UploadServiceClient;
  /** Counts the WatchJob forwards in progress (the gateway's tda_gateway_job_watches gauge). */
  watches?: { forwards: number };
}

const TERMINAL_JOB_STATES: ReadonlySet<pbJobs.JobState> = new Set([
  pbJobs.JobState.JOB_STATE_COMPLETED,
  pbJobs.JobState.JOB_STATE_FAILED,
  pbJobs.JobState.JOB_STATE_CANCELLED,
]);

/** How often one WatchJob call re-opens its upstream stream after connection failures. */
const WATCH_REOPEN_LIMIT = 5;

export function forwardWatchJob(
  deps: ForwardDeps,
  rc: RequestContext,
  call: ServerWritableStream<pbGateway.WatchJobRequest, pbGateway.WatchJobResponse>,
): Promise<void> {
  const counter = deps.watches;
  if (!counter) return forwardJobUpdates(deps, rc, call);
  const forward = forwardJobUpdates(deps, rc, call);
  counter.forwards++;
  return forward.finally(() => counter.forwards--);
}

function forwardJobUpdates(
  deps: ForwardDeps,
  rc: RequestContext,
  call: ServerWritableStream<pbGateway.WatchJobRequest, pbGateway.WatchJobResponse>,
): Promise<void> {
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
          if (finished) return; // a re-open scheduled before the client went away
          const gen = ++generation;
          const up = deps.jobs.watchJob({ jobId: call.request.jobId }, downstreamMetadata(rc, ctx), deadline === undefined ? {} : { deadline });
          upstream = up;
          up.on("data", (msg: pbJobs.WatchJobResponse) => {
            if (gen !== generation || finished) return;
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
              deps.log.debug({ jobId: call.request.jobId, err: err.message, reopened }, "WatchJob: upstream connection failed, watching again");
              setTimeout(open, 50 * reopened);
              return;
            }
            finish(upstreamError("scheduler", err));
          });
          up.on("end", () => {
            if (gen === generation) finish();
          });
        };
        // cancelled during authentication, before the listener: grpc-js emits "cancelled" once
        if (call.cancelled) finish();
        else open();
      }),
    { "rpc.system": "grpc", "rpc.method": "tda.jobs.v1.JobService/WatchJob", "peer.service": "scheduler" },
  );
}

export function forwardUpload(
  deps: ForwardDeps,
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
        const upstream = deps.upload.upload(downstreamMetadata(rc, ctx), deadline === undefined ? {} : { deadline }, (err, res) => {
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
          deps.log.debug({ err: err.message }, "UploadData: incoming stream failed");
          upstream.cancel();
        });
      }),
    { "rpc.system": "grpc", "rpc.method": "tda.upload.v1.UploadService/Upload", "peer.service": "upload" },
  );
}
