import type { Admin } from "kafkajs";
import { createKafka, type Logger } from "@tda/common";

// Whether Kafka answers, for GetStreamStatus. One admin connection is kept
// and reused; an answer is cached for `ttlMs` so status calls do not hammer
// the broker, and a slow broker costs a caller at most `timeoutMs`.

export interface BrokerCheck {
  available(): Promise<boolean>;
  close(): Promise<void>;
}

export interface BrokerCheckOptions {
  brokers: string[];
  log: Logger;
  ttlMs: number;
  timeoutMs: number;
}

export function createBrokerCheck(opts: BrokerCheckOptions): BrokerCheck {
  const kafka = createKafka("tda-gateway-admin", opts.brokers, opts.log);
  let admin: Admin | undefined;
  let connected = false;
  let cached: { value: boolean; at: number } | undefined;
  let inflight: Promise<boolean> | undefined;
  let closed = false;

  async function probe(): Promise<boolean> {
    try {
      if (!admin) admin = kafka.admin({ retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } });
      if (!connected) {
        await admin.connect();
        connected = true;
      }
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } catch (err) {
      opts.log.debug({ err: (err as Error).message }, "kafka not reachable");
      const a = admin;
      admin = undefined;
      connected = false;
      await a?.disconnect().catch(() => undefined);
      return false;
    }
  }

  function refresh(): Promise<boolean> {
    if (!inflight) {
      inflight = probe()
        .then((value) => {
          cached = { value, at: Date.now() };
          return value;
        })
        .finally(() => (inflight = undefined));
    }
    return inflight;
  }

  return {
    async available() {
      if (closed) return false;
      if (cached && Date.now() - cached.at < opts.ttlMs) return cached.value;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), opts.timeoutMs);
      });
      try {
        return await Promise.race([refresh(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      await inflight?.catch(() => undefined);
      if (admin) await admin.disconnect().catch(() => undefined);
    },
  };
}
