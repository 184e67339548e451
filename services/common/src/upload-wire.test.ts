import { UploadRequest } from "./gen/tda/upload/v1/upload";
import { UploadDataRequest } from "./gen/tda/gateway/v1/gateway";
import { RAW_MESSAGE, chunkOf, decodeUploadDataRequest, decodeUploadRequest, encodeUploadRequest } from "./upload-wire";

// The hand-written upload chunk codec must agree byte for byte with the generated one.

const header = { name: "a.csv", format: 2, dim: 3, contentType: "text/csv", uploadId: "u1", resumeOffset: 0, totalBytes: 99 };
const generated = (m: UploadRequest) => Buffer.from(UploadRequest.encode(m).finish());

describe("upload wire codec", () => {
  it.each([0, 1, 127, 128, 300, 16383, 16384, 65536, (1 << 20) + 3, 1 << 21])("encodes and decodes a %d-byte chunk like the generated code", (len) => {
    const bytes = Buffer.alloc(len, 7);
    if (len > 0) bytes[len - 1] = 42;
    const msg: UploadRequest = { msg: { $case: "chunk", value: bytes } };
    const wire = encodeUploadRequest(msg);
    expect(wire.equals(generated(msg))).toBe(true);
    const decoded = decodeUploadRequest(wire);
    expect(decoded.msg?.$case).toBe("chunk");
    expect(Buffer.from(decoded.msg!.value as Uint8Array).equals(bytes)).toBe(true);
    expect(decoded[RAW_MESSAGE]).toBe(wire);
    // the gateway's message has the same wire form
    const gw = decodeUploadDataRequest(wire).msg;
    const ref = UploadDataRequest.decode(wire).msg;
    expect([gw?.$case, ref?.$case]).toEqual(["chunk", "chunk"]);
    expect(Buffer.from(gw!.value as Uint8Array).equals(Buffer.from(ref!.value as Uint8Array))).toBe(true);
  });

  it("leaves headers and anything unusual to the generated code", () => {
    const h: UploadRequest = { msg: { $case: "header", value: header } };
    expect(encodeUploadRequest(h).equals(generated(h))).toBe(true);
    expect(decodeUploadRequest(generated(h)).msg).toEqual(h.msg);
    expect(decodeUploadRequest(Buffer.alloc(0)).msg).toBeUndefined();
    // a chunk followed by a header field: the last oneof member wins, as in the generated decoder
    const two = Buffer.concat([generated({ msg: { $case: "chunk", value: Buffer.from("xy") } }), generated(h)]);
    expect(chunkOf(two)).toBeUndefined();
    expect(decodeUploadRequest(two).msg).toEqual(UploadRequest.decode(two).msg);
    // a truncated chunk is not taken for a whole one (and the generated decoder rejects it)
    const cut = generated({ msg: { $case: "chunk", value: Buffer.alloc(200) } }).subarray(0, 100);
    expect(chunkOf(cut)).toBeUndefined();
    expect(() => decodeUploadRequest(cut)).toThrow();
  });

  it("forwards a received message as its received bytes", () => {
    const wire = generated({ msg: { $case: "header", value: header } });
    const received = decodeUploadDataRequest(wire);
    expect(encodeUploadRequest(received as UploadRequest)).toBe(wire);
  });
});
