import type { ServerReadableStream } from "@grpc/grpc-js";

// grpc-js ends a client stream the same way for a half-close and for a client
// cancel (RST_STREAM), and flags `call.cancelled` only a few event-loop turns
// later. A truncated upload must never be stored as a complete one, so the
// underlying HTTP/2 stream is checked too: after a normal half-close it is
// still open (the response has not been sent); after a reset it is closed.
// This looks at grpc-js internals (pinned 1.14.x) and falls back to the flag.

interface MaybeStream {
  closed?: unknown;
  destroyed?: unknown;
  rstCode?: unknown;
}

function findHttp2Stream(call: unknown): MaybeStream | undefined {
  let obj = (call as { call?: unknown }).call as Record<string, unknown> | undefined;
  for (let depth = 0; obj && depth < 6; depth++) {
    const s = obj.stream as MaybeStream | undefined;
    if (s && typeof s === "object" && typeof s.closed === "boolean") return s;
    obj = (obj.nextCall ?? obj.call) as Record<string, unknown> | undefined;
  }
  return undefined;
}

export function isCancelled(call: ServerReadableStream<unknown, unknown>): boolean {
  if (call.cancelled) return true;
  const s = findHttp2Stream(call);
  return !!s && (s.closed === true || s.destroyed === true);
}

/** Whether the HTTP/2 stream could be located (for tests of this module). */
export function canInspect(call: ServerReadableStream<unknown, unknown>): boolean {
  return findHttp2Stream(call) !== undefined;
}

/**
 * Waits up to `ms` for a cancellation to show after the request stream ended.
 * A grpc-js client's cancel() sends END_STREAM and then RST_STREAM, so the end
 * of the stream alone does not prove the client finished; the reset follows on
 * the same connection within moments.
 */
export async function cancelledAfterEnd(call: ServerReadableStream<unknown, unknown>, ms: number): Promise<boolean> {
  if (isCancelled(call)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      call.removeListener("cancelled", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    call.once("cancelled", done);
  });
  return isCancelled(call);
}
