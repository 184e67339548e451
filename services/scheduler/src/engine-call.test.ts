import { pbCommon, pbEngine } from "@tda/common";
import { needsEstimate } from "./engine-call";

const spec = (n: number, dim: number, maxDim: number, algorithm = pbCommon.Algorithm.ALGORITHM_RIPS, kind = pbCommon.InputKind.INPUT_KIND_POINT_CLOUD) =>
  pbEngine.ComputeSpec.fromPartial({ n, dim, inputKind: kind, params: { algorithm, maxDim } });

describe("needsEstimate", () => {
  it("skips the estimate for small inputs with small complexes", () => {
    expect(needsEstimate(spec(50, 3, 1))).toBe(false);
    expect(needsEstimate(spec(1, 3, 2))).toBe(false);
    expect(needsEstimate(spec(5000, 3, 1, pbCommon.Algorithm.ALGORITHM_ALPHA))).toBe(false);
  });

  it("asks the engine when the complex may be large", () => {
    expect(needsEstimate(spec(600, 4, 3))).toBe(true); // C(600, 5) ~ 6e11
    expect(needsEstimate(spec(2000, 3, 1))).toBe(true); // C(2000, 3) ~ 1.3e9
  });

  it("asks the engine when the input is over 1 MiB", () => {
    expect(needsEstimate(spec(50_000, 3, 0, pbCommon.Algorithm.ALGORITHM_ALPHA))).toBe(true);
    expect(needsEstimate(spec(600, 0, 1, pbCommon.Algorithm.ALGORITHM_RIPS, pbCommon.InputKind.INPUT_KIND_LOWER_DISTANCE_MATRIX))).toBe(true);
  });
});
