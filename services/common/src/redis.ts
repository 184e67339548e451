import IORedis, { type Redis } from "ioredis";
import type { Logger } from "./logger";

export type { Redis };

/** A Redis connection that retries forever (BullMQ needs maxRetriesPerRequest = null). */
export function createRedis(url: string, log: Logger, opts: { forQueue?: boolean } = {}): Redis {
  const r = new IORedis(url, {
    maxRetriesPerRequest: opts.forQueue ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
  });
  r.on("error", (err: Error) => log.warn({ err: err.message }, "redis error"));
  return r;
}
