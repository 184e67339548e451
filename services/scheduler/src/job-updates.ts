import { keys } from "./keys";
import type { Subscriber } from "./subscriber";

// Waiting for a job to change, on its live update channel (the one WatchJob
// follows) instead of polling its record.

/**
 * Reads with `read` until `settled` accepts what it read or `timeoutMs` has
 * passed, reading again each time the job publishes an update (and after the
 * subscriber reconnects, since updates published meanwhile are lost). The
 * first read follows the subscription (and `start`, e.g. asking a worker to
 * stop the job), so no update after them is missed. Resolves with the last
 * value read.
 */
export async function readUntil<T>(
  subscriber: Subscriber,
  jobId: string,
  read: () => Promise<T>,
  settled: (value: T) => boolean,
  timeoutMs: number,
  start?: () => Promise<unknown>,
): Promise<T> {
  let changed = false;
  let wake: (() => void) | undefined;
  const onChange = () => {
    changed = true;
    wake?.();
  };
  const unsubscribe = await subscriber.subscribe(keys.updatesChannel(jobId), onChange);
  const offReconnect = subscriber.onReconnect(onChange);
  const end = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    await start?.();
    let value = await read();
    while (!settled(value)) {
      const left = end - Date.now();
      if (left <= 0) return value;
      if (!changed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
        wake = undefined;
        if (!changed) return value; // timed out
      }
      changed = false;
      value = await read();
    }
    return value;
  } finally {
    clearTimeout(timer);
    offReconnect();
    await unsubscribe();
  }
}
