import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { WriteQueue } from "./write-queue";

// The queue writes in order without the caller awaiting each write, holds the
// caller back only above its limit, and reports a write error.

let dir: string;
beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), "tda-write-queue-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("WriteQueue", () => {
  it.each([0, 4096])("appends buffers in order (background sync every %d bytes)", async (syncEvery) => {
    const file = path.join(dir, `ordered-${syncEvery}.bin`);
    const fh = await open(file, "wx");
    const q = new WriteQueue(fh, 10_000, syncEvery);
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.alloc(1 + ((i * 37) % 3000), i % 251);
      parts.push(b);
      q.push(b);
      await q.room();
    }
    await q.drain();
    await fh.close();
    expect(readFileSync(file).equals(Buffer.concat(parts))).toBe(true);
  });

  it("reports a failed write from room() and drain()", async () => {
    const fh = await open(path.join(dir, "ro.bin"), "w");
    await fh.close(); // every write now fails (EBADF)
    const q = new WriteQueue(fh, 1);
    q.push(Buffer.from("abc"));
    await expect(q.room()).rejects.toThrow();
    await expect(q.drain()).rejects.toThrow();
  });
});
