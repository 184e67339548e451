import type { FileHandle } from "node:fs/promises";
import { writeAll } from "./write-all";

/**
 * Appends buffers to a file in order without making the caller wait for each
 * write: parsing the next input chunk overlaps with writing the previous
 * output. The caller waits (`room()`) only while more than `maxPendingBytes`
 * are queued, which bounds memory and passes back-pressure to the gRPC stream.
 * Buffers must not be modified after `push` until `written` (if given) is
 * called with them (the canonical sink then fills them again). The first
 * write error is reported by `room()` and `drain()` (which also waits for a
 * background sync).
 */
export class WriteQueue {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: unknown;
  private failed = false;
  private waiter: (() => void) | undefined;
  private written = 0;
  private syncedAt = 0;
  private syncing: Promise<void> | undefined;

  /**
   * With `syncEveryBytes` > 0, a `datasync` is started (in the background, one
   * at a time) whenever that many more bytes were written, so the disk writes
   * back during the upload instead of all at the final sync.
   */
  constructor(
    private readonly fh: FileHandle,
    private readonly maxPendingBytes: number,
    private readonly syncEveryBytes = 0,
  ) {}

  push(buf: Uint8Array, written?: (buf: Uint8Array) => void): void {
    if (this.failed || buf.length === 0) return;
    this.pending += buf.length;
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      try {
        await writeAll(this.fh, buf);
        this.written += buf.length;
        written?.(buf);
        this.maybeSync();
      } catch (err) {
        this.fail(err);
      } finally {
        this.pending -= buf.length;
        this.wake();
      }
    });
  }

  private maybeSync(): void {
    if (this.syncEveryBytes <= 0 || this.syncing || this.written - this.syncedAt < this.syncEveryBytes) return;
    this.syncedAt = this.written;
    this.syncing = this.fh.datasync().then(
      () => (this.syncing = undefined),
      (err: unknown) => {
        this.syncing = undefined;
        this.fail(err);
      },
    );
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  /** Resolves once at most `maxPendingBytes` are queued; throws the first write error. */
  async room(): Promise<void> {
    while (!this.failed && this.pending > this.maxPendingBytes) {
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    if (this.failed) throw this.failure;
  }

  /** Waits for every queued write; throws the first write error. */
  async drain(): Promise<void> {
    await this.chain;
    await this.syncing;
    if (this.failed) throw this.failure;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
