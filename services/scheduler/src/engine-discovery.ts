import { promises as dns, type SrvRecord } from "node:dns";
import { isIP } from "node:net";
import { ConfigError, type Logger } from "@tda/common";

// Which engines exist. ENGINE_ADDRESSES lists targets; each is one of
//   IP:PORT / [IPv6]:PORT   one engine
//   HOST:PORT               every address HOST resolves to (a Kubernetes headless
//                           Service has one A record per ready engine pod)
//   srv:NAME                every target of NAME's SRV records, each target's
//                           addresses with the record's port
//                           (srv:_grpc._tcp.tda-engine-headless.tda-mesh.svc.cluster.local)
// Names are resolved again every refresh interval, so engines that join or leave
// are picked up without a restart. A lookup that fails for a reason other than
// "no such name / no records" keeps that target's last known addresses: a DNS
// hiccup never empties the pool.

export type EngineTarget =
  { kind: "static"; spec: string; address: string } | { kind: "host"; spec: string; host: string; port: number } | { kind: "srv"; spec: string; name: string };

/** How names become addresses; the default is the system's (or ENGINE_DNS_SERVERS). */
export interface EngineResolver {
  /** IPv4 addresses of `host` (IPv6 when it has none). */
  addresses(host: string): Promise<string[]>;
  srv(name: string): Promise<SrvRecord[]>;
}

export interface EngineDiscovery {
  readonly targets: readonly EngineTarget[];
  /** Addresses known now (host:port, sorted, unique). */
  addresses(): string[];
  /** Resolves every target again; resolves to the new address list. */
  refresh(): Promise<string[]>;
  /** Refreshes every `intervalMs`; `onChange` is called whenever a refresh changes the list. */
  watch(intervalMs: number, onChange: (addresses: string[]) => void): void;
  close(): void;
}

function parsePort(spec: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new ConfigError(`ENGINE_ADDRESSES: bad port in "${spec}"`);
  return port;
}

/** Parses one ENGINE_ADDRESSES entry; a malformed one is a ConfigError. */
export function parseEngineTarget(spec: string): EngineTarget {
  if (spec.startsWith("srv:")) {
    const name = spec.slice(4).replace(/^\/+/, "");
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new ConfigError(`ENGINE_ADDRESSES: bad SRV name in "${spec}"`);
    return { kind: "srv", spec, name };
  }
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(spec);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw new ConfigError(`ENGINE_ADDRESSES: bad IPv6 address in "${spec}"`);
    return { kind: "static", spec, address: `[${bracketed[1]}]:${parsePort(spec, bracketed[2]!)}` };
  }
  const m = /^([^:/\s]+):([^:]+)$/.exec(spec);
  if (!m) throw new ConfigError(`ENGINE_ADDRESSES: expected HOST:PORT, [IPv6]:PORT or srv:NAME, got "${spec}"`);
  const [host, portText] = [m[1]!, m[2]!];
  const port = parsePort(spec, portText);
  if (isIP(host) === 4) return { kind: "static", spec, address: `${host}:${port}` };
  if (!/^[A-Za-z0-9_.-]+$/.test(host)) throw new ConfigError(`ENGINE_ADDRESSES: bad host name in "${spec}"`);
  return { kind: "host", spec, host, port };
}

export function parseEngineTargets(specs: string[]): EngineTarget[] {
  return specs.map(parseEngineTarget);
}

function joinHostPort(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A name that exists no more (or has no records): its engines are gone. */
function isNoRecords(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === dns.NOTFOUND || code === dns.NODATA || code === "ENOTFOUND" || code === "ENODATA";
}

/**
 * The resolver used in production. Without `servers` host names go through the
 * system (getaddrinfo: /etc/hosts, search domains, the pod's DNS); with
 * `servers` ("IP" or "IP:PORT") every lookup asks those servers directly.
 */
export function createEngineResolver(servers: string[] = [], timeoutMs = 2000): EngineResolver {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  const direct = servers.length > 0;
  async function viaResolver(host: string): Promise<string[]> {
    const v4 = await resolver.resolve4(host).catch((err: unknown) => (isNoRecords(err) ? [] : Promise.reject(err)));
    if (v4.length > 0) return v4;
    return resolver.resolve6(host);
  }
  async function viaSystem(host: string): Promise<string[]> {
    const all = await dns.lookup(host, { all: true });
    const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
    return v4.length > 0 ? v4 : all.map((a) => a.address);
  }
  return {
    addresses: (host) => (direct ? viaResolver(host) : viaSystem(host)),
    srv: (name) => resolver.resolveSrv(name),
  };
}

async function resolveTarget(t: EngineTarget, resolver: EngineResolver): Promise<string[]> {
  switch (t.kind) {
    case "static":
      return [t.address];
    case "host":
      return (await resolver.addresses(t.host)).map((ip) => joinHostPort(ip, t.port));
    case "srv": {
      const records = await resolver.srv(t.name);
      const perRecord = await Promise.all(
        records.map(async (r) =>
          (await resolver.addresses(r.name).catch((err: unknown) => (isNoRecords(err) ? [] : Promise.reject(err)))).map((ip) => joinHostPort(ip, r.port)),
        ),
      );
      return perRecord.flat();
    }
  }
}

export interface EngineDiscoveryDeps {
  resolver?: EngineResolver;
  log: Logger;
}

export function createEngineDiscovery(specs: string[], deps: EngineDiscoveryDeps): EngineDiscovery {
  const targets = parseEngineTargets(specs);
  const resolver = deps.resolver ?? createEngineResolver();
  const log = deps.log;
  // last known addresses per target; static ones are known from the start
  const known = new Map<string, string[]>(targets.filter((t) => t.kind === "static").map((t) => [t.spec, [(t as { address: string }).address]]));
  const failing = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let current = merge();

  function merge(): string[] {
    return [...new Set([...known.values()].flat())].sort();
  }

  async function refreshTarget(t: EngineTarget): Promise<void> {
    try {
      known.set(t.spec, await resolveTarget(t, resolver));
      if (failing.delete(t.spec)) log.info({ target: t.spec }, "engine lookup works again");
    } catch (err) {
      if (isNoRecords(err)) {
        known.set(t.spec, []);
        return;
      }
      // keep what we knew: a DNS outage must not take the engines away
      if (!failing.has(t.spec)) log.warn({ target: t.spec, err: (err as Error).message }, "engine lookup failed; keeping the last known engines");
      failing.add(t.spec);
    }
  }

  let listener: ((addresses: string[]) => void) | undefined;
  let inFlight: Promise<string[]> | undefined;

  async function resolveAll(): Promise<string[]> {
    await Promise.all(targets.map(refreshTarget));
    const before = current.join(",");
    current = merge();
    if (current.join(",") !== before) listener?.(current);
    return current;
  }

  // concurrent callers (the timer, a health probe) share one round of lookups
  function refresh(): Promise<string[]> {
    inFlight ??= resolveAll().finally(() => (inFlight = undefined));
    return inFlight;
  }

  return {
    targets,
    addresses: () => current,
    refresh,
    watch(intervalMs, onChange) {
      listener = onChange;
      timer = setInterval(() => void refresh(), intervalMs);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
