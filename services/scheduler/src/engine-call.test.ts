import { pbCommon, pbEngine } from "@tda/common";
import { needsEstimate } from "./engine-call";

const spec = (n: number, dim: number, maxDim: number, algorithm = pbCommon.Algorithm.ALGORITHM_RIPS, kind = pbCommon.InputKind.INPUT_KIND_POINT_CLOUD) =>
  pbEngine.ComputeSpec.fromPartial({ n, dim, inputKind: kind, params: { algorithm, maxDim } });

describe("needsEstimate", () => {
  it("skips the estimate for small Alpha inputs", () => {
    expect(needsEstimate(spec(5000, 3, 1, pbCommon.Algorithm.ALGORITHM_ALPHA))).toBe(false);
  });

  it("never asks for Rips: Compute admits with the estimate of the data itself", () => {
    expect(needsEstimate(spec(50, 3, 1))).toBe(false);
    expect(needsEstimate(spec(600, 4, 3))).toBe(false);
    expect(needsEstimate(spec(50_000, 4, 2))).toBe(false);
    expect(needsEstimate(spec(600, 0, 1, pbCommon.Algorithm.ALGORITHM_RIPS, pbCommon.InputKind.INPUT_KIND_LOWER_DISTANCE_MATRIX))).toBe(false);
  });

  it("asks the engine when an Alpha input is over 1 MiB", () => {
    expect(needsEstimate(spec(50_000, 3, 0, pbCommon.Algorithm.ALGORITHM_ALPHA))).toBe(true);
  });
});
