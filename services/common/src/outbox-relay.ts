import type { ChainableCommander, Redis } from "ioredis";
import { EventEnvelope } from "./gen/tda/events/v1/events";
import { timestampMs, type EnvelopeEncoder, type OutboxRecord, type PublishInput } from "./event-envelope";
import { brokerRefusal, type OutboxSink, type SinkMessage } from "./kafka";
import type { Logger } from "./logger";
import { lockHeldLua, tryLockWith, type RedisLock } from "./redis-lock";

// The outbox relay drains a service's Redis outbox to Kafka, in order, while
// it holds the outbox lock (one relay per source at a time; the others back
// off). The lock is fenced: each batch is trimmed from the outbox by a script
// that first checks the lock still holds this relay's value, so a relay whose
// lock expired during a slow send cannot trim records that a newer holder
// appended or has not sent (it stops; what it sent may arrive twice, and
// consumers de-duplicate by event_id).
//
// Records the broker refuses (too large, invalid) and records for topics the
// broker does not have are moved to a dead-letter list, reported on
// tda_errors and counted: they never stall the events behind them.

/** What the relay reports to the service's metrics. */
export interface OutboxMetrics {
  produceError(): void;
  deadLettered(reason: string): void;
  fencedOff(): void;
}

export interface OutboxStatus {
  /** Records waiting in the outbox. */
  pending: number;
  /** Age of the oldest waiting record (0 when empty). */
  oldestAgeMs: number;
  /** Records are waiting and the oldest is older than `stallAfterMs`. */
  stalled: boolean;
  /** Last send failure of this relay since its last success. */
  lastError?: string;
}

export interface OutboxRelayOptions {
  source: string;
  redis: Redis;
  sink: OutboxSink;
  /** Encodes the tda_errors events that report dead-lettered records. */
  encoder: EnvelopeEncoder;
  log: Logger;
  metrics?: OutboxMetrics;
  listKey: string;
  lockKey: string;
  deadKey: string;
  /** Most records sent in one batch (default 2000)... */
  batchSize?: number;
  /** ...and most bytes of outbox records in one batch (default 768 KiB; at least one record). */
  maxBatchBytes?: number;
  /** Wait before a drain so that events close together share one Kafka request (default 20 ms). */
  lingerMs?: number;
  /** Outbox lock lifetime, extended after every batch (default 15 s). */
  lockTtlMs?: number;
  /** The outbox counts as stalled when its oldest record is older than this (default 30 s). */
  stallAfterMs?: number;
  /** Most records kept in the dead-letter list (oldest dropped first; default 10,000). */
  deadMax?: number;
}

export interface OutboxRelay {
  /** Records were appended: drain soon (after the linger). */
  wake(): void;
  /** Drain now (if no drain runs). */
  kick(): void;
  /** Waits until the outbox is empty (or the timeout passes); true when drained. */
  flush(timeoutMs?: number): Promise<boolean>;
  status(): Promise<OutboxStatus>;
  close(): Promise<void>;
}

// KEYS: outbox list, lock, dead-letter list.
// ARGV: lock value, records to trim, lock ttl, dead max, number of dead records,
//       dead records..., records to append to the outbox (error events)...
// Returns -1 (nothing done) when the lock no longer holds our value.
const TRIM_LUA = `
if not (${lockHeldLua(2, 1)}) then return -1 end
local ndead = tonumber(ARGV[5])
for i = 1, ndead do redis.call('rpush', KEYS[3], ARGV[5 + i]) end
if ndead > 0 then redis.call('ltrim', KEYS[3], -tonumber(ARGV[4]), -1) end
redis.call('ltrim', KEYS[1], tonumber(ARGV[2]), -1)
for i = 6 + ndead, #ARGV do redis.call('rpush', KEYS[1], ARGV[i]) end
redis.call('pexpire', KEYS[2], ARGV[3])
return 1`;

type TrimPipeline = ChainableCommander & { tdaOutboxTrim(...args: string[]): ChainableCommander };

