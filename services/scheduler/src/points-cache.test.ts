import { Readable } from "node:stream";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { pbUpload } from "@tda/common";
import { PointsCache } from "./points-cache";

// A ReadPoints stream stand-in: the cache only iterates it and may cancel it.
function readPoints(chunks: Buffer[], opened: { n: number }): () => ClientReadableStream<pbUpload.ReadPointsResponse> {
  return () => {
    opened.n++;
    const s = Readable.from(chunks.map((chunk) => ({ chunk }))) as unknown as ClientReadableStream<pbUpload.ReadPointsResponse>;
    (s as unknown as { cancel: () => void }).cancel = () => (s as unknown as Readable).destroy();
    return s;
  };
}

const dataset = (sha256: string, sizeBytes: number) => pbUpload.Dataset.fromPartial({ sha256, sizeBytes });

async function all(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe("points cache", () => {
  it("reads a dataset once, then serves it from memory", async () => {
    const cache = new PointsCache(1 << 20);
    const chunks = [Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.from([4, 5])];
    const opened = { n: 0 };
    const ds = dataset("aa", 5);
    expect(await all(cache.open(ds, readPoints(chunks, opened)).chunks)).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    expect(await all(cache.open(ds, readPoints(chunks, opened)).chunks)).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    expect(opened.n).toBe(1);
  });

  it("keeps nothing from a stream that did not end", async () => {
    const cache = new PointsCache(1 << 20);
    const opened = { n: 0 };
    const ds = dataset("bb", 6);
    const first = cache.open(ds, readPoints([Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6])], opened));
    for await (const _ of first.chunks) break; // the consumer stops after one chunk
    await all(cache.open(ds, readPoints([Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6])], opened)).chunks);
    expect(opened.n).toBe(2);
  });

  it("never keeps datasets over an eighth of its size, and evicts the least recently used", async () => {
    const cache = new PointsCache(800);
    const opened = { n: 0 };
    await all(cache.open(dataset("big", 101), readPoints([Buffer.alloc(101)], opened)).chunks);
    expect(cache.size).toBe(0);
    for (const sha of ["a", "b", "c", "d", "e", "f", "g", "h"]) await all(cache.open(dataset(sha, 100), readPoints([Buffer.alloc(100)], opened)).chunks);
    expect(cache.size).toBe(8);
    await all(cache.open(dataset("a", 100), readPoints([Buffer.alloc(100)], opened)).chunks); // a is used again
    await all(cache.open(dataset("i", 100), readPoints([Buffer.alloc(100)], opened)).chunks); // evicts b
    const before = opened.n;
    await all(cache.open(dataset("a", 100), readPoints([Buffer.alloc(100)], opened)).chunks);
    expect(opened.n).toBe(before);
    await all(cache.open(dataset("b", 100), readPoints([Buffer.alloc(100)], opened)).chunks);
    expect(opened.n).toBe(before + 1);
  });

  it("does nothing with size 0", async () => {
    const cache = new PointsCache(0);
    const opened = { n: 0 };
    for (let i = 0; i < 2; i++) await all(cache.open(dataset("z", 1), readPoints([Buffer.from([9])], opened)).chunks);
    expect(opened.n).toBe(2);
  });
});
