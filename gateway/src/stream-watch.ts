import type { ServerWritableStream } from "@grpc/grpc-js";
import { pbEvents, resourceExhausted, unavailable, writeUnlessCancelled, type Logger, type pbGateway, type Redis } from "@tda/common";
import { streamConfigsKey } from "./stream-config";
import { streamEventsKey, streamOutputKey } from "./stream-follower";
import { streamIndexKey, streamKey } from "./stream-stats";
import type { RequestContext } from "./upstream";
import { idViolations, requireValid } from "./validation";

// ListStreams and WatchStream: the tenant's streams, and one stream's windows
// live. Both read what the gateway itself keeps in Redis, so every replica
// answers the same:
//
//   tda:gateway:stream-index:{tenant}                zset    stream id -> last publish (ms), newest 1000
//   tda:gateway:stream-events:{tenant}:{stream_id}   stream  recent features and alerts (the follower
//                                                            appends them: fields t = f|a, d = base64 protobuf)
//
// A watcher reads the recent events with XREVRANGE, then blocks on XREAD from
// the newest id it sent: no event falls between history and live, and a
// client that comes back with `after` gets exactly what followed. Once caught
// up, and after every quiet wait (blockMs), it sends a message without an
// event (cursor = where it stands): the client knows the watch is open and
// alive, and idle connections are not cut by proxies. Every
// watcher holds one Redis connection of its own while it waits, so a gateway
// serves at most `maxWatchers` of them at once.

export const MAX_WATCH_HISTORY = 500;
export const MAX_STREAMS_PAGE = 200;
export const DEFAULT_STREAMS_PAGE = 50;
const CURSOR = /^\d{1,20}-\d{1,20}$/;

export interface StreamWatchDeps {
  redis: Redis;
  log: Logger;
  /** Watchers served at once by this gateway (each holds a Redis connection). */
  maxWatchers: number;
  /** Longest single XREAD wait (the loop re-arms; the call itself has no end). */
  blockMs?: number;
}

type Entry = [id: string, fields: string[]];

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** One entry of a stream's events as a WatchStream message (undefined: not ours, skipped). */
export function watchMessage([id, fields]: Entry, live: boolean): pbGateway.WatchStreamResponse | undefined {
  const t = field(fields, "t");
  const d = field(fields, "d");
  if (d === undefined) return undefined;
  const bytes = Buffer.from(d, "base64");
  if (t === "f") return { event: { $case: "features", value: pbEvents.StreamFeaturesData.decode(bytes) }, cursor: id, live };
  if (t === "a") return { event: { $case: "alert", value: pbEvents.StreamAlertData.decode(bytes) }, cursor: id, live };
  return undefined;
}

type WatchCall = ServerWritableStream<pbGateway.WatchStreamRequest, pbGateway.WatchStreamResponse>;

/** The tenant's most recently active streams (newest first), then configured ones that never published, up to `n`. */
async function streamIds(redis: Redis, tenant: string, n: number): Promise<{ ids: { id: string; ms: number }[]; configured: Set<string> }> {
  try {
    const [recent, conf] = await Promise.all([redis.zrevrange(streamIndexKey(tenant), 0, n - 1, "WITHSCORES"), redis.smembers(streamConfigsKey(tenant))]);
    const ids: { id: string; ms: number }[] = [];
    for (let i = 0; i + 1 < recent.length; i += 2) ids.push({ id: recent[i]!, ms: Number(recent[i + 1]) });
    const configured = new Set(conf);
    // configured streams that never published come after the active ones
    const seen = new Set(ids.map((x) => x.id));
    for (const id of [...configured].sort()) if (ids.length < n && !seen.has(id)) ids.push({ id, ms: 0 });
    return { ids, configured };
  } catch (err) {
    throw unavailable("the stream index is unavailable, try again shortly", err);
  }
}

async function listStreams(deps: StreamWatchDeps, rc: RequestContext, req: pbGateway.ListStreamsRequest): Promise<pbGateway.ListStreamsResponse> {
  if (req.pageSize > MAX_STREAMS_PAGE)
    requireValid("invalid ListStreams request", [{ field: "page_size", description: `must be at most ${MAX_STREAMS_PAGE}` }]);
  const n = req.pageSize === 0 ? DEFAULT_STREAMS_PAGE : req.pageSize;
  const { ids, configured } = await streamIds(deps.redis, rc.tenant, n);
  const p = deps.redis.pipeline();
  for (const { id } of ids) {
    p.hmget(streamKey(rc.tenant, id), "events", "points");
    p.hmget(streamOutputKey(rc.tenant, id), "windows", "last_features", "last_alert");
  }
  const res = ids.length === 0 ? [] : ((await p.exec()) ?? []);
  return {
    streams: ids.map(({ id, ms }, i) => {
      const [events, points] = (res[2 * i]?.[1] ?? []) as (string | null)[];
      const [windows, features, alert] = (res[2 * i + 1]?.[1] ?? []) as (string | null)[];
      return {
        streamId: id,
        eventsPublished: Number(events ?? 0),
        pointsPublished: Number(points ?? 0),
        lastActiveAt: ms > 0 ? { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } : undefined,
        windowsEmitted: Number(windows ?? 0),
        lastFeatures: features ? pbEvents.StreamFeaturesData.decode(Buffer.from(features, "base64")) : undefined,
        lastAlert: alert ? pbEvents.StreamAlertData.decode(Buffer.from(alert, "base64")) : undefined,
        configured: configured.has(id),
      };
    }),
  };
}

