import type { Logger, Redis } from "@tda/common";

// One Redis connection in subscriber mode, shared by every WatchJob stream and
// the worker's cancel listener. A channel is subscribed while it has listeners.

export type Listener = (message: string) => void;

export interface Subscriber {
  /** Resolves once Redis confirmed the subscription; returns the unsubscribe function. */
  subscribe(channel: string, fn: Listener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function createSubscriber(base: Redis, log: Logger): Subscriber {
  const conn = base.duplicate({ enableAutoPipelining: false });
  conn.on("error", (err: Error) => log.warn({ err: err.message }, "redis subscriber error"));
  const listeners = new Map<string, Set<Listener>>();
  const pending = new Map<string, Promise<unknown>>();

  conn.on("message", (channel: string, message: string) => {
    for (const fn of listeners.get(channel) ?? []) {
      try {
        fn(message);
      } catch (err) {
        log.error({ err, channel }, "subscriber listener failed");
      }
    }
  });

  return {
    async subscribe(channel, fn) {
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        pending.set(channel, conn.subscribe(channel));
      }
      set.add(fn);
      await pending.get(channel);
      return async () => {
        const s = listeners.get(channel);
        if (!s) return;
        s.delete(fn);
        if (s.size === 0) {
          listeners.delete(channel);
          pending.delete(channel);
          await conn.unsubscribe(channel).catch(() => undefined);
        }
      };
    },
    async close() {
      listeners.clear();
      await conn.quit().catch(() => undefined);
    },
  };
}
