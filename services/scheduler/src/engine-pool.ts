import { channelOptions, checkHealth, clientCredentials, createHealthClient, meshChannelOptions, pbEngine, type Logger, type MeshTls } from "@tda/common";
import { createEngineDiscovery, type EngineDiscovery, type EngineResolver } from "./engine-discovery";
import { JobFailureError } from "./engine-call";
import { failure } from "./failure";

// The engines a worker dispatches to. Which engines exist comes from discovery
// (engine-discovery.ts: static addresses, or every address behind a DNS name,
// refreshed); health comes from the standard gRPC health check (probed
// periodically) and from call failures; a job goes to the healthy engine with
// the fewest calls outstanding from this process, across all of them.

export interface Engine {
  readonly address: string;
  readonly client: pbEngine.EngineServiceClient;
  healthy: boolean;
  outstanding: number;
  /** Not picked before this time (ms) after it said ENGINE_BUSY. */
  busyUntil: number;
  /** Jobs dispatched to it by this process. */
  dispatched: number;
  /** Gone from discovery: never picked again, closed once its calls are over. */
  retired: boolean;
}

export interface EnginePool {
  /**
   * Takes a slot on the best engine; call `release` when the call is over.
   * Never one in `exclude` (the engines that died running the job). Throws
   * NO_ENGINE_AVAILABLE (retryable: the job waits) when no engine is known, or
   * only excluded ones.
   */
  acquire(exclude?: ReadonlySet<string>): Engine;
  release(engine: Engine): void;
  markUnavailable(engine: Engine): void;
  markBusy(engine: Engine, ms: number): void;
  /** Looks the engines up again, then probes each once (a probe running already is shared). */
  probe(): Promise<void>;
  /** The engines known now (retired ones with calls still running are not listed). */
  engines(): readonly Engine[];
  close(): void;
}

export interface EnginePoolOptions {
  /** Interval of the DNS refresh of named targets (ms). */
  refreshMs?: number;
  /** Resolver for named targets (default: the system's). */
  resolver?: EngineResolver;
  /** Mutual TLS to the engines (the mesh's certificates); undefined: plaintext. */
  tls?: MeshTls;
}

interface Member {
  engine: Engine;
  health: ReturnType<typeof createHealthClient>;
}

/**
 * Channels to engines reconnect at least every second: grpc-js backs off up to
 * 120 s by default, so an engine restarted after a minute down was probed
 * healthy again only 6-15 s after it listened (measured), and jobs whose
 * engine died meanwhile spent their attempts on the dead one.
 */
const engineChannelOptions = { ...channelOptions, "grpc.initial_reconnect_backoff_ms": 250, "grpc.max_reconnect_backoff_ms": 1000 };

function newMember(address: string, tls: MeshTls | undefined): Member {
  return {
    engine: {
      address,
      client: new pbEngine.EngineServiceClient(address, clientCredentials(tls), meshChannelOptions(tls, engineChannelOptions)),
      // optimistic until the first probe: a failed call corrects it
      healthy: true,
      outstanding: 0,
      busyUntil: 0,
      dispatched: 0,
      retired: false,
    },
    health: createHealthClient(address, engineChannelOptions, tls),
  };
}

function closeMember(m: Member): void {
  m.engine.client.close();
  m.health.close();
}

/** The healthy, not busy engine with the fewest outstanding calls, never an excluded one; ties rotate. */
function pick(engines: Engine[], exclude: ReadonlySet<string> | undefined, rotation: number): Engine | undefined {
  const now = Date.now();
  // an engine that died running the job is not handed it again, even when it is the only one
  const pool = exclude?.size ? engines.filter((e) => !exclude.has(e.address)) : engines;
  const healthy = pool.filter((e) => e.healthy && e.busyUntil <= now);
  // with no engine known healthy, try anyway: the call tells the truth and
  // its failure is retried with backoff
  const candidates = healthy.length > 0 ? healthy : pool;
  if (candidates.length === 0) return undefined;
  const start = rotation % candidates.length;
  let best = candidates[start]!;
  for (let i = 1; i < candidates.length; i++) {
    const e = candidates[(start + i) % candidates.length]!;
    if (e.outstanding < best.outstanding) best = e;
  }
  return best;
}

