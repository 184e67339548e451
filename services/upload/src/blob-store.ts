import { createReadStream, promises as fsp } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Readable } from "node:stream";

// Content-addressed storage of canonical dataset bytes. The interface is small
// so an object store (S3) can replace the local directory later.

export interface BlobStore {
  /** A fresh temp file path for an upload in progress (same filesystem as the blobs). */
  tempPath(): Promise<string>;
  /**
   * Moves a finished temp file into the store under `sha256`. If the blob
   * already exists the temp file is removed instead; returns true in that case.
   */
  putFromTemp(tempFile: string, sha256: string): Promise<boolean>;
  /** Reads a stored blob (optionally from a byte offset), in chunks of about `chunkBytes`. */
  openRead(sha256: string, opts?: { start?: number; chunkBytes?: number }): Readable;
  size(sha256: string): Promise<number | undefined>;
  exists(sha256: string): Promise<boolean>;
  /** Removes a blob; a missing blob is not an error. */
  delete(sha256: string): Promise<void>;
  /** Removes a temp file; a missing file is not an error. */
  discardTemp(tempFile: string): Promise<void>;
  /** Removes temp files untouched for `olderThanMs` (left by a crashed process); returns how many. */
  sweepTemp(olderThanMs: number): Promise<number>;
}

const SHA_RE = /^[0-9a-f]{64}$/;

export function createFsBlobStore(dataDir: string): BlobStore {
  const root = path.resolve(dataDir);
  const tmpDir = path.join(root, "tmp");
  const blobDir = path.join(root, "blobs", "sha256");

  function blobPath(sha: string): string {
    if (!SHA_RE.test(sha)) throw new Error(`not a sha256 hex digest: ${sha}`);
    return path.join(blobDir, sha.slice(0, 2), sha.slice(2));
  }

  return {
    async tempPath() {
      await fsp.mkdir(tmpDir, { recursive: true });
      return path.join(tmpDir, `upload-${Date.now()}-${randomBytes(8).toString("hex")}.part`);
    },
    async putFromTemp(tempFile, sha) {
      const dst = blobPath(sha);
      if (await exists(dst)) {
        await fsp.rm(tempFile, { force: true });
        return true;
      }
      await fsp.mkdir(path.dirname(dst), { recursive: true });
      // rename is atomic: a concurrent identical upload just replaces the same bytes
      await fsp.rename(tempFile, dst);
      return false;
    },
    openRead(sha, opts = {}) {
      return createReadStream(blobPath(sha), { start: opts.start ?? 0, highWaterMark: opts.chunkBytes ?? 1024 * 1024 });
    },
    async size(sha) {
      try {
        return (await fsp.stat(blobPath(sha))).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    async exists(sha) {
      return exists(blobPath(sha));
    },
    async delete(sha) {
      await fsp.rm(blobPath(sha), { force: true });
    },
    async discardTemp(tempFile) {
      await fsp.rm(tempFile, { force: true });
    },
    async sweepTemp(olderThanMs) {
      let names: string[];
      try {
        names = await fsp.readdir(tmpDir);
      } catch {
        return 0;
      }
      let removed = 0;
      const cutoff = Date.now() - olderThanMs;
      for (const n of names) {
        if (!n.endsWith(".part")) continue;
        const p = path.join(tmpDir, n);
        const st = await fsp.stat(p).catch(() => undefined);
        if (st && st.mtimeMs < cutoff) {
          await fsp.rm(p, { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
