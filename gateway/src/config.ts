import { ConfigError, loadCommonConfig, readBool, readBytes, readInt, readOptionalString, readString, type CommonConfig, type Env } from "@tda/common";
import { parseApiKeys, type ApiKeys } from "./auth";
import { createJwtVerifier, readKeyMaterial, type JwtSettings } from "./jwt";

export const SERVICE_NAME = "gateway";

export interface GatewayConfig {
  common: CommonConfig;
  port: number;
  uploadAddress: string;
  schedulerAddress: string;
  /** key → tenant; empty (with no JWT keys): only allowed with authDisabled. */
  apiKeys: ApiKeys;
  /**
   * GATEWAY_AUTH_DISABLED=true: no credentials, every caller is tenant
   * "default" (local development only; logged loudly at start). Without it a
   * gateway with neither API keys nor JWT keys refuses to start.
   */
  authDisabled: boolean;
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
  /** JWT verification settings; undefined: JWTs are not accepted. */
  jwt: JwtSettings | undefined;
  /** Largest gRPC message the gateway accepts (a request over it: RESOURCE_EXHAUSTED). */
  maxMessageBytes: number;
  /** The Flink job's JobManager REST URL ("" : not asked). */
  flinkRestUrl: string;
  /** The Flink job's name and Kafka consumer group (for its state and lag). */
  flinkJobName: string;
  streamGroupId: string;
  /** How long a job-status answer is reused. */
  streamStatusTtlMs: number;
  /** Configured streams per tenant. */
  streamMaxConfigs: number;
  /** Follow tda_stream_features (windows emitted, last features and alert). */
  streamFollow: boolean;
  /** How long a stream's last output is kept after its last window. */
  streamOutputRetentionSeconds: number;
  /** WatchStream calls served at once (each holds a Redis connection while it waits). */
  streamMaxWatchers: number;
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const apiKeysRaw = readOptionalString(env, "GATEWAY_API_KEYS");
  let apiKeys: ApiKeys;
  try {
    apiKeys = parseApiKeys(apiKeysRaw ?? "");
  } catch (err) {
    throw new ConfigError(`GATEWAY_API_KEYS: ${(err as Error).message}`);
  }
  const jwtKeys = readOptionalString(env, "GATEWAY_JWT_PUBLIC_KEYS");
  let jwt: JwtSettings | undefined;
  if (jwtKeys !== undefined && jwtKeys.trim() !== "") {
    let keys: string;
    try {
      keys = readKeyMaterial(jwtKeys);
    } catch (err) {
      throw new ConfigError(`GATEWAY_JWT_PUBLIC_KEYS: ${(err as Error).message}`);
    }
    jwt = {
      keys,
      issuer: readOptionalString(env, "GATEWAY_JWT_ISSUER"),
      audience: readOptionalString(env, "GATEWAY_JWT_AUDIENCE"),
      tenantClaim: readString(env, "GATEWAY_JWT_TENANT_CLAIM", "tenant"),
      clockToleranceSeconds: readInt(env, "GATEWAY_JWT_CLOCK_TOLERANCE_S", 30, 0, 3600),
      maxLifetimeSeconds: readInt(env, "GATEWAY_JWT_MAX_LIFETIME_S", 24 * 3600, 60, 30 * 24 * 3600),
    };
    try {
      createJwtVerifier(jwt); // unusable key material fails the start, not the first call
    } catch (err) {
      throw new ConfigError(`GATEWAY_JWT_PUBLIC_KEYS: ${(err as Error).message}`);
    }
  }
  const authDisabled = readBool(env, "GATEWAY_AUTH_DISABLED", false);
  const hasCredentials = apiKeys.size > 0 || jwt !== undefined;
  if (authDisabled && hasCredentials) {
    throw new ConfigError("GATEWAY_AUTH_DISABLED=true but GATEWAY_API_KEYS or GATEWAY_JWT_PUBLIC_KEYS is set: choose one");
  }
  if (!authDisabled && !hasCredentials) {
    throw new ConfigError(
      "no credentials configured: set GATEWAY_API_KEYS and/or GATEWAY_JWT_PUBLIC_KEYS (authentication is on by default), or GATEWAY_AUTH_DISABLED=true for local development",
    );
  }
  return {
    common: loadCommonConfig(SERVICE_NAME, env),
    authDisabled,
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
    jwt,
    maxMessageBytes: readBytes(env, "GATEWAY_MAX_MESSAGE_BYTES", 64 * 1024 * 1024),
    flinkRestUrl: readString(env, "FLINK_REST_URL", "http://127.0.0.1:8081").replace(/\/+$/, ""),
    flinkJobName: readString(env, "FLINK_JOB_NAME", "tda-stream-features"),
    streamGroupId: readString(env, "STREAM_GROUP_ID", "tda-stream-features"),
    streamStatusTtlMs: readInt(env, "GATEWAY_STREAM_STATUS_TTL_MS", 2_000, 0),
    streamMaxConfigs: readInt(env, "GATEWAY_STREAM_MAX_CONFIGS", 10_000, 1),
    streamFollow: readBool(env, "GATEWAY_STREAM_FOLLOW", true),
    streamOutputRetentionSeconds: readInt(env, "GATEWAY_STREAM_OUTPUT_RETENTION_S", 7 * 24 * 3600, 60),
    streamMaxWatchers: readInt(env, "GATEWAY_STREAM_MAX_WATCHERS", 256, 1),
  };
}
