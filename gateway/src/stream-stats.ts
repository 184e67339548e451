import type { Redis } from "ioredis";

// Per-tenant counters of what was published to the live stream, in Redis so
// that every gateway replica sees the same figures and a restart keeps them.
//
//   tda:gateway:stream:{tenant}:{stream_id}  hash  events, points, last_published_ms
//   tda:gateway:streams:{tenant}             hash  events, points (all streams of the tenant)
//   tda:gateway:stream-index:{tenant}        zset  stream id -> last publish (ms): the newest
//                                                  STREAM_INDEX_KEPT streams (ListStreams)

export interface StreamCounts {
  events: number;
  points: number;
}

export interface StreamStats {
  record(tenant: string, streamId: string, points: number): Promise<void>;
  /** Counts of one stream, or of all the tenant's streams when streamId is "". */
  get(tenant: string, streamId: string): Promise<StreamCounts>;
}

export const STREAM_INDEX_KEPT = 1000;

export function streamIndexKey(tenant: string): string {
  return `tda:gateway:stream-index:${tenant}`;
}

export function streamKey(tenant: string, streamId: string): string {
  return streamId === "" ? `tda:gateway:streams:${tenant}` : `tda:gateway:stream:${tenant}:${streamId}`;
}

export function createStreamStats(redis: Redis): StreamStats {
  return {
    async record(tenant, streamId, points) {
      const one = streamKey(tenant, streamId);
      const all = streamKey(tenant, "");
      const index = streamIndexKey(tenant);
      const now = Date.now();
      const results = await redis
        .multi()
        .hincrby(one, "events", 1)
        .hincrby(one, "points", points)
        .hset(one, "last_published_ms", now)
        .hincrby(all, "events", 1)
        .hincrby(all, "points", points)
        .zadd(index, now, streamId)
        .zremrangebyrank(index, 0, -(STREAM_INDEX_KEPT + 1))
        .exec();
      const failed = results?.find(([err]) => err !== null);
      if (results === null || failed) throw failed?.[0] ?? new Error("stream counters: transaction aborted");
    },
    async get(tenant, streamId) {
      const [events, points] = await redis.hmget(streamKey(tenant, streamId), "events", "points");
      return { events: Number(events ?? 0), points: Number(points ?? 0) };
    },
  };
}
