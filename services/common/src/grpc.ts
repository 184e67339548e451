import {
  credentials,
  Metadata,
  Server,
  type ChannelOptions,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServerReadableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatusMap } from "grpc-health-check";
import type { Logger } from "./logger";
import { serverCredentials, type MeshTls } from "./tls";
import { toServiceError } from "./errors";
import type { ServiceMetrics } from "./metrics";

export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const channelOptions: ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.enable_channelz": 0,
  "grpc.keepalive_time_ms": 60_000,
};

export function insecure() {
  return credentials.createInsecure();
}

/** A gRPC server; with `metrics`, every call is counted by an interceptor. */
export function createServer(options: ChannelOptions = {}, metrics?: ServiceMetrics): Server {
  return new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.enable_channelz": 0,
    ...options,
    ...(metrics ? { interceptors: [metrics.interceptor()] } : {}),
  });
}

/** Binds `server`; with `tls`, only callers with a certificate from the mesh CA get in (mutual TLS). */
export function bind(server: Server, host: string, port: number, tls?: MeshTls): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, serverCredentials(tls), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

export function shutdown(server: Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Standard gRPC health service; `names` are the fully-qualified service names. */
export function addHealth(server: Server, names: string[]): HealthImplementation {
  const initial: ServingStatusMap = { "": "SERVING" };
  for (const n of names) initial[n] = "SERVING";
  const health = new HealthImplementation(initial);
  health.addToServer(server);
  return health;
}

// The tenant on incoming calls: tenantOf / setTenant in tenant-token.ts.

/** Wraps an async unary handler: errors become gRPC status + details. */
export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
    // a handler that throws before its first await (e.g. tenantOf refusing) is a rejection too
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => cb(null, res),
        (err: unknown) => {
          logError(log, method, err);
          cb(toServiceError(err));
        },
      );
  };
}

/** Wraps an async client-streaming handler. */
export function clientStream<Req, Res>(log: Logger, method: string, fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>) {
  return (call: ServerReadableStream<Req, Res>, cb: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (res) => cb(null, res),
        (err: unknown) => {
          logError(log, method, err);
          cb(toServiceError(err));
        },
      );
  };
}

/** Wraps an async server-streaming handler. */
export function serverStream<Req, Res>(log: Logger, method: string, fn: (call: ServerWritableStream<Req, Res>) => Promise<void>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        () => call.end(),
        (err: unknown) => {
          logError(log, method, err);
          call.emit("error", toServiceError(err));
        },
      );
  };
}

/** Logs a failed request: INTERNAL and UNKNOWN as errors, the caller's mistakes (every other code) at debug. */
export function logError(log: Logger, method: string, err: unknown): void {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number" && code !== 13 && code !== 2) log.debug({ method, err }, "request failed");
  else log.error({ method, err }, "request failed");
}

/** What writeUnlessCancelled needs of a server stream (grpc-js ServerWritableStream). */
export interface CancellableWritable {
  readonly cancelled: boolean;
  write(chunk: unknown): boolean;
  once(ev: "drain" | "cancelled" | "close", fn: () => void): unknown;
  removeListener(ev: "drain" | "cancelled" | "close", fn: () => void): unknown;
}

/**
 * Writes to a server stream honouring back-pressure, but never waits on a call the client has
 * cancelled: grpc-js drops writes to a cancelled call without calling them back, so its buffer
 * never drains and a writer waiting for "drain" would wait (and hold everything it references)
 * forever. Resolves true once written (or drained), false when the call is gone.
 */
export function writeUnlessCancelled(call: CancellableWritable, chunk: unknown): Promise<boolean> {
  if (call.cancelled) return Promise.resolve(false);
  if (call.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (ok: boolean): void => {
      call.removeListener("drain", onDrain);
      call.removeListener("cancelled", onGone);
      call.removeListener("close", onGone);
      resolve(ok);
    };
    const onDrain = (): void => settle(true);
    const onGone = (): void => settle(false);
    call.once("drain", onDrain);
    call.once("cancelled", onGone);
    call.once("close", onGone);
  });
}

/** Writes to a server/client stream honouring back-pressure (on a server stream that may be cancelled: writeUnlessCancelled). */
export function writeWithDrain(stream: { write(chunk: unknown): boolean; once(ev: "drain", fn: () => void): unknown }, chunk: unknown): Promise<void> {
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => stream.once("drain", () => resolve()));
}