/** One watch in progress. */
interface Watch {
  call: WatchCall;
  key: string;
  /** Its own Redis connection (XREAD BLOCK holds it). */
  conn: Redis;
  done: boolean;
  sent: number;
  /** Id of the newest entry sent or skipped (the cursor). */
  last: string;
}

async function send(w: Watch, e: Entry, live: boolean): Promise<void> {
  const m = watchMessage(e, live);
  if (m && !w.done) {
    // a client gone while the write waited for "drain" ends the watch (grpc-js never drains a cancelled call)
    if (await writeUnlessCancelled(w.call, m)) w.sent++;
    else w.done = true;
  }
}

/** Sends the last `history` entries (or starts after the client's cursor), then connects the watch's own connection. */
async function catchUp(deps: StreamWatchDeps, w: Watch, req: pbGateway.WatchStreamRequest): Promise<void> {
  if (req.after !== "") {
    w.last = req.after;
  } else {
    const recent = (await deps.redis.xrevrange(w.key, "+", "-", "COUNT", Math.max(1, req.history))) as Entry[];
    w.last = recent[0]?.[0] ?? "0-0";
    for (const e of recent.slice(0, req.history).reverse()) await send(w, e, false);
  }
  await w.conn.connect();
}

/** Follows the stream live (XREAD BLOCK from the cursor) until the client goes. */
async function follow(blockMs: number, w: Watch): Promise<void> {
  // caught up: a message without an event says the watch is open (REST clients get their
  // response headers with it) and where it stands; the same again after every quiet wait
  const mark = async (): Promise<void> => {
    if (!w.done && !(await writeUnlessCancelled(w.call, { event: undefined, cursor: w.last, live: true }))) w.done = true;
  };
  await mark();
  while (!w.done) {
    let batch: [string, Entry[]][] | null;
    try {
      batch = (await w.conn.xread("COUNT", 100, "BLOCK", blockMs, "STREAMS", w.key, w.last)) as [string, Entry[]][] | null;
    } catch (err) {
      if (w.done) return;
      throw unavailable("the stream's events are unavailable, try again shortly", err);
    }
    const entries = batch?.[0]?.[1] ?? [];
    if (entries.length === 0) await mark();
    for (const e of entries) {
      w.last = e[0];
      await send(w, e, true);
    }
  }
}

function checkWatchRequest(req: pbGateway.WatchStreamRequest): void {
  const v = idViolations("stream_id", req.streamId);
  if (req.history > MAX_WATCH_HISTORY) v.push({ field: "history", description: `must be at most ${MAX_WATCH_HISTORY}` });
  if (req.after !== "" && !CURSOR.test(req.after)) v.push({ field: "after", description: "must be a cursor received from WatchStream" });
  requireValid("invalid WatchStream request", v);
}

export function createStreamWatch(deps: StreamWatchDeps) {
  const { redis, log } = deps;
  const blockMs = deps.blockMs ?? 15_000;
  let watchers = 0;

  async function watchStream(rc: RequestContext, call: WatchCall): Promise<void> {
    const req = call.request;
    checkWatchRequest(req);
    if (watchers >= deps.maxWatchers)
      throw resourceExhausted("this gateway is serving as many stream watchers as it can; try again shortly", "TOO_MANY_WATCHERS");
    watchers++;
    const conn = redis.duplicate({ lazyConnect: true, maxRetriesPerRequest: 1 });
    conn.on("error", (err: Error) => log.debug({ err: err.message }, "WatchStream: redis connection error"));
    const w: Watch = { call, key: streamEventsKey(rc.tenant, req.streamId), conn, done: false, sent: 0, last: "0-0" };
    const stop = (): void => {
      w.done = true;
      conn.disconnect();
    };
    call.once("cancelled", stop);
    try {
      try {
        await catchUp(deps, w, req);
      } catch (err) {
        if (w.done) return;
        throw unavailable("the stream's events are unavailable, try again shortly", err);
      }
      await follow(blockMs, w);
    } finally {
      watchers--;
      call.removeListener("cancelled", stop);
      conn.disconnect();
      log.debug({ tenant: rc.tenant, streamId: req.streamId, sent: w.sent }, "WatchStream ended");
    }
  }

  return { listStreams: (rc: RequestContext, req: pbGateway.ListStreamsRequest) => listStreams(deps, rc, req), watchStream, watching: () => watchers };
}

export type StreamWatch = ReturnType<typeof createStreamWatch>;
