import type { ClientReadableStream } from "@grpc/grpc-js";
import type { pbUpload } from "@tda/common";

// The canonical values of recently computed datasets, by sha256. A dataset's
// blob is content-addressed, so an entry never goes stale; the owner was
// checked when the job was submitted. Repeated jobs on one dataset (parameter
// sweeps, many small jobs) then stream their points to the engine without a
// ReadPoints call. Least recently used entries go first; datasets larger than
// an eighth of the cache are never kept.

/** A stream of the dataset's little-endian float64 chunks. */
export interface PointStream {
  chunks: AsyncIterable<Buffer>;
  cancel(): void;
}

export class PointsCache {
  private readonly entries = new Map<string, { chunks: Buffer[]; size: number }>();
  private bytes = 0;
  readonly maxEntryBytes: number;

  constructor(readonly maxBytes: number) {
    this.maxEntryBytes = Math.floor(maxBytes / 8);
  }

  get(sha256: string): Buffer[] | undefined {
    const entry = this.entries.get(sha256);
    if (entry) {
      this.entries.delete(sha256); // most recently used last
      this.entries.set(sha256, entry);
    }
    return entry?.chunks;
  }

  put(sha256: string, chunks: Buffer[]): void {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    if (size > this.maxEntryBytes || this.entries.has(sha256)) return;
    this.entries.set(sha256, { chunks, size });
    this.bytes += size;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.size;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The dataset's points: from the cache, or from `read()` (ReadPoints), kept
   * when the stream ends complete and the dataset is small enough.
   */
  open(dataset: pbUpload.Dataset, read: () => ClientReadableStream<pbUpload.ReadPointsResponse>): PointStream {
    const cached = this.maxBytes > 0 && dataset.sha256 ? this.get(dataset.sha256) : undefined;
    if (cached) {
      return {
        chunks: (async function* () {
          yield* cached;
        })(),
        cancel: () => undefined,
      };
    }
    const stream = read();
    const keep = this.maxBytes > 0 && dataset.sha256 !== "" && dataset.sizeBytes <= this.maxEntryBytes;
    const cache = this;
    return {
      chunks: (async function* () {
        const seen: Buffer[] = [];
        for await (const part of stream as AsyncIterable<pbUpload.ReadPointsResponse>) {
          if (part.chunk.length === 0) continue;
          if (keep) seen.push(part.chunk);
          yield part.chunk;
        }
        if (keep) cache.put(dataset.sha256, seen);
      })(),
      cancel: () => stream.cancel(),
    };
  }
}
