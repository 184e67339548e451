// Small typed readers for environment configuration. Blank means unset; a bad
// value fails at start with a clear message. Only config.ts files call these.

import { readFileSync } from "node:fs";
import type { MeshTls } from "./tls";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function requireString(env: Env, name: string): string {
  const v = raw(env, name);
  if (v === undefined) throw new ConfigError(`${name} is required but not set`);
  return v;
}

export function readInt(env: Env, name: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(`${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(`${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be a boolean, got "${v}"`);
}

export function readList(env: Env, name: string, fallback: string[]): string[] {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Bytes with an optional K/M/G suffix (powers of 1024). */
export function readBytes(env: Env, name: string, fallback: number): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const m = /^(\d+)([kKmMgG]?)[bB]?$/.exec(v);
  if (!m) throw new ConfigError(`${name} must be a byte size like 512M, got "${v}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * mult;
}

/** Settings every service shares. */
export interface CommonConfig {
  serviceName: string;
  host: string;
  redisUrl: string;
  kafkaBrokers: string[];
  topicPrefix: string;
  logLevel: string;
  otlpEndpoint: string | undefined;
  /** Port of the Prometheus /metrics HTTP server ({SERVICE}_METRICS_PORT); 0: off. */
  metricsPort: number;
  /** How often the service's dependencies (Redis, Kafka, engines) are checked for its health status (HEALTH_POLL_MS). */
  healthPollMs: number;
  /** Whether Kafka being unreachable makes the service NOT_SERVING (HEALTH_REQUIRE_KAFKA). */
  healthRequireKafka: boolean;
  /** Key shared by the mesh processes that signs the tenant on internal hops (TDA_MESH_KEY, ≥ 32 characters); unset: bare x-tenant-id trusted. */
  meshKey: string | undefined;
  /** Mutual TLS on the mesh's internal hops (TDA_TLS_CA/CERT/KEY); undefined: plaintext, logged loudly. */
  tls: MeshTls | undefined;
}

/** Default metrics ports: gateway 9470, upload 9471, scheduler 9472; other services off. */
export const DEFAULT_METRICS_PORTS: Record<string, number> = { gateway: 9470, upload: 9471, scheduler: 9472 };

export function loadCommonConfig(serviceName: string, env: Env): CommonConfig {
  return {
    serviceName,
    host: readString(env, "TDA_HOST", "127.0.0.1"),
    redisUrl: readString(env, "REDIS_URL", "redis://127.0.0.1:6390"),
    kafkaBrokers: readList(env, "KAFKA_BROKERS", ["127.0.0.1:9192"]),
    topicPrefix: readString(env, "KAFKA_TOPIC_PREFIX", ""),
    logLevel: readString(env, "LOG_LEVEL", "info"),
    otlpEndpoint: readOptionalString(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    metricsPort: readInt(env, `${serviceName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_METRICS_PORT`, DEFAULT_METRICS_PORTS[serviceName] ?? 0, 0, 65535),
    healthPollMs: readInt(env, "HEALTH_POLL_MS", 2000, 100),
    healthRequireKafka: readBool(env, "HEALTH_REQUIRE_KAFKA", true),
    meshKey: readMeshKey(env),
    tls: readMeshTls(env),
  };
}

function readMeshKey(env: Env): string | undefined {
  const key = readOptionalString(env, "TDA_MESH_KEY");
  if (key !== undefined && key.length < 32) throw new ConfigError("TDA_MESH_KEY must be at least 32 characters (e.g. openssl rand -hex 32)");
  return key;
}

function readPem(path: string, name: string): Buffer {
  try {
    const pem = readFileSync(path);
    if (pem.length === 0 || !pem.includes("-----BEGIN")) throw new Error("not a PEM file");
    return pem;
  } catch (err) {
    throw new ConfigError(`${name}: cannot read "${path}": ${(err as Error).message}`);
  }
}

/**
 * TDA_TLS_CA, TDA_TLS_CERT, TDA_TLS_KEY (PEM paths): all three, or none
 * (plaintext hops, which every service logs loudly at start-up).
 */
export function readMeshTls(env: Env): MeshTls | undefined {
  const paths = { TDA_TLS_CA: env.TDA_TLS_CA?.trim(), TDA_TLS_CERT: env.TDA_TLS_CERT?.trim(), TDA_TLS_KEY: env.TDA_TLS_KEY?.trim() };
  const given = Object.values(paths).filter((p) => p).length;
  if (given === 0) return undefined;
  if (given !== 3) throw new ConfigError("mutual TLS needs all of TDA_TLS_CA, TDA_TLS_CERT and TDA_TLS_KEY");
  return {
    ca: readPem(paths.TDA_TLS_CA!, "TDA_TLS_CA"),
    cert: readPem(paths.TDA_TLS_CERT!, "TDA_TLS_CERT"),
    key: readPem(paths.TDA_TLS_KEY!, "TDA_TLS_KEY"),
    caPath: paths.TDA_TLS_CA!,
  };
}
