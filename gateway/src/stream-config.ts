import type { Redis } from "ioredis";
import type { FieldViolation, pbStream } from "@tda/common";

// A stream's configuration: checked and completed with the defaults here (the
// same rules as the Flink job's), stored in the gateway's Redis so that
// GetStreamStatus shows it, and published in-band on tda_events (key
// tenant/stream) so the job applies it exactly where it falls in the stream.
//
//   tda:gateway:stream-config:{tenant}:{stream_id}   string  base64 StreamConfig
//   tda:gateway:stream-configs:{tenant}              set     configured stream ids

export function streamConfigsKey(tenant: string): string {
  return `tda:gateway:stream-configs:${tenant}`;
}

export const DEFAULT_WINDOW_SIZE = 256;
export const DEFAULT_WINDOW_SLIDE = 64;
export const MAX_COUNT_WINDOW = 4096;
export const MAX_STREAM_HOMOLOGY_DIM = 2;
export const MAX_WINDOW_MS = 7 * 24 * 3600 * 1000;

export function defaultStreamConfig(): pbStream.StreamConfig {
  return { window: { $case: "count", value: { size: DEFAULT_WINDOW_SIZE, slide: DEFAULT_WINDOW_SLIDE } }, maxDim: 1, noiseLevel: 0 };
}

function checkNonNegative(v: FieldViolation[], field: string, x: number | undefined, finite: boolean): void {
  if (x === undefined) return;
  if (Number.isNaN(x) || x < 0 || (finite && !Number.isFinite(x)))
    v.push({ field, description: finite ? "must be finite and non-negative" : "must be non-negative" });
}

function windowViolations(c: pbStream.StreamConfig, v: FieldViolation[]): void {
  const w = c.window;
  if (w?.$case === "count") {
    if (w.value.size < 2 || w.value.size > MAX_COUNT_WINDOW) v.push({ field: "config.count.size", description: `must be in 2..${MAX_COUNT_WINDOW}` });
    if (w.value.slide < 1 || w.value.slide > w.value.size) v.push({ field: "config.count.slide", description: "must be in 1..size" });
  } else if (w?.$case === "time") {
    const t = w.value;
    if (t.sizeMs < 1 || t.sizeMs > MAX_WINDOW_MS) v.push({ field: "config.time.size_ms", description: `must be in 1..${MAX_WINDOW_MS}` });
    if (t.slideMs < 1 || t.slideMs > t.sizeMs) v.push({ field: "config.time.slide_ms", description: "must be in 1..size_ms" });
    if (t.watermarkDelayMs > MAX_WINDOW_MS) v.push({ field: "config.time.watermark_delay_ms", description: `must be at most ${MAX_WINDOW_MS}` });
    if (t.allowedLatenessMs > MAX_WINDOW_MS) v.push({ field: "config.time.allowed_lateness_ms", description: `must be at most ${MAX_WINDOW_MS}` });
  }
}

/** Every problem of a requested configuration (field names as in the proto). */
export function streamConfigViolations(c: pbStream.StreamConfig | undefined): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (c === undefined) return v;
  windowViolations(c, v);
  if (c.maxDim > MAX_STREAM_HOMOLOGY_DIM) v.push({ field: "config.max_dim", description: `must be at most ${MAX_STREAM_HOMOLOGY_DIM}` });
  checkNonNegative(v, "config.threshold", c.threshold, false);
  checkNonNegative(v, "config.betti_scale", c.bettiScale, true);
  checkNonNegative(v, "config.noise_level", c.noiseLevel, true);
  checkNonNegative(v, "config.alert_level", c.alertLevel, true);
  return v;
}

/** The configuration with the defaults filled in (call after streamConfigViolations). */
export function completeStreamConfig(c: pbStream.StreamConfig | undefined): pbStream.StreamConfig {
  const d = defaultStreamConfig();
  if (c === undefined) return d;
  return { ...c, window: c.window ?? d.window, maxDim: c.maxDim === 0 ? d.maxDim : c.maxDim };
}

export interface StreamConfigStore {
  get(tenant: string, streamId: string): Promise<pbStream.StreamConfig | undefined>;
  /** Stores it; false when the tenant already has `maxStreams` other configured streams. */
  set(tenant: string, streamId: string, config: pbStream.StreamConfig): Promise<boolean>;
}

const SET_IF_ROOM_LUA = `
if redis.call('sismember', KEYS[2], ARGV[2]) == 0 and redis.call('scard', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('sadd', KEYS[2], ARGV[2])
redis.call('set', KEYS[1], ARGV[1])
return 1`;

export function createStreamConfigStore(
  redis: Redis,
  encode: (c: pbStream.StreamConfig) => Uint8Array,
  decode: (b: Uint8Array) => pbStream.StreamConfig,
  maxStreams: number,
): StreamConfigStore {
  const key = (tenant: string, streamId: string): string => `tda:gateway:stream-config:${tenant}:${streamId}`;
  return {
    async get(tenant, streamId) {
      const raw = await redis.get(key(tenant, streamId));
      return raw === null ? undefined : decode(Buffer.from(raw, "base64"));
    },
    async set(tenant, streamId, config) {
      const ok = await redis.eval(
        SET_IF_ROOM_LUA,
        2,
        key(tenant, streamId),
        streamConfigsKey(tenant),
        Buffer.from(encode(config)).toString("base64"),
        streamId,
        maxStreams,
      );
      return Number(ok) === 1;
    },
  };
}
