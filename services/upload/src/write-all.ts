import type { FileHandle } from "node:fs/promises";

/** Writes the whole buffer at the current position (a single write may be short). */
export async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error("write made no progress");
    off += bytesWritten;
  }
}
