import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";

// The one lock on Redis every service uses: SET NX PX with a value only its
// holder knows; release and extend act only while the value is still the
// holder's (compare-and-delete / compare-and-expire in one script), so a holder
// whose lock expired never removes its successor's.
//
// A fenced lock also carries a fencing token: a counter raised on every
// acquisition and written into the lock's value. Work started under a lock
// that expired meanwhile is refused by scripts that check `lockHeldLua` in the
// same atomic step as their write (the outbox relay's trim does).

const RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
const EXTEND_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";
const ACQUIRE_FENCED_LUA = `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local fence = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
return fence`;

/**
 * A Lua condition, true while the lock in KEYS[k] still holds the value in
 * ARGV[a]: put it in front of a script's writes to fence them.
 */
export const lockHeldLua = (k: number, a: number): string => `redis.call('get', KEYS[${k}]) == ARGV[${a}]`;

export interface RedisLock {
  readonly key: string;
  /** The lock's value in Redis (`<uuid>` or, fenced, `<uuid>:<fence>`). */
  readonly value: string;
  /** The fencing token (0 for an unfenced lock). */
  readonly fence: number;
  /** Deletes the lock if it is still ours; false when it had expired or been taken over. */
  release(): Promise<boolean>;
  /** Resets the lock's expiry if it is still ours; false when it is not. */
  extend(ttlMs?: number): Promise<boolean>;
  /** Adds the release to `pipe` (to share a round trip); its reply is 1 when released. */
  releaseIn(pipe: ChainableCommander): ChainableCommander;
}

export interface LockOptions {
  /** The lock expires after this long unless extended. */
  ttlMs: number;
  /** Raise a fencing token (kept in `<key>:fence`) on every acquisition. */
  fenced?: boolean;
}

export interface AcquireOptions extends LockOptions {
  /** How long to keep trying before giving up. */
  waitMs: number;
  /** First pause between attempts (doubles up to 8x, with jitter; default 20 ms). */
  retryMs?: number;
  /** What to throw when the wait is over (default: LockTimeoutError). */
  onTimeout?: (key: string) => Error;
}

export class LockTimeoutError extends Error {
  override name = "LockTimeoutError";
  constructor(
    readonly key: string,
    waitedMs: number,
  ) {
    super(`timed out after ${waitedMs} ms waiting for lock ${key}`);
  }
}

/** Deletes `key` only while it holds `value` (an idempotency claim, a lock); true when deleted. */
export async function compareAndDelete(redis: Redis, key: string, value: string): Promise<boolean> {
  return (await redis.eval(RELEASE_LUA, 1, key, value)) === 1;
}

function handle(redis: Redis, key: string, value: string, fence: number, ttlMs: number): RedisLock {
  return {
    key,
    value,
    fence,
    release: () => compareAndDelete(redis, key, value),
    releaseIn: (pipe) => pipe.eval(RELEASE_LUA, 1, key, value),
    extend: async (ms = ttlMs) => (await redis.eval(EXTEND_LUA, 1, key, value, String(ms))) === 1,
  };
}

/** Takes the lock if it is free; undefined when someone holds it. */
export async function tryLock(redis: Redis, key: string, opts: LockOptions): Promise<RedisLock | undefined> {
  return (await tryLockWith(redis, key, opts)).lock;
}

/**
 * tryLock sending `more` commands in the same round trip, after the attempt
 * (e.g. the first read of what the lock guards; use it only when `lock` is set).
 */
export async function tryLockWith(
  redis: Redis,
  key: string,
  opts: LockOptions,
  more?: (pipe: ChainableCommander) => void,
): Promise<{ lock: RedisLock | undefined; replies: [Error | null, unknown][] }> {
  const id = randomUUID();
  const pipe = redis.pipeline();
  if (opts.fenced) pipe.eval(ACQUIRE_FENCED_LUA, 2, key, `${key}:fence`, id, String(opts.ttlMs));
  else pipe.set(key, id, "PX", opts.ttlMs, "NX");
  more?.(pipe);
  const res = (await pipe.exec()) ?? [];
  const [err, got] = res[0] ?? [new Error("no reply"), null];
  if (err) throw err;
  const replies = res.slice(1);
  if (opts.fenced) {
    const fence = Number(got);
    return { lock: fence > 0 ? handle(redis, key, `${id}:${fence}`, fence, opts.ttlMs) : undefined, replies };
  }
  return { lock: got === "OK" ? handle(redis, key, id, 0, opts.ttlMs) : undefined, replies };
}

/** Takes the lock, waiting (with backoff) up to `waitMs` while someone else holds it. */
export async function acquireLock(redis: Redis, key: string, opts: AcquireOptions): Promise<RedisLock> {
  const start = Date.now();
  const base = opts.retryMs ?? 20;
  let pause = base;
  for (;;) {
    const lock = await tryLock(redis, key, opts);
    if (lock) return lock;
    const waited = Date.now() - start;
    if (waited >= opts.waitMs) throw opts.onTimeout ? opts.onTimeout(key) : new LockTimeoutError(key, waited);
    const ms = Math.min(pause * (0.5 + Math.random()), opts.waitMs - waited);
    await new Promise((r) => setTimeout(r, Math.max(1, ms)));
    pause = Math.min(pause * 2, base * 8);
  }
}

/** Runs `fn` holding the lock (released afterwards, if still ours). */
export async function withLock<T>(redis: Redis, key: string, opts: AcquireOptions, fn: (lock: RedisLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(redis, key, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release().catch(() => false);
  }
}
