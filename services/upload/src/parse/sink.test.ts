import { createHash } from "node:crypto";
import { CanonicalSink } from "./sink";

// The canonical sink hands out 1 MiB chunks and may get them back once they are
// written out: refilling a recycled chunk must not change what was handed out
// before, the bytes or the hash.

const limits = { maxPoints: 10_000_000, maxDim: 16 };
const CHUNK_BYTES = 1024 * 1024;

/** Feeds `rows` points of dim 3 through `sink`, taking chunks as they fill; `written` sees each copy-on-take. */
function fill(sink: CanonicalSink, rows: number, onChunk: (b: Buffer) => void): void {
  sink.setDim(3);
  const v = new Float64Array(3);
  for (let i = 0; i < rows; i++) {
    v[0] = i;
    v[1] = -i * 0.5;
    v[2] = Math.sin(i);
    sink.row(v);
    if (i % 1000 === 0) for (const b of sink.take()) onChunk(b);
  }
  for (const b of sink.take(true)) onChunk(b);
}

describe("CanonicalSink chunk reuse", () => {
  it("gives the same bytes and sha256 with and without recycling", () => {
    const rows = 400_000; // ~9.2 MiB: several chunks
    const plain = new CanonicalSink("points", limits);
    const plainBytes: Buffer[] = [];
    fill(plain, rows, (b) => plainBytes.push(Buffer.from(b))); // copies: nothing is given back

    const reusing = new CanonicalSink("points", limits);
    const copies: Buffer[] = [];
    const arrays = new Set<ArrayBufferLike>();
    fill(reusing, rows, (b) => {
      copies.push(Buffer.from(b)); // "written out"
      arrays.add(b.buffer);
      reusing.recycle(b);
    });

    expect(Buffer.concat(copies).equals(Buffer.concat(plainBytes))).toBe(true);
    expect(reusing.sha256()).toBe(plain.sha256());
    // the chunks really were reused: fewer distinct buffers than chunks
    expect(copies.length).toBeGreaterThan(5);
    expect(arrays.size).toBeLessThan(copies.length);
    // and the hash is that of header + the canonical bytes
    const head = Buffer.alloc(24);
    head.write("tda-canon", 0, "latin1");
    head.writeUInt32LE(1, 12);
    head.writeUInt32LE(1, 16);
    head.writeUInt32LE(3, 20);
    expect(createHash("sha256").update(head).update(Buffer.concat(copies)).digest("hex")).toBe(plain.sha256());
  });

  it("ignores buffers it did not make and chunks given back twice", () => {
    const sink = new CanonicalSink("points", limits);
    sink.recycle(Buffer.alloc(CHUNK_BYTES)); // not the sink's
    const out: Buffer[] = [];
    fill(sink, 200_000, (b) => {
      out.push(Buffer.from(b));
      sink.recycle(b);
      sink.recycle(b);
    });
    const again = new CanonicalSink("points", limits);
    const ref: Buffer[] = [];
    fill(again, 200_000, (b) => ref.push(Buffer.from(b)));
    expect(Buffer.concat(out).equals(Buffer.concat(ref))).toBe(true);
  });
});
