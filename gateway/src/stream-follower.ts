import type { Consumer } from "kafkajs";
import type { Redis } from "ioredis";
import { createKafka, inConsumerSpan, pbEvents, type Logger } from "@tda/common";

// Follows the Flink job's output (tda_stream_features, read committed: only
// windows of completed checkpoints) and keeps, per stream, what
// GetStreamStatus shows: windows emitted, last features, last alert. The
// gateway learns them from the job's events, never from the job's own state.
//
//   tda:gateway:stream-out:{tenant}:{stream_id}   hash   windows, last_features, last_alert (base64 protobuf)
//   tda:gateway:stream-events:{tenant}:{stream_id} stream the recent features and alerts, for
//                                                  WatchStream (t = f|a, d = base64 protobuf)
//
// The consumer group is shared by the gateway replicas (one of them handles each
// record); delivery is at least once, so `windows` can over-count by the records
// of a rebalance.

export interface StreamOutput {
  windows: number;
  lastFeatures?: pbEvents.StreamFeaturesData;
  lastAlert?: pbEvents.StreamAlertData;
}

/** Events kept per stream (XADD MAXLEN ~: Redis may keep a few more until it trims a whole node). */
export const STREAM_EVENTS_KEPT = 500;

export function streamEventsKey(tenant: string, streamId: string): string {
  return `tda:gateway:stream-events:${tenant}:${streamId}`;
}

export function streamOutputKey(tenant: string, streamId: string): string {
  return `tda:gateway:stream-out:${tenant}:${streamId}`;
}

export async function readStreamOutput(redis: Redis, tenant: string, streamId: string): Promise<StreamOutput> {
  const [windows, features, alert] = await redis.hmget(streamOutputKey(tenant, streamId), "windows", "last_features", "last_alert");
  return {
    windows: Number(windows ?? 0),
    lastFeatures: features ? pbEvents.StreamFeaturesData.decode(Buffer.from(features, "base64")) : undefined,
    lastAlert: alert ? pbEvents.StreamAlertData.decode(Buffer.from(alert, "base64")) : undefined,
  };
}

/** Applies one tda_stream_features record to the stream's hash (unknown records are skipped). */
export async function applyOutputRecord(redis: Redis, value: Buffer, retentionSeconds: number): Promise<void> {
  const env = pbEvents.EventEnvelope.decode(value);
  const d = env.data;
  if (d?.$case === "streamFeatures") {
    const key = streamOutputKey(d.value.tenant, d.value.streamId);
    const enc = Buffer.from(pbEvents.StreamFeaturesData.encode(d.value).finish()).toString("base64");
    const events = streamEventsKey(d.value.tenant, d.value.streamId);
    await redis
      .multi()
      .hincrby(key, "windows", 1)
      .hset(key, "last_features", enc)
      .expire(key, retentionSeconds)
      .xadd(events, "MAXLEN", "~", STREAM_EVENTS_KEPT, "*", "t", "f", "d", enc)
      .expire(events, retentionSeconds)
      .exec();
  } else if (d?.$case === "streamAlert") {
    const key = streamOutputKey(d.value.tenant, d.value.streamId);
    const enc = Buffer.from(pbEvents.StreamAlertData.encode(d.value).finish()).toString("base64");
    const events = streamEventsKey(d.value.tenant, d.value.streamId);
    await redis
      .multi()
      .hset(key, "last_alert", enc)
      .expire(key, retentionSeconds)
      .xadd(events, "MAXLEN", "~", STREAM_EVENTS_KEPT, "*", "t", "a", "d", enc)
      .expire(events, retentionSeconds)
      .exec();
  }
}

export interface StreamFollower {
  close(): Promise<void>;
}

export interface StreamFollowerOptions {
  brokers: string[];
  topic: string;
  groupId: string;
  redis: Redis;
  log: Logger;
  retentionSeconds: number;
}

/** Starts following the features topic in the background (reconnects on its own). */
export function startStreamFollower(opts: StreamFollowerOptions): StreamFollower {
  const kafka = createKafka("tda-gateway-stream-follower", opts.brokers, opts.log);
  let consumer: Consumer | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  /** The current (re)start: close() waits for it, so no consumer is left running after close. */
  let starting: Promise<void> | undefined;

  async function run(): Promise<void> {
    consumer = kafka.consumer({ groupId: opts.groupId, readUncommitted: false, allowAutoTopicCreation: false });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!closed && !e.payload.restart) schedule();
    });
    await consumer.connect();
    if (closed) return;
    await consumer.subscribe({ topic: opts.topic, fromBeginning: false });
    if (closed) return;
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (!message.value) return;
        const value = message.value;
        // a CONSUMER span linked to the Flink job's producer span (record headers)
        await inConsumerSpan({ topic, partition, message }, opts.groupId, async () => {
          try {
            await applyOutputRecord(opts.redis, value, opts.retentionSeconds);
          } catch (err) {
            opts.log.warn({ err: (err as Error).message }, "stream follower: record skipped");
          }
        });
      },
    });
  }

  function schedule(): void {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      starting = start();
    }, 5000);
    retry.unref();
  }

  async function start(): Promise<void> {
    try {
      await consumer?.disconnect().catch(() => undefined);
      await run();
    } catch (err) {
      opts.log.warn({ err: (err as Error).message, topic: opts.topic }, "stream follower: cannot follow the features topic yet, retrying");
      schedule();
    }
  }

  starting = start();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await starting?.catch(() => undefined);
      await consumer?.disconnect().catch(() => undefined);
    },
  };
}
