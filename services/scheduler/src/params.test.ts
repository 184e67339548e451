import { pbCommon } from "@tda/common";
import { canonicalJson, canonicalParams, isPrime, paramsHash, validateParams } from "./params";

const limits = { maxDim: 8, maxModulus: 65521, maxThreads: 64 };
const rips = (over: Partial<pbCommon.ComputeParams> = {}): pbCommon.ComputeParams =>
  pbCommon.ComputeParams.fromPartial({ algorithm: pbCommon.Algorithm.ALGORITHM_RIPS, maxDim: 1, ...over });

describe("validateParams", () => {
  it("accepts a plain Rips request and an Alpha request", () => {
    expect(validateParams(rips(), limits)).toEqual([]);
    expect(validateParams(rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, maxDim: 2, maxAlpha: 4 }), limits)).toEqual([]);
    expect(validateParams(rips({ threshold: 0, modulus: 3 }), limits)).toEqual([]);
  });

  it("names every bad field", () => {
    const v = validateParams(
      rips({ algorithm: pbCommon.Algorithm.ALGORITHM_UNSPECIFIED, maxDim: 9, threshold: Number.POSITIVE_INFINITY, modulus: 4, threads: 65, maxAlpha: -1 }),
      limits,
    );
    expect(v.map((x) => x.field).sort()).toEqual([
      "params.algorithm",
      "params.max_alpha",
      "params.max_dim",
      "params.modulus",
      "params.threads",
      "params.threshold",
    ]);
  });

  it("rejects NaN and negative thresholds, non-prime and too large moduli, missing params", () => {
    expect(validateParams(rips({ threshold: Number.NaN }), limits)[0]?.field).toBe("params.threshold");
    expect(validateParams(rips({ threshold: -0.5 }), limits)[0]?.field).toBe("params.threshold");
    expect(validateParams(rips({ modulus: 1 }), limits)[0]?.field).toBe("params.modulus");
    expect(validateParams(rips({ modulus: 65537 }), limits)[0]?.field).toBe("params.modulus");
    expect(validateParams(undefined, limits)[0]?.field).toBe("params");
  });
});

describe("sparse_epsilon", () => {
  it("accepts (0, 1] for Rips, refuses the rest and any value for Alpha", () => {
    expect(validateParams(rips({ sparseEpsilon: 0.5 }), limits)).toEqual([]);
    expect(validateParams(rips({ sparseEpsilon: 1 }), limits)).toEqual([]);
    for (const e of [0, -0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(validateParams(rips({ sparseEpsilon: e }), limits).map((x) => x.field)).toEqual(["params.sparse_epsilon"]);
    }
    const alpha = rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, sparseEpsilon: 0.5 });
    expect(validateParams(alpha, limits).map((x) => x.field)).toEqual(["params.sparse_epsilon"]);
  });

  it("is its own cache entry; exact jobs keep their keys", () => {
    expect(paramsHash(rips({ sparseEpsilon: 0.5 }))).not.toBe(paramsHash(rips()));
    expect(paramsHash(rips({ sparseEpsilon: 0.5 }))).not.toBe(paramsHash(rips({ sparseEpsilon: 0.25 })));
    // the key of an exact job is what it was before the field existed
    expect(canonicalJson(canonicalParams(rips()))).toBe('{"algorithm":"RIPS","max_dim":1,"modulus":2,"threshold":null}');
  });
});

describe("isPrime", () => {
  it("knows small primes and composites", () => {
    expect([2, 3, 5, 7, 11, 13, 65521].every(isPrime)).toBe(true);
    expect([0, 1, 4, 9, 15, 65535, 2.5, -3].some(isPrime)).toBe(false);
  });
});

describe("paramsHash", () => {
  it("ignores what does not change the result", () => {
    expect(paramsHash(rips({ threads: 8 }))).toBe(paramsHash(rips({ threads: 1 })));
    expect(paramsHash(rips({ modulus: 0 }))).toBe(paramsHash(rips({ modulus: 2 })));
    // Alpha-only fields do not split the Rips cache, and vice versa
    expect(paramsHash(rips({ alphaRadius: true, maxAlpha: 3 }))).toBe(paramsHash(rips()));
    const alpha = (o: Partial<pbCommon.ComputeParams>) => rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, ...o });
    expect(paramsHash(alpha({ threshold: 2 }))).toBe(paramsHash(alpha({})));
  });

  it("separates what does", () => {
    const hashes = new Set([
      paramsHash(rips()),
      paramsHash(rips({ maxDim: 2 })),
      paramsHash(rips({ threshold: 1.5 })),
      paramsHash(rips({ modulus: 3 })),
      paramsHash(rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA })),
      paramsHash(rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, alphaRadius: true })),
      paramsHash(rips({ algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA, maxAlpha: 1 })),
    ]);
    expect(hashes.size).toBe(7);
  });

  it("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: "x" }], c: true } })).toBe('{"a":{"c":true,"d":[1,{"y":"x","z":null}]},"b":1}');
  });
});
