import type { Duplex } from "node:stream";
import IORedis, { type Redis } from "ioredis";
import type { Logger } from "./logger";

export type { Redis };

const COALESCED = Symbol("tda.coalescedWrites");

/**
 * Writes made to `socket` during one turn of the event loop leave together
 * when the turn ends (one writev), instead of one write(2) each. ioredis
 * writes every pipeline and every script call as it is issued; under load a
 * turn issues several (the transitions of different jobs), and each write
 * also wakes the server. The wait is at most the rest of the current turn.
 */
export function coalesceWrites(socket: Duplex): void {
  const marked = socket as Duplex & { [COALESCED]?: true };
  if (marked[COALESCED]) return;
  marked[COALESCED] = true;
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Duplex, ...args: Parameters<Duplex["write"]>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return (write as (...a: Parameters<Duplex["write"]>) => boolean).apply(this, args);
  } as Duplex["write"];
}

/**
 * A Redis connection that retries forever (BullMQ needs maxRetriesPerRequest = null).
 * `autoPipelining`: commands issued in the same event-loop turn go out in one
 * write (fewer syscalls under load); not for BullMQ or subscriber connections.
 * Every connection's writes are coalesced per event-loop turn (coalesceWrites).
 */
export function createRedis(url: string, log: Logger, opts: { forQueue?: boolean; autoPipelining?: boolean } = {}): Redis {
  const r = new IORedis(url, {
    maxRetriesPerRequest: opts.forQueue ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    enableAutoPipelining: !opts.forQueue && (opts.autoPipelining ?? false),
  });
  r.on("connect", () => coalesceWrites(r.stream));
  r.on("error", (err: Error) => log.warn({ err: err.message }, "redis error"));
  return r;
}
