import { Metadata } from "@grpc/grpc-js";
import { pbCommon, pbEngine, type Logger } from "@tda/common";
import type { EnginePool } from "./engine-pool";
import type { ParamLimits } from "./params";

// What the engines accept, as they publish it (GetInfo EngineLimits): the one
// source of the compute limits. The scheduler checks submits and estimates
// against its own configured bounds tightened by these, and GetLimits passes
// them on to the gateway. Answers are reused for `ttlMs`; a stale answer is
// served while a fresh one is asked for in the background, so a call waits
// for the engines only the very first time (bounded by the RPC timeout).

export interface PublishedLimits {
  /** What every engine that answered accepts (the strictest of their limits). */
  limits: pbEngine.EngineLimits;
  /** Smallest per-job memory limit; threads of the first engine; algorithms of any. */
  memoryLimitBytes: number;
  threads: number;
  algorithms: pbCommon.Algorithm[];
}

export interface EngineLimits {
  /** The engines' limits, undefined while none has answered. */
  published(): Promise<PublishedLimits | undefined>;
  /** `own` tightened by what the engines publish (`own` itself while none has answered). */
  effective(own: ParamLimits): Promise<ParamLimits>;
}

export interface EngineLimitsOptions {
  engines: EnginePool | undefined;
  rpcTimeoutMs: number;
  log: Logger;
  /** How long one round of GetInfo answers is reused (default 10 s). */
  ttlMs?: number;
}

const minOf = (values: number[]): number => (values.length > 0 ? Math.min(...values) : 0);
/** The smallest positive value (0: nobody set one). */
const minSet = (values: number[]): number => minOf(values.filter((v) => v > 0));

/** The strictest of several engines' limits (0 fields: unset; Alpha only if every engine has it). */
export function mergeLimits(all: pbEngine.EngineLimits[]): pbEngine.EngineLimits {
  const pick = (f: (l: pbEngine.EngineLimits) => number) => minSet(all.map(f));
  const alpha = all.every((l) => l.alphaMaxDim > 0);
  const ambient = all.map((l) => new Set(l.alphaAmbientDims));
  return pbEngine.EngineLimits.fromPartial({
    ripsMaxDim: pick((l) => l.ripsMaxDim),
    alphaMaxDim: alpha ? pick((l) => l.alphaMaxDim) : 0,
    maxModulus: pick((l) => l.maxModulus),
    maxPoints: pick((l) => l.maxPoints),
    maxAmbientDim: pick((l) => l.maxAmbientDim),
    alphaAmbientDims: alpha ? (all[0]?.alphaAmbientDims ?? []).filter((d) => ambient.every((s) => s.has(d))) : [],
    alphaMaxPoints: alpha ? pick((l) => l.alphaMaxPoints) : 0,
    maxThreads: pick((l) => l.maxThreads),
    memoryLimitBytes: pick((l) => l.memoryLimitBytes),
    maxMessageBytes: pick((l) => l.maxMessageBytes),
  });
}

/** `own` tightened by the engines' published limits (an unset engine field leaves `own` as it is). */
export function tighten(own: ParamLimits, e: pbEngine.EngineLimits): ParamLimits {
  const min = (a: number, b: number) => (b > 0 ? Math.min(a, b) : a);
  return {
    ...own,
    maxDim: min(own.maxDim, e.ripsMaxDim),
    maxModulus: min(own.maxModulus, e.maxModulus),
    engine: e,
  };
}

function getInfo(client: pbEngine.EngineServiceClient, timeoutMs: number): Promise<pbEngine.GetInfoResponse | undefined> {
  return new Promise((resolve) => {
    client.getInfo({}, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => resolve(err ? undefined : res));
  });
}

export function createEngineLimits(opts: EngineLimitsOptions): EngineLimits {
  const ttl = opts.ttlMs ?? 10_000;
  let cached: { at: number; value: PublishedLimits } | undefined;
  let asking: Promise<PublishedLimits | undefined> | undefined;
  let lastAsked = 0;

  async function ask(): Promise<PublishedLimits | undefined> {
    lastAsked = Date.now();
    const engines = opts.engines?.engines() ?? [];
    const timeout = Math.min(opts.rpcTimeoutMs, 2000);
    const info = (await Promise.all(engines.map((e) => getInfo(e.client, timeout)))).filter((x): x is pbEngine.GetInfoResponse => x !== undefined);
    if (info.length === 0) return cached?.value;
    const value: PublishedLimits = {
      limits: mergeLimits(info.map((i) => i.limits ?? pbEngine.EngineLimits.fromPartial({}))),
      memoryLimitBytes: minSet(info.map((i) => i.memoryLimitBytes)),
      threads: info[0]?.threads ?? 0,
      algorithms: [...new Set(info.flatMap((i) => i.algorithms))].sort(),
    };
    cached = { at: Date.now(), value };
    return value;
  }

  function refresh(): Promise<PublishedLimits | undefined> {
    asking ??= ask()
      .catch((err: unknown) => {
        opts.log.debug({ err: (err as Error).message }, "engine GetInfo failed");
        return cached?.value;
      })
      .finally(() => (asking = undefined));
    return asking;
  }

  async function published(): Promise<PublishedLimits | undefined> {
    if (!cached && lastAsked === 0) return refresh(); // the first time: wait for the engines (bounded)
    // stale (or no answer yet): serve what there is, ask again in the background
    const now = Date.now();
    if ((!cached || now - cached.at >= ttl) && now - lastAsked >= Math.min(ttl, 1000)) void refresh();
    return cached?.value;
  }

  return {
    published,
    async effective(own) {
      const p = await published();
      return p ? tighten(own, p.limits) : own;
    },
  };
}
