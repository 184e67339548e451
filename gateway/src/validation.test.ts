import { status } from "@grpc/grpc-js";
import { TdaError, type pbGateway } from "@tda/common";
import { alphaViolations, isPrime, parseStreamBatch, ripsViolations } from "./validation";

function rips(over: Partial<pbGateway.ComputeVietorisRipsRequest> = {}): pbGateway.ComputeVietorisRipsRequest {
  return { datasetId: "ds1", maxDim: 1, threshold: undefined, modulus: 0, priority: 0, idempotencyKey: "", deadlineSeconds: 0, threads: 0, ...over };
}

function alpha(over: Partial<pbGateway.ComputeAlphaComplexRequest> = {}): pbGateway.ComputeAlphaComplexRequest {
  return { datasetId: "ds1", maxDim: 2, radius: false, maxAlpha: undefined, priority: 0, idempotencyKey: "", deadlineSeconds: 0, ...over };
}

function publish(over: Partial<pbGateway.PublishStreamRequest> = {}): pbGateway.PublishStreamRequest {
  return { streamId: "s1", dim: 2, points: Buffer.alloc(0), values: [], ...over };
}

const f64 = (xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 8);
  xs.forEach((x, i) => b.writeDoubleLE(x, i * 8));
  return b;
};

function fields(v: { field: string }[]): string[] {
  return v.map((x) => x.field).sort();
}

function caught(fn: () => unknown): TdaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TdaError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("isPrime", () => {
  it("knows small primes and composites", () => {
    expect([2, 3, 5, 7, 11, 65521].every(isPrime)).toBe(true);
    expect([0, 1, 4, 9, 65535, 2.5, -3].some(isPrime)).toBe(false);
  });
});

describe("ripsViolations", () => {
  it("accepts a plain request and threshold 0", () => {
    expect(ripsViolations(rips())).toEqual([]);
    expect(ripsViolations(rips({ threshold: 0, maxDim: 8, modulus: 3, threads: 4, priority: -10 }))).toEqual([]);
  });

  it("lists every problem at once", () => {
    const v = ripsViolations(
      rips({ datasetId: " ", maxDim: 9, threshold: -1, modulus: 4, threads: 1000, deadlineSeconds: 10 ** 9, idempotencyKey: "k".repeat(300), priority: 11 }),
    );
    expect(fields(v)).toEqual(["dataset_id", "deadline_seconds", "idempotency_key", "max_dim", "modulus", "priority", "threads", "threshold"]);
  });

  it("rejects a NaN or infinite threshold (unset means no threshold) and a prime above the engines' published limit", () => {
    expect(fields(ripsViolations(rips({ threshold: NaN })))).toEqual(["threshold"]);
    expect(fields(ripsViolations(rips({ threshold: Infinity })))).toEqual(["threshold"]);
    expect(fields(ripsViolations(rips({ modulus: 65537 })))).toEqual(["modulus"]);
    expect(ripsViolations(rips({ modulus: 251 }), 251)).toEqual([]);
    expect(ripsViolations(rips({ modulus: 257 }), 251)).toEqual([{ field: "modulus", description: "must be a prime at most 251 (0 means 2)" }]);
  });
});

describe("alphaViolations", () => {
  it("accepts a plain request", () => {
    expect(alphaViolations(alpha({ maxAlpha: 2.5, radius: true }))).toEqual([]);
  });
  it("rejects an empty dataset, max_dim above 8, a negative max_alpha", () => {
    expect(fields(alphaViolations(alpha({ datasetId: "", maxDim: 9, maxAlpha: -0.5 })))).toEqual(["dataset_id", "max_alpha", "max_dim"]);
  });
});

describe("parseStreamBatch", () => {
  it("takes values as numbers and returns them as little-endian float64", () => {
    const b = parseStreamBatch(publish({ values: [1, 2, 3, 4.5, -1, 0] }), 1 << 20);
    expect(b.count).toBe(3);
    expect(b.points.equals(f64([1, 2, 3, 4.5, -1, 0]))).toBe(true);
  });

  it("takes points as bytes, even at an unaligned offset", () => {
    const src = Buffer.concat([Buffer.from([7]), f64([0.5, 1.5, 2.5, 3.5])]).subarray(1);
    const b = parseStreamBatch(publish({ points: src }), 1 << 20);
    expect(b.count).toBe(2);
    expect(b.points.equals(f64([0.5, 1.5, 2.5, 3.5]))).toBe(true);
  });

  const invalid: [string, Partial<pbGateway.PublishStreamRequest>, string][] = [
    ["no stream id", { streamId: "", values: [1, 2] }, "stream_id"],
    ["a stream id with blanks", { streamId: "a b", values: [1, 2] }, "stream_id"],
    ["dim 0", { dim: 0, values: [1, 2] }, "dim"],
    ["no points", {}, "points"],
    ["both points and values", { points: f64([1, 2]), values: [1, 2] }, "points"],
    ["bytes not a multiple of 8", { points: Buffer.alloc(12) }, "points"],
    ["values not a multiple of dim", { values: [1, 2, 3] }, "values"],
    ["bytes not a multiple of dim", { points: f64([1, 2, 3]) }, "points"],
    ["a NaN value", { values: [1, NaN] }, "values"],
    ["an infinite value in bytes", { points: f64([1, Infinity]) }, "points"],
  ];
  it.each(invalid)("rejects %s with INVALID_ARGUMENT", (_name, over, field) => {
    const e = caught(() => parseStreamBatch(publish(over), 1 << 20));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.violations.map((v) => v.field)).toContain(field);
  });

  it("enforces the size cap for both forms", () => {
    expect(caught(() => parseStreamBatch(publish({ values: new Array(10).fill(1) }), 64)).violations[0]?.field).toBe("values");
    expect(caught(() => parseStreamBatch(publish({ points: f64(new Array(10).fill(1)) }), 64)).violations[0]?.field).toBe("points");
  });
});
