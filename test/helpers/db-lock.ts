import { randomUUID } from "node:crypto";
import IORedis from "ioredis";
import { REDIS_URL } from "./mesh";

// Mesh suites own a Redis logical database each and flush it at start, so two
// runs of the same suite at once (e.g. two developers' jest runs on one
// machine) would wipe each other's state. A suite takes this lock for its
// database first: a second run waits until the first one is done.

const LOCK_DB = 15;

export interface DbLock {
  release(): Promise<void>;
}

export async function lockRedisDb(db: number, waitMs = 600_000): Promise<DbLock> {
  const u = new URL(REDIS_URL);
  u.pathname = `/${LOCK_DB}`;
  const r = new IORedis(u.toString(), { maxRetriesPerRequest: 3 });
  const key = `tda-test:db-lock:${db}`;
  const token = randomUUID();
  const ttl = 60_000;
  const end = Date.now() + waitMs;
  for (;;) {
    if ((await r.set(key, token, "PX", ttl, "NX")) === "OK") break;
    if (Date.now() > end) {
      r.disconnect();
      throw new Error(`Redis db ${db} stays locked by another test run (key ${key} in db ${LOCK_DB})`);
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  // keep it while the suite runs; it lapses by itself if this process dies
  const renew = setInterval(() => {
    void r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0", 1, key, token, String(ttl)).catch(() => undefined);
  }, ttl / 3);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      await r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token).catch(() => undefined);
      r.disconnect();
    },
  };
}