/** Defines the trim script as command `tdaOutboxTrim` of `redis` and its pipelines (EVALSHA). */
function defineTrim(redis: Redis): void {
  const r = redis as Redis & { tdaOutboxTrim?: unknown };
  if (!r.tdaOutboxTrim) r.defineCommand("tdaOutboxTrim", { numberOfKeys: 3, lua: TRIM_LUA });
}

interface Dead {
  raw: string;
  reason: string;
  rec?: OutboxRecord;
}

/** The oldest record's age from its envelope timestamp (0 when unreadable). */
function recordAgeMs(raw: string | null | undefined): number {
  if (!raw) return 0;
  try {
    const rec = JSON.parse(raw) as OutboxRecord;
    const t = timestampMs(EventEnvelope.decode(Buffer.from(rec.value, "base64")).timestamp);
    return t > 0 ? Math.max(0, Date.now() - t) : 0;
  } catch {
    return 0;
  }
}

/** A relay's settings (defaults applied) and its scheduling state. */
interface Relay {
  opts: OutboxRelayOptions;
  batchSize: number;
  maxBatchBytes: number;
  lingerMs: number;
  lockTtlMs: number;
  stallAfterMs: number;
  deadMax: number;
  closed: boolean;
  draining: Promise<void> | undefined;
  backoffMs: number;
  timer: NodeJS.Timeout | undefined;
  pendingAfterDrain: boolean;
  wanted: boolean;
  lastError: string | undefined;
}

const ERRORS_TOPIC_SUFFIX = "tda_errors";

/** The tda_errors event reporting a dead-lettered record (none for records of tda_errors itself). */
function errorRecord(r: Relay, d: Dead): string[] {
  if (!d.rec || d.rec.topic.endsWith(ERRORS_TOPIC_SUFFIX)) return [];
  const eventId = d.rec.headers["event-id"] ?? "";
  const eventType = d.rec.headers["event-type"] ?? "";
  const bytes = Math.floor((d.rec.value.length * 3) / 4);
  const input: PublishInput = {
    topic: "tda_errors",
    key: d.rec.key,
    eventType: "error.system",
    data: {
      $case: "error",
      value: {
        jobId: d.rec.topic.endsWith("tda_jobs") || d.rec.topic.endsWith("tda_results") ? d.rec.key : "",
        uploadId: d.rec.topic.endsWith("tda_uploads") ? d.rec.key : "",
        errorCode: "EVENT_DEAD_LETTERED",
        message: `${r.opts.source}: event ${eventId} (${eventType}, ${bytes} bytes) for ${d.rec.topic} was not delivered: ${d.reason}; kept in ${r.opts.deadKey}`,
        suggestions: [],
        retryable: false,
      },
    },
  };
  try {
    return [r.opts.encoder.encode(input).record];
  } catch {
    return [];
  }
}

/**
 * Sends `msgs` (records `recs` of the batch); on the broker's refusal of the
 * batch, sends them one by one to find the refused ones. Returns the refused.
 */
async function sendOrSort(sink: OutboxSink, msgs: SinkMessage[], recs: { raw: string; rec: OutboxRecord }[]): Promise<Dead[]> {
  try {
    await sink.send(msgs);
    return [];
  } catch (err) {
    const reason = brokerRefusal(err);
    if (!reason) throw err;
    if (msgs.length === 1) return [{ raw: recs[0]!.raw, rec: recs[0]!.rec, reason }];
    const dead: Dead[] = [];
    for (const [i, m] of msgs.entries()) {
      try {
        await sink.send([m]);
      } catch (e) {
        const why = brokerRefusal(e);
        if (!why) throw e;
        dead.push({ raw: recs[i]!.raw, rec: recs[i]!.rec, reason: why });
      }
    }
    return dead;
  }
}

