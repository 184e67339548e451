import type { Logger, Redis } from "@tda/common";

// One Redis connection in subscriber mode, shared by every WatchJob stream and
// the worker's cancel listener. A channel is subscribed while it has listeners,
// except channels under one of `prefixes`: those arrive through one PSUBSCRIBE
// made at start, so listening to one costs no round trip (every WatchJob would
// otherwise pay a SUBSCRIBE and an UNSUBSCRIBE).

export type Listener = (message: string) => void;

export interface Subscriber {
  /** Resolves once Redis confirmed the subscription; returns the unsubscribe function. */
  subscribe(channel: string, fn: Listener): Promise<() => Promise<void>>;
  /**
   * Calls `fn` each time the connection is back after a drop (ioredis has
   * subscribed again): whatever was published meanwhile is lost, so listeners
   * that must not miss a message re-read the state. Returns the remover.
   */
  onReconnect(fn: () => void): () => void;
  close(): Promise<void>;
}

export function createSubscriber(base: Redis, log: Logger, prefixes: string[] = []): Subscriber {
  for (const p of prefixes) if (/[*?[\]\\]/.test(p)) throw new Error(`subscriber prefix "${p}" holds a glob character`);
  const conn = base.duplicate({ enableAutoPipelining: false });
  conn.on("error", (err: Error) => log.warn({ err: err.message }, "redis subscriber error"));
  const listeners = new Map<string, Set<Listener>>();
  const pending = new Map<string, Promise<unknown>>();
  const patterns = prefixes.length > 0 ? conn.psubscribe(...prefixes.map((p) => `${p}*`)) : Promise.resolve();
  patterns.catch(() => undefined); // awaited (and reported) by the subscribe calls that need it
  const underPrefix = (channel: string) => prefixes.some((p) => channel.startsWith(p));

  const deliver = (channel: string, message: string) => {
    for (const fn of listeners.get(channel) ?? []) {
      try {
        fn(message);
      } catch (err) {
        log.error({ err, channel }, "subscriber listener failed");
      }
    }
  };
  const reconnectListeners = new Set<() => void>();
  let readyOnce = false;
  conn.on("ready", () => {
    if (!readyOnce) {
      readyOnce = true;
      return;
    }
    log.info({ listeners: reconnectListeners.size }, "redis subscriber reconnected; watchers re-read their jobs");
    for (const fn of reconnectListeners) {
      try {
        fn();
      } catch (err) {
        log.error({ err }, "subscriber reconnect listener failed");
      }
    }
  });
  conn.on("message", deliver);
  conn.on("pmessage", (_pattern: string, channel: string, message: string) => deliver(channel, message));

  return {
    async subscribe(channel, fn) {
      const viaPattern = underPrefix(channel);
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        pending.set(channel, viaPattern ? patterns : conn.subscribe(channel));
      }
      set.add(fn);
      const unsubscribe = async (): Promise<void> => {
        const s = listeners.get(channel);
        if (!s) return;
        s.delete(fn);
        if (s.size === 0) {
          listeners.delete(channel);
          pending.delete(channel);
          if (!viaPattern) await conn.unsubscribe(channel).catch(() => undefined);
        }
      };
      try {
        await pending.get(channel);
      } catch (err) {
        await unsubscribe();
        throw err;
      }
      return unsubscribe;
    },
    onReconnect(fn) {
      reconnectListeners.add(fn);
      return () => reconnectListeners.delete(fn);
    },
    async close() {
      listeners.clear();
      reconnectListeners.clear();
      await conn.quit().catch(() => undefined);
    },
  };
}