/** Adds the engines that appeared to `members`, retires the ones that left (closed at once, or in `retired` until their calls end). */
function syncMembers(members: Map<string, Member>, retired: Set<Member>, addresses: readonly string[], log: Logger, tls: MeshTls | undefined): void {
  const wanted = new Set(addresses);
  for (const a of wanted) {
    if (members.has(a)) continue;
    members.set(a, newMember(a, tls));
    log.info({ engine: a }, "engine joined");
  }
  for (const [a, m] of members) {
    if (wanted.has(a)) continue;
    members.delete(a);
    m.engine.retired = true;
    log.info({ engine: a, outstanding: m.engine.outstanding }, "engine left");
    if (m.engine.outstanding === 0) closeMember(m);
    else retired.add(m);
  }
}

export function createEnginePool(targets: string[] | EngineDiscovery, probeMs: number, log: Logger, opts: EnginePoolOptions = {}): EnginePool {
  const discovery = Array.isArray(targets) ? createEngineDiscovery(targets, { resolver: opts.resolver, log }) : targets;
  const members = new Map<string, Member>();
  const retired = new Set<Member>();
  const sync = (addresses: readonly string[]): void => syncMembers(members, retired, addresses, log, opts.tls);

  let probing: Promise<void> | undefined;
  /** One probe at a time: callers during a probe share it. */
  function probe(): Promise<void> {
    probing ??= probeAll().finally(() => (probing = undefined));
    return probing;
  }

  async function probeAll(): Promise<void> {
    sync(await discovery.refresh());
    await Promise.all(
      [...members.values()].map(async ({ engine: e, health }) => {
        const ok = await checkHealth(health, "", Math.min(2000, probeMs));
        if (ok !== e.healthy) log.info({ engine: e.address, healthy: ok }, "engine health changed");
        e.healthy = ok;
      }),
    );
  }

  sync(discovery.addresses());
  discovery.watch(opts.refreshMs ?? probeMs, sync);
  let rotation = 0;
  const timer = setInterval(() => {
    // a failed probe marks engines unhealthy inside probe(); never leave its promise unhandled
    if (!probing) void probe().catch(() => undefined);
  }, probeMs);
  timer.unref();

  return {
    acquire(exclude) {
      const best = pick(
        [...members.values()].map((m) => m.engine),
        exclude,
        rotation++,
      );
      if (!best) {
        const known = members.size;
        const msg =
          known > 0 && exclude?.size
            ? `no engine other than the ${exclude.size === 1 ? "one" : exclude.size} that died running this job is known to the scheduler`
            : "no engine is known to the scheduler (yet)";
        throw new JobFailureError(failure("NO_ENGINE_AVAILABLE", msg, true, "system"));
      }
      best.outstanding++;
      best.dispatched++;
      return best;
    },
    release(engine) {
      engine.outstanding = Math.max(0, engine.outstanding - 1);
      if (!engine.retired || engine.outstanding > 0) return;
      for (const m of retired) {
        if (m.engine !== engine) continue;
        retired.delete(m);
        closeMember(m);
      }
    },
    markUnavailable(engine) {
      if (engine.healthy) log.warn({ engine: engine.address }, "engine marked unavailable after a failed call");
      engine.healthy = false;
    },
    markBusy(engine, ms) {
      engine.busyUntil = Date.now() + ms;
    },
    probe,
    engines: () => [...members.values()].map((m) => m.engine),
    close() {
      clearInterval(timer);
      discovery.close();
      for (const m of [...members.values(), ...retired]) closeMember(m);
      members.clear();
      retired.clear();
    },
  };
}
