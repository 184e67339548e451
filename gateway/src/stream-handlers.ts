import { trace } from "@opentelemetry/api";
import {
  nowTimestamp,
  resourceExhausted,
  TdaError,
  unavailable,
  type EventBus,
  type FieldViolation,
  type Logger,
  type pbGateway,
  type pbStream,
} from "@tda/common";
import type { FlinkStatus } from "./flink-status";
import type { RateLimiter } from "./rate-limit";
import { completeStreamConfig, streamConfigViolations, type StreamConfigStore } from "./stream-config";
import type { StreamOutput } from "./stream-follower";
import type { StreamStats } from "./stream-stats";
import type { RequestContext } from "./upstream";
import { idViolations, parseStreamBatch, requireValid } from "./validation";

// The live-stream methods: PublishStream and ConfigureStream write to
// tda_events with key "{tenant}/{stream_id}" (so a stream's points and
// configurations stay in order on one partition, and two tenants' streams with
// the same id never mix); GetStreamStatus joins the gateway's counters, the
// stream's configuration, the Flink job's state and the job's last output.

export const STREAM_TOPIC = "tda_events";
export const FEATURES_TOPIC = "tda_stream_features";
export const STREAM_EVENT_TYPE = "stream.points";
export const STREAM_CONFIG_EVENT_TYPE = "stream.config";
/** An event time further than this ahead of the gateway's clock is refused. */
export const MAX_EVENT_TIME_AHEAD_MS = 24 * 3600 * 1000;

export interface StreamDeps {
  log: Logger;
  bus: EventBus;
  streams: StreamStats;
  configs: StreamConfigStore;
  broker: BrokerCheck;
  flink: FlinkStatus;
  /** What the job published for a stream (followed from tda_stream_features). */
  outputs: (tenant: string, streamId: string) => Promise<StreamOutput>;
  limiter: RateLimiter;
  streamMaxBytes: number;
  topicPrefix: string;
}

export function streamKey(tenant: string, streamId: string): string {
  return `${tenant}/${streamId}`;
}

function eventTimeViolations(t: pbGateway.PublishStreamRequest["eventTime"]): FieldViolation[] {
  if (t === undefined) return [];
  const ms = t.seconds * 1000 + t.nanos / 1e6;
  if (!Number.isFinite(ms) || ms < 0 || t.nanos < 0 || t.nanos >= 1e9) return [{ field: "event_time", description: "must be a valid time after 1970" }];
  if (ms > Date.now() + MAX_EVENT_TIME_AHEAD_MS) return [{ field: "event_time", description: "must not be more than a day ahead of the gateway's clock" }];
  return [];
}

/** Room the stream.points envelope needs beside the points (ids, tenant, trace headers). */
const STREAM_EVENT_OVERHEAD_BYTES = 16 * 1024;

/** The largest points payload: the configured bound, and always one that fits in an event. */
export function streamPointsBudget(deps: Pick<StreamDeps, "streamMaxBytes" | "bus">): number {
  return Math.min(deps.streamMaxBytes, Math.floor((deps.bus.maxEventBytes - STREAM_EVENT_OVERHEAD_BYTES) / 8) * 8);
}

/** Whether Kafka answers (cached; see cachedCheck in @tda/common). */
export interface BrokerCheck {
  available(): Promise<boolean>;
  close(): Promise<void>;
}

export async function publishStream(deps: StreamDeps, rc: RequestContext, req: pbGateway.PublishStreamRequest): Promise<pbGateway.PublishStreamResponse> {
  requireValid("invalid PublishStream request", eventTimeViolations(req.eventTime));
  const batch = parseStreamBatch(req, streamPointsBudget(deps));
  await deps.limiter.take(rc.tenant);
  let eventId: string;
  try {
    eventId = await deps.bus.publish(
      {
        topic: STREAM_TOPIC,
        key: streamKey(rc.tenant, req.streamId),
        eventType: STREAM_EVENT_TYPE,
        data: {
          $case: "streamPoints",
          value: { streamId: req.streamId, dim: req.dim, points: batch.points, eventTime: req.eventTime ?? nowTimestamp(), tenant: rc.tenant },
        },
        headers: { "x-tenant-id": rc.tenant },
      },
      rc.ctx,
    );
  } catch (err) {
    if (err instanceof TdaError) throw err; // e.g. EVENT_TOO_LARGE
    throw unavailable("the event store is unavailable, try again shortly", err);
  }
  try {
    await deps.streams.record(rc.tenant, req.streamId, batch.count);
  } catch (err) {
    // The event is already durable; only the counters missed it.
    deps.log.warn({ err: (err as Error).message, streamId: req.streamId }, "stream counters not updated");
  }
  trace.getSpan(rc.ctx)?.setAttributes({ "tda.stream_id": req.streamId, "tda.points": batch.count });
  return { eventId, points: batch.count };
}

export async function configureStream(deps: StreamDeps, rc: RequestContext, req: pbGateway.ConfigureStreamRequest): Promise<pbGateway.ConfigureStreamResponse> {
  requireValid("invalid ConfigureStream request", [...idViolations("stream_id", req.streamId), ...streamConfigViolations(req.config)]);
  await deps.limiter.take(rc.tenant);
  const config: pbStream.StreamConfig = completeStreamConfig(req.config);
  let stored: boolean;
  try {
    stored = await deps.configs.set(rc.tenant, req.streamId, config);
  } catch (err) {
    throw unavailable("the stream configuration store is unavailable, try again shortly", err);
  }
  if (!stored) throw resourceExhausted("too many configured streams for this tenant", "TOO_MANY_STREAMS");
  let eventId: string;
  try {
    eventId = await deps.bus.publish(
      {
        topic: STREAM_TOPIC,
        key: streamKey(rc.tenant, req.streamId),
        eventType: STREAM_CONFIG_EVENT_TYPE,
        data: { $case: "streamConfig", value: { tenant: rc.tenant, streamId: req.streamId, config } },
        headers: { "x-tenant-id": rc.tenant },
      },
      rc.ctx,
    );
  } catch (err) {
    throw unavailable("the event store is unavailable, try again shortly", err);
  }
  return { streamId: req.streamId, config, eventId };
}

export async function getStreamStatus(deps: StreamDeps, rc: RequestContext, req: pbGateway.GetStreamStatusRequest): Promise<pbGateway.GetStreamStatusResponse> {
  if (req.streamId !== "") requireValid("invalid GetStreamStatus request", idViolations("stream_id", req.streamId));
  const one = req.streamId !== "";
  const [counts, brokerAvailable, job, output, config] = await Promise.all([
    deps.streams.get(rc.tenant, req.streamId).catch((err: unknown) => {
      throw unavailable("the stream counters are unavailable, try again shortly", err);
    }),
    deps.broker.available(),
    deps.flink.get(),
    one ? deps.outputs(rc.tenant, req.streamId).catch(() => undefined) : Promise.resolve(undefined),
    one ? deps.configs.get(rc.tenant, req.streamId).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  return {
    streamId: req.streamId,
    eventsPublished: counts.events,
    pointsPublished: counts.points,
    topic: deps.topicPrefix + STREAM_TOPIC,
    brokerAvailable,
    config: one ? (config ?? completeStreamConfig(undefined)) : undefined,
    job,
    windowsEmitted: output?.windows ?? 0,
    lastFeatures: output?.lastFeatures,
    lastAlert: output?.lastAlert,
    featuresTopic: deps.topicPrefix + FEATURES_TOPIC,
  };
}
