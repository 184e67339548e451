import type { Redis } from "ioredis";

// The outbox appender: a record is durable once it is in the Redis list.
// The records of all append calls made while one RPUSH is on its way go out
// together in the next RPUSH, in call order: under load many round trips
// become one; a lone append still costs one RPUSH.

export interface OutboxAppender {
  /** Resolves once `record` is stored at the tail of the outbox. */
  append(record: string): Promise<void>;
}

export function createOutboxAppender(redis: Redis, listKey: string): OutboxAppender {
  let pending: { recs: string[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | undefined;
  let pushing = false;

  async function pushPending(): Promise<void> {
    pushing = true;
    try {
      while (pending) {
        const batch = pending;
        pending = undefined;
        try {
          await redis.rpush(listKey, ...batch.recs);
          for (const w of batch.waiters) w.resolve();
        } catch (err) {
          for (const w of batch.waiters) w.reject(err);
        }
      }
    } finally {
      pushing = false;
    }
  }

  return {
    append(record) {
      return new Promise<void>((resolve, reject) => {
        pending ??= { recs: [], waiters: [] };
        pending.recs.push(record);
        pending.waiters.push({ resolve, reject });
        if (!pushing) void pushPending();
      });
    },
  };
}