/** Sends one batch of outbox records to Kafka; returns the records that cannot be delivered (unreadable, unknown topic, refused). */
async function sendBatch(r: Relay, raw: string[]): Promise<Dead[]> {
  const dead: Dead[] = [];
  const good: { raw: string; rec: OutboxRecord }[] = [];
  for (const s of raw) {
    try {
      good.push({ raw: s, rec: JSON.parse(s) as OutboxRecord });
    } catch {
      dead.push({ raw: s, reason: "unreadable outbox record" });
    }
  }
  const topics = await r.opts.sink.knownTopics(new Set(good.map((g) => g.rec.topic)));
  const sendable = good.filter((g) => {
    if (topics.has(g.rec.topic)) return true;
    dead.push({ ...g, reason: "UNKNOWN_TOPIC" });
    return false;
  });
  const msgs = sendable.map((g) => ({ topic: g.rec.topic, key: g.rec.key, value: Buffer.from(g.rec.value, "base64"), headers: g.rec.headers }));
  dead.push(...(await sendOrSort(r.opts.sink, msgs, sendable)));
  for (const d of dead)
    r.opts.log.error(
      { topic: d.rec?.topic, key: d.rec?.key, eventId: d.rec?.headers["event-id"], reason: d.reason },
      "event relay: record not deliverable, moved to the dead-letter list",
    );
  return dead;
}

/**
 * Drops what Kafka acknowledged (`sent` records; the dead ones to the
 * dead-letter list) if the lock is still ours, extends the lock and reads on,
 * in one round trip. Returns the next records, or undefined when fenced off.
 */
async function trimAndReadOn(r: Relay, lock: RedisLock, sent: number, dead: Dead[]): Promise<string[] | undefined> {
  const { redis, listKey, lockKey, deadKey } = r.opts;
  const errs = dead.flatMap((d) => errorRecord(r, d));
  const next = await (redis.pipeline() as TrimPipeline)
    .tdaOutboxTrim(
      listKey,
      lockKey,
      deadKey,
      lock.value,
      String(sent),
      String(r.lockTtlMs),
      String(r.deadMax),
      String(dead.length),
      ...dead.map((d) => d.raw),
      ...errs,
    )
    .lrange(listKey, 0, r.batchSize - 1)
    .exec();
  const failed = next?.find(([e]) => e)?.[0];
  if (failed) throw failed;
  for (const d of dead) r.opts.metrics?.deadLettered(d.reason);
  if (Number(next?.[0]?.[1]) === -1) {
    // fenced off: our lock expired while we sent; a newer holder owns the outbox
    r.opts.metrics?.fencedOff();
    r.opts.log.warn({ source: r.opts.source, fence: lock.fence }, "event relay: lost the outbox lock during a send; the batch stays for the new holder");
    return undefined;
  }
  return (next?.[1]?.[1] as string[]) ?? [];
}

/** Relays the outbox while holding the lock; false when another relay holds it. */
async function drainOnce(r: Relay): Promise<boolean> {
  const { redis, listKey, lockKey } = r.opts;
  // take the lock and read the first batch in one round trip (the read is
  // only used when the lock is ours)
  const { lock, replies } = await tryLockWith(redis, lockKey, { ttlMs: r.lockTtlMs, fenced: true }, (p) => p.lrange(listKey, 0, r.batchSize - 1));
  if (!lock) return false;
  let empty = false;
  try {
    if (replies[0]?.[0]) throw replies[0][0];
    let all = (replies[0]?.[1] as string[] | undefined) ?? [];
    while (all.length > 0) {
      // keep a batch well under Kafka's default 1 MB per record batch
      let bytes = 0;
      let cut = 0;
      while (cut < all.length && (cut === 0 || bytes + all[cut]!.length <= r.maxBatchBytes)) bytes += all[cut++]!.length;
      const raw = cut === all.length ? all : all.slice(0, cut);
      const dead = await sendBatch(r, raw);
      const next = await trimAndReadOn(r, lock, raw.length, dead);
      if (next === undefined) return true;
      r.lastError = undefined;
      all = next;
    }
    empty = true;
  } finally {
    // release only our own lock; and whether records came in meanwhile
    const last = await lock.releaseIn(redis.pipeline()).llen(listKey).exec();
    r.pendingAfterDrain = empty && Number(last?.[1]?.[1] ?? 0) > 0;
  }
  return true;
}

