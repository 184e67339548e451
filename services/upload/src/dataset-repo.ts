import { DATASET_ID_RE, datasetIdOf, withLock, type Redis } from "@tda/common";
import { datasetCreatedMs, datasetFromHash, datasetKeys, datasetToHash, publicDataset, type StoredDataset } from "./dataset-records";

// The record layout lives in @tda/common (datasets.ts): the scheduler reads it too.
export { DATASET_ID_RE, datasetIdOf, publicDataset, type StoredDataset };

function member(createdMs: number, id: string): string {
  return `${String(createdMs).padStart(13, "0")}:${id}`;
}

// KEYS: dataset hash, owner index, blob refs. ARGV: ref member, index member, then hash field/value pairs.
// Returns 1 when created, 0 when the dataset already existed (nothing changed).
const CREATE_LUA = `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('hset', KEYS[1], unpack(fields))
redis.call('zadd', KEYS[2], 0, ARGV[2])
redis.call('sadd', KEYS[3], ARGV[1])
return 1`;

// KEYS: dataset hash, owner index. ARGV: ref member prefix-free ("<owner>:<id>").
// Returns false when missing, else {sha256, remaining refs}.
const DELETE_LUA = `
local sha = redis.call('hget', KEYS[1], 'sha256')
if not sha then return false end
local created = redis.call('hget', KEYS[1], 'createdMs')
local id = redis.call('hget', KEYS[1], 'datasetId')
redis.call('del', KEYS[1])
redis.call('zrem', KEYS[2], string.rep('0', 13 - #created) .. created .. ':' .. id)
local refs = 'tda:blob-refs:' .. sha
redis.call('srem', refs, ARGV[1])
return {sha, redis.call('scard', refs)}`;

export interface DatasetRepo {
  get(owner: string, id: string): Promise<StoredDataset | undefined>;
  /** Stores the metadata and the blob reference; false when the owner already has this dataset. */
  create(d: StoredDataset): Promise<boolean>;
  /** Removes metadata and reference; undefined when missing, else the blob and its remaining references. */
  delete(owner: string, id: string): Promise<{ sha256: string; remainingRefs: number } | undefined>;
  list(owner: string, pageSize: number, after: string | undefined): Promise<{ datasets: StoredDataset[]; last: string | undefined; more: boolean }>;
  refCount(sha: string): Promise<number>;
  /** Runs `fn` holding the per-blob lock. */
  withBlobLock<T>(sha: string, fn: () => Promise<T>): Promise<T>;
}

export function createDatasetRepo(redis: Redis, lockTtlMs = 30_000): DatasetRepo {
  const refMember = datasetKeys.refMember;
  return {
    async get(owner, id) {
      if (!DATASET_ID_RE.test(id)) return undefined;
      const h = await redis.hgetall(datasetKeys.dataset(owner, id));
      return Object.keys(h).length === 0 ? undefined : datasetFromHash(h);
    },
    async create(d) {
      const h = datasetToHash(d);
      const args = [refMember(d.owner, d.datasetId), member(datasetCreatedMs(d), d.datasetId), ...Object.entries(h).flat()];
      const r = await redis.eval(CREATE_LUA, 3, datasetKeys.dataset(d.owner, d.datasetId), datasetKeys.index(d.owner), datasetKeys.refs(d.sha256), ...args);
      return r === 1;
    },
    async delete(owner, id) {
      if (!DATASET_ID_RE.test(id)) return undefined;
      const r = (await redis.eval(DELETE_LUA, 2, datasetKeys.dataset(owner, id), datasetKeys.index(owner), refMember(owner, id))) as [string, number] | null;
      return r ? { sha256: r[0], remainingRefs: Number(r[1]) } : undefined;
    },
    async list(owner, pageSize, after) {
      const max = after === undefined ? "+" : `(${after}`;
      const members = await redis.zrevrangebylex(datasetKeys.index(owner), max, "-", "LIMIT", 0, pageSize + 1);
      const more = members.length > pageSize;
      const page = members.slice(0, pageSize);
      const pipe = redis.pipeline();
      for (const m of page) pipe.hgetall(datasetKeys.dataset(owner, m.slice(14)));
      const res = page.length > 0 ? ((await pipe.exec()) ?? []) : [];
      const datasets: StoredDataset[] = [];
      for (const [err, h] of res) {
        if (err) throw err;
        const rec = h as Record<string, string>;
        if (Object.keys(rec).length > 0) datasets.push(datasetFromHash(rec));
      }
      return { datasets, last: page[page.length - 1], more };
    },
    async refCount(sha) {
      return redis.scard(datasetKeys.refs(sha));
    },
    withBlobLock(sha, fn) {
      return withLock(
        redis,
        datasetKeys.lock(sha),
        { ttlMs: lockTtlMs, waitMs: lockTtlMs, retryMs: 20, onTimeout: () => new Error(`timed out waiting for the blob lock of ${sha}`) },
        () => fn(),
      );
    },
  };
}
