import { createEnvelopeEncoder, type OutboxRecord, type PublishInput } from "./event-envelope";
import { EventEnvelope } from "./gen/tda/events/v1/events";

// The encoder cuts every string of an event's payload and headers to the field
// bound; it walks the payload only when the encoded event is longer than the
// bound, so these cases sit on both sides of that length.

const upload = (fields: { filename?: string; contentType?: string }, headers?: Record<string, string>): PublishInput => ({
  topic: "tda_uploads",
  key: "up-1",
  eventType: "upload.started",
  headers,
  data: {
    $case: "upload",
    value: {
      uploadId: "up-1",
      owner: "t",
      datasetId: "",
      filename: fields.filename ?? "f.csv",
      format: "csv",
      bytes: 0,
      contentType: fields.contentType ?? "",
      sha256: "",
      pointCount: 0,
      dimension: 0,
      errorMessage: "",
      errorCode: "",
      minBounds: [],
      maxBounds: [],
    },
  },
});

function decode(record: string) {
  const rec = JSON.parse(record) as OutboxRecord;
  const env = EventEnvelope.decode(Buffer.from(rec.value, "base64"));
  if (env.data?.$case !== "upload") throw new Error("no upload payload");
  return { rec, env, up: env.data.value };
}

const MAX = 300;
const enc = createEnvelopeEncoder({ source: "test", topicPrefix: "", maxFieldChars: MAX });

test("a string at the bound passes whole; one character more is cut, in the payload and in the headers", () => {
  const at = decode(enc.encode(upload({ contentType: "a".repeat(MAX) }, { "x-note": "b".repeat(MAX) })).record);
  expect(at.up.contentType).toBe("a".repeat(MAX));
  expect(at.env.headers["x-note"]).toBe("b".repeat(MAX));
  expect(at.rec.headers["x-note"]).toBe("b".repeat(MAX));

  const over = decode(enc.encode(upload({ contentType: "a".repeat(MAX + 1) }, { "x-note": "b".repeat(MAX + 1) })).record);
  expect(over.up.contentType.length).toBe(MAX);
  expect(over.up.contentType).toMatch(/more chars cut\]$/);
  expect(over.env.headers["x-note"]!.length).toBe(MAX);
  expect(over.rec.headers["x-note"]).toBe(over.env.headers["x-note"]);
  // what is not over the bound is kept as it was
  expect(over.up.filename).toBe("f.csv");
});

test("multi-byte characters: the bound counts characters, and a short event is not cut", () => {
  // 150 three-byte characters: 450 bytes encoded, over MAX bytes, but only 150 characters
  const s = "€".repeat(150);
  const { up } = decode(enc.encode(upload({ filename: s })).record);
  expect(up.filename).toBe(s);
  const small = decode(enc.encode(upload({ filename: "x" })).record);
  expect(small.up.filename).toBe("x");
});
