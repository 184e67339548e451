import type { Server } from "@grpc/grpc-js";
import type { Http2Server, Http2Session, Settings } from "node:http2";

// A grpc-js server advertises Node's default HTTP/2 receive windows: 64 KiB per
// stream and 64 KiB for the whole connection. For a large client stream (an
// upload) the sender then stalls every 64 KiB until the server's event loop
// has read the data and sent WINDOW_UPDATE, which caps loopback throughput far
// below what the CPU allows. grpc-js 1.14 has no server option for this
// (`grpc-node.flow_control_window` only affects clients), so this reaches
// into two internals of the pinned version: the options it passes to
// http2.createServer (stream window, sent in SETTINGS) and the factory of its
// HTTP/2 servers (to raise each new connection's window). If the internals
// are not there, the server keeps the defaults and works as before.

interface ServerInternals {
  commonServerOptions?: { settings?: Settings };
  createHttp2Server?: (...args: unknown[]) => Http2Server;
}

export interface FlowControlOptions {
  /** Receive window per stream (initial window size in SETTINGS), bytes. */
  streamWindowBytes: number;
  /** Receive window of a whole connection, bytes. */
  connectionWindowBytes: number;
}

export const LARGE_STREAM_FLOW_CONTROL: FlowControlOptions = {
  streamWindowBytes: 4 * 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
};

const MAX_WINDOW = 2 ** 31 - 1;

/**
 * Raises the HTTP/2 receive windows of `server`; call before binding it.
 * Returns whether the grpc-js internals were found.
 */
export function widenReceiveWindows(server: Server, opts: FlowControlOptions = LARGE_STREAM_FLOW_CONTROL): boolean {
  const s = server as unknown as ServerInternals;
  const original = s.createHttp2Server;
  if (!s.commonServerOptions || typeof original !== "function") return false;
  const stream = Math.min(MAX_WINDOW, Math.max(65535, Math.floor(opts.streamWindowBytes)));
  const conn = Math.min(MAX_WINDOW, Math.max(65535, Math.floor(opts.connectionWindowBytes)));
  s.commonServerOptions.settings = { ...(s.commonServerOptions.settings ?? {}), initialWindowSize: stream };
  s.createHttp2Server = function (this: unknown, ...args: unknown[]): Http2Server {
    const http2Server = original.apply(this, args);
    http2Server.on("session", (session: Http2Session) => {
      try {
        session.setLocalWindowSize(conn);
      } catch {
        // a session closed at once keeps its default window
      }
    });
    return http2Server;
  };
  return true;
}
