import { createHash } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { acquireLock, TdaError, pbUpload, type Redis, type RedisLock } from "@tda/common";
import { writeAll } from "./write-all";

// Resumable uploads. An upload whose header names its own upload_id spools the
// source bytes it receives to TDA_DATA_DIR/tmp/resume/ and records a session in
// Redis (tda:upload-session:<owner>:<upload_id>, expiring after
// UPLOAD_RESUME_TTL_SECONDS). When the stream breaks (client cancel, network),
// the spool is kept; a later Upload with the same upload_id and resume_offset K
// (at most the spooled size) replays the spool's first K bytes through a fresh
// parser and continues with the new chunks. Bad input (validation errors,
// limits) and success end the session and delete the spool. Nothing survives the
// TTL: the Redis key expires and the sweeper deletes old spool files.

export interface ResumeSession {
  uploadId: string;
  /** The header of the original upload (format, dim, name... are kept from it). */
  header: pbUpload.UploadHeader;
  /** Bytes already received, to be replayed. */
  offset: number;
  /** The first `offset` source bytes, in chunks. */
  replay(): AsyncIterable<Buffer>;
  /** Appends new source bytes to the spool (durable before they are parsed). */
  append(chunk: Uint8Array): Promise<void>;
  /** The stream broke: keep the spool for a resume and refresh the TTL. */
  suspend(): Promise<void>;
  /** Success or bad input: forget the session and its spool. */
  discard(): Promise<void>;
}

export interface ResumeSessions {
  readonly enabled: boolean;
  /** Opens (resume_offset = 0) or resumes a session for a header with an upload_id. */
  begin(owner: string, header: pbUpload.UploadHeader): Promise<ResumeSession>;
  /** Deletes spool files older than the TTL (sessions whose key expired). */
  sweep(): Promise<number>;
}

const key = (owner: string, id: string) => `tda:upload-session:${encodeURIComponent(owner)}:${id}`;
const lockKey = (owner: string, id: string) => `tda:upload-active:${encodeURIComponent(owner)}:${id}`;
const LOCK_MS = 5 * 60_000;

interface SessionFiles {
  redis: Redis;
  dir: string;
  ttlSeconds: number;
}

const spoolPath = (dir: string, owner: string, id: string) =>
  path.join(dir, `${createHash("sha256").update(`${owner}\n${id}`).digest("hex").slice(0, 40)}.src`);

/** Sets up the spool for a new or resumed session and records the session; returns the header in force and the resume offset. */
async function prepare(
  f: SessionFiles,
  owner: string,
  header: pbUpload.UploadHeader,
  spool: string,
): Promise<{ effective: pbUpload.UploadHeader; offset: number }> {
  const id = header.uploadId;
  let effective = header;
  let offset = 0;
  await fsp.mkdir(f.dir, { recursive: true });
  const stored = await f.redis.hgetall(key(owner, id));
  const exists = Object.keys(stored).length > 0;
  if (header.resumeOffset > 0) {
    if (!exists) {
      throw new TdaError(GrpcStatus.NOT_FOUND, `no resumable upload ${id} (never started, finished, failed validation or expired)`, {
        reason: "UPLOAD_SESSION_NOT_FOUND",
      });
    }
    effective = { ...(JSON.parse(stored.header ?? "{}") as pbUpload.UploadHeader), uploadId: id, resumeOffset: header.resumeOffset };
    const size = (await fsp.stat(spool).catch(() => undefined))?.size ?? 0;
    if (header.resumeOffset > size) {
      throw new TdaError(GrpcStatus.FAILED_PRECONDITION, `upload ${id} can resume from byte ${size} at most, not ${header.resumeOffset}`, {
        reason: "UPLOAD_RESUME_OFFSET",
        metadata: { resume_offset: String(size) },
      });
    }
    await fsp.truncate(spool, header.resumeOffset);
    const now = new Date();
    await fsp.utimes(spool, now, now); // the sweeper goes by mtime
    offset = header.resumeOffset;
  } else {
    await fsp.rm(spool, { force: true });
    await fsp.writeFile(spool, "");
  }
  await f.redis
    .multi()
    .hset(key(owner, id), { header: JSON.stringify({ ...effective, resumeOffset: 0 }), owner, offset: String(offset) })
    .expire(key(owner, id), f.ttlSeconds)
    .exec();
  return { effective, offset };
}

/** The open session: its spool file appended to, replayed, suspended or discarded; `release` frees its lock. */
async function openSession(
  f: SessionFiles,
  owner: string,
  spool: string,
  effective: pbUpload.UploadHeader,
  offset: number,
  release: () => Promise<void>,
): Promise<ResumeSession> {
  const id = effective.uploadId;
  const fh = await fsp.open(spool, "a");
  let written = offset;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => undefined);
    await release();
  };
  return {
    uploadId: id,
    header: effective,
    offset,
    async *replay() {
      if (offset === 0) return;
      for await (const chunk of createReadStream(spool, { start: 0, end: offset - 1, highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
    },
    async append(chunk) {
      await writeAll(fh, chunk);
      written += chunk.length;
    },
    async suspend() {
      await fh.sync().catch(() => undefined);
      await close();
      await f.redis.multi().hset(key(owner, id), "offset", String(written)).expire(key(owner, id), f.ttlSeconds).exec();
    },
    async discard() {
      await close();
      await f.redis.del(key(owner, id));
      await fsp.rm(spool, { force: true });
    },
  };
}

/** Removes spool files untouched for longer than the session lifetime (plus a minute). */
async function sweep(f: SessionFiles): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fsp.readdir(f.dir);
  } catch {
    return 0;
  }
  const cutoff = Date.now() - f.ttlSeconds * 1000 - 60_000;
  for (const n of names) {
    const p = path.join(f.dir, n);
    const st = await fsp.stat(p).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) {
      await fsp.rm(p, { force: true });
      removed++;
    }
  }
  return removed;
}

export function createResumeSessions(redis: Redis, dataDir: string, ttlSeconds: number): ResumeSessions {
  const f: SessionFiles = { redis, dir: path.join(path.resolve(dataDir), "tmp", "resume"), ttlSeconds };
  const lock = (owner: string, id: string): Promise<RedisLock> =>
    acquireLock(redis, lockKey(owner, id), {
      ttlMs: LOCK_MS,
      waitMs: 10_000,
      retryMs: 50,
      onTimeout: () =>
        new TdaError(GrpcStatus.ABORTED, `upload ${id} is still in progress on another stream`, {
          reason: "UPLOAD_IN_PROGRESS",
          retryable: true,
          retryAfterMs: 1000,
        }),
    });
  return {
    enabled: ttlSeconds > 0,
    async begin(owner, header) {
      const id = header.uploadId;
      const held = await lock(owner, id);
      const release = () => held.release().then(() => undefined);
      const spool = spoolPath(f.dir, owner, id);
      let prepared: { effective: pbUpload.UploadHeader; offset: number };
      try {
        prepared = await prepare(f, owner, header, spool);
      } catch (err) {
        await release();
        throw err;
      }
      return openSession(f, owner, spool, prepared.effective, prepared.offset, release);
    },
    sweep: () => sweep(f),
  };
}
