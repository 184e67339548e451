import { makeGenericClientConstructor } from "@grpc/grpc-js";
import { UploadRequest, UploadServiceClient, UploadServiceService } from "./gen/tda/upload/v1/upload";
import { TdaServiceService, UploadDataRequest } from "./gen/tda/gateway/v1/gateway";

// Hand-written wire handling of upload chunk messages, the one hot path of the
// mesh (gigabytes per upload). `UploadRequest` (upload service) and
// `UploadDataRequest` (gateway) share one wire form: oneof { UploadHeader
// header = 1; bytes chunk = 2; }. A chunk message is tag 0x12, a varint length
// and the bytes; decoding it here is a subarray of the received buffer, and
// the gateway forwards the received bytes as they are instead of decoding and
// re-encoding them (the generated code copies the chunk twice when encoding).
// Anything that is not a single chunk field goes through the generated code.

const CHUNK_TAG = (2 << 3) | 2;

/** The received message bytes, kept on a decoded message so it can be forwarded unchanged. */
export const RAW_MESSAGE: unique symbol = Symbol("tda.rawMessage");

type WithRaw<T> = T & { [RAW_MESSAGE]?: Buffer };

/** The chunk of a message that is exactly one `bytes chunk = 2` field, else undefined. */
export function chunkOf(buf: Buffer): Buffer | undefined {
  if (buf.length < 2 || buf[0] !== CHUNK_TAG) return undefined;
  let len = 0;
  let pos = 1;
  for (let shift = 0; ; shift += 7) {
    if (pos >= buf.length || shift > 28) return undefined;
    const b = buf[pos++]!;
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  return pos + len === buf.length ? buf.subarray(pos) : undefined;
}

/** Tag and length prefix of a chunk field of `len` bytes. */
export function chunkPrefix(len: number): Buffer {
  const out = [CHUNK_TAG];
  let n = len;
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

function decodeWith<T extends { msg?: unknown }>(decode: (b: Buffer) => T) {
  return (buf: Buffer): WithRaw<T> => {
    const chunk = chunkOf(buf);
    const msg = (chunk ? { msg: { $case: "chunk", value: chunk } } : decode(buf)) as WithRaw<T>;
    msg[RAW_MESSAGE] = buf;
    return msg;
  };
}

function encodeWith<T extends { msg?: { $case: string; value: unknown } }>(encode: (m: T) => Uint8Array) {
  return (msg: WithRaw<T>): Buffer => {
    const raw = msg[RAW_MESSAGE];
    if (raw) return raw;
    if (msg.msg?.$case === "chunk") {
      const v = msg.msg.value as Uint8Array;
      return Buffer.concat([chunkPrefix(v.length), v]);
    }
    const bytes = encode(msg);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

export const decodeUploadRequest = decodeWith<UploadRequest>((b) => UploadRequest.decode(b));
export const encodeUploadRequest = encodeWith<UploadRequest>((m) => UploadRequest.encode(m).finish());
export const decodeUploadDataRequest = decodeWith<UploadDataRequest>((b) => UploadDataRequest.decode(b));

/** The upload service definition with the hand-written request codec (wire-compatible). */
export const FastUploadServiceService: typeof UploadServiceService = {
  ...UploadServiceService,
  upload: { ...UploadServiceService.upload, requestSerialize: encodeUploadRequest, requestDeserialize: decodeUploadRequest },
};

/** The gateway service definition whose UploadData requests keep their received bytes (RAW_MESSAGE). */
export const FastTdaServiceService: typeof TdaServiceService = {
  ...TdaServiceService,
  uploadData: { ...TdaServiceService.uploadData, requestDeserialize: decodeUploadDataRequest },
};

/** Upload service client that sends chunks (and messages carrying RAW_MESSAGE) without re-encoding. */
export const FastUploadServiceClient = makeGenericClientConstructor(
  FastUploadServiceService,
  "tda.upload.v1.UploadService",
) as unknown as typeof UploadServiceClient;