function kick(r: Relay): void {
  if (r.closed || r.draining) return;
  if (r.timer) {
    clearTimeout(r.timer);
    r.timer = undefined;
  }
  let gotLock = true;
  r.pendingAfterDrain = false;
  r.draining = (async () => {
    try {
      gotLock = await drainOnce(r);
      r.backoffMs = 0;
    } catch (err) {
      r.opts.sink.reset();
      r.backoffMs = Math.min(r.backoffMs === 0 ? 200 : r.backoffMs * 2, 5000);
      r.lastError = (err as Error).message;
      r.opts.metrics?.produceError();
      r.opts.log.warn({ err: r.lastError, backoffMs: r.backoffMs }, "event relay: kafka send failed, will retry");
    } finally {
      r.draining = undefined;
    }
  })();
  void r.draining
    .then(() => {
      if (r.closed) return;
      if (r.backoffMs > 0) schedule(r, r.backoffMs);
      else if (!gotLock)
        schedule(r, 250); // another instance is relaying
      else if (r.pendingAfterDrain || r.wanted) soon(r);
    })
    .catch(() => schedule(r, 1000));
}

// Records appended while a drain runs, or in the few milliseconds before one
// starts, go out in the same Kafka request (a producer's linger): under load
// this turns one request per event into one per batch.
function soon(r: Relay): void {
  r.wanted = false;
  if (r.closed || r.draining || r.timer) return;
  r.timer = setTimeout(() => {
    r.timer = undefined;
    kick(r);
  }, r.lingerMs);
}

function schedule(r: Relay, ms: number): void {
  if (r.timer) clearTimeout(r.timer);
  r.timer = setTimeout(() => {
    r.timer = undefined;
    kick(r);
  }, ms);
}

async function status(r: Relay): Promise<OutboxStatus> {
  const { redis, listKey } = r.opts;
  const res = (await redis.pipeline().llen(listKey).lindex(listKey, 0).exec()) ?? [];
  const pending = Number(res[0]?.[1] ?? 0);
  const oldestAgeMs = pending > 0 ? recordAgeMs(res[1]?.[1] as string | null) : 0;
  return { pending, oldestAgeMs, stalled: pending > 0 && oldestAgeMs > r.stallAfterMs, ...(r.lastError ? { lastError: r.lastError } : {}) };
}

export function createOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const { redis, sink, listKey } = opts;
  defineTrim(redis);
  const r: Relay = {
    opts,
    batchSize: opts.batchSize ?? 2000,
    maxBatchBytes: opts.maxBatchBytes ?? 768 * 1024,
    lingerMs: opts.lingerMs ?? 20,
    lockTtlMs: opts.lockTtlMs ?? 15_000,
    stallAfterMs: opts.stallAfterMs ?? 30_000,
    deadMax: opts.deadMax ?? 10_000,
    closed: false,
    draining: undefined,
    backoffMs: 0,
    timer: undefined,
    pendingAfterDrain: false,
    wanted: false,
    lastError: undefined,
  };
  // Periodic sweep: picks up events left by a previous process.
  const sweep = setInterval(() => kick(r), 1000);
  sweep.unref();
  kick(r);

  return {
    wake() {
      if (r.backoffMs > 0) return;
      if (r.draining) r.wanted = true;
      else soon(r);
    },
    kick: () => kick(r),
    async flush(timeoutMs = 10000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if ((await redis.llen(listKey)) === 0 && !r.draining) return true;
        kick(r);
        await new Promise((res) => setTimeout(res, 50));
      }
      return false;
    },
    status: () => status(r),
    async close() {
      r.closed = true;
      clearInterval(sweep);
      if (r.timer) clearTimeout(r.timer);
      if (r.draining) await r.draining.catch(() => undefined);
      await sink.close();
    },
  };
}
