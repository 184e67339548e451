import IORedis, { type Redis } from "ioredis";
import type { Logger } from "./logger";

export type { Redis };

/**
 * A Redis connection that retries forever (BullMQ needs maxRetriesPerRequest = null).
 * `autoPipelining`: commands issued in the same event-loop turn go out in one
 * write (fewer syscalls under load); not for BullMQ or subscriber connections.
 */
export function createRedis(url: string, log: Logger, opts: { forQueue?: boolean; autoPipelining?: boolean } = {}): Redis {
  const r = new IORedis(url, {
    maxRetriesPerRequest: opts.forQueue ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    enableAutoPipelining: !opts.forQueue && (opts.autoPipelining ?? false),
  });
  r.on("error", (err: Error) => log.warn({ err: err.message }, "redis error"));
  return r;
}
