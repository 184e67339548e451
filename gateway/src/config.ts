import { ConfigError, loadCommonConfig, readBytes, readInt, readOptionalString, readString, type CommonConfig, type Env } from "@tda/common";
import { parseApiKeys, type ApiKeys } from "./auth";

export const SERVICE_NAME = "gateway";

export interface GatewayConfig {
  common: CommonConfig;
  port: number;
  uploadAddress: string;
  schedulerAddress: string;
  /** key → tenant; empty: authentication is off and every caller is tenant "default". */
  apiKeys: ApiKeys;
  /** Deadline of every downstream unary call (streams have none of their own). */
  downstreamTimeoutMs: number;
  /** How often the upstreams' health is polled. */
  healthPollMs: number;
  /** Deadline of one upstream health check. */
  healthTimeoutMs: number;
  /** How long a Kafka reachability answer is reused. */
  brokerCheckTtlMs: number;
  /** Largest payload of one PublishStream call (bytes of float64 values). */
  streamMaxBytes: number;
  /** Per-tenant calls (submissions, uploads, stream publishes) per window; 0: no limit. */
  rateLimit: number;
  rateWindowMs: number;
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const apiKeysRaw = readOptionalString(env, "GATEWAY_API_KEYS");
  let apiKeys: ApiKeys;
  try {
    apiKeys = parseApiKeys(apiKeysRaw ?? "");
  } catch (err) {
    throw new ConfigError(`GATEWAY_API_KEYS: ${(err as Error).message}`);
  }
  return {
    common: loadCommonConfig(SERVICE_NAME, env),
    port: readInt(env, "GATEWAY_PORT", 50070, 0, 65535),
    uploadAddress: readString(env, "UPLOAD_ADDRESS", "127.0.0.1:50071"),
    schedulerAddress: readString(env, "SCHEDULER_ADDRESS", "127.0.0.1:50072"),
    apiKeys,
    downstreamTimeoutMs: readInt(env, "GATEWAY_DOWNSTREAM_TIMEOUT_MS", 30_000, 1),
    healthPollMs: readInt(env, "GATEWAY_HEALTH_POLL_MS", 3_000, 100),
    healthTimeoutMs: readInt(env, "GATEWAY_HEALTH_TIMEOUT_MS", 2_000, 50),
    brokerCheckTtlMs: readInt(env, "GATEWAY_BROKER_CHECK_TTL_MS", 5_000, 0),
    streamMaxBytes: readBytes(env, "GATEWAY_STREAM_MAX_BYTES", 8 * 1024 * 1024),
    rateLimit: readInt(env, "GATEWAY_RATE_LIMIT", 0, 0),
    rateWindowMs: readInt(env, "GATEWAY_RATE_WINDOW_MS", 60_000, 100),
  };
}
