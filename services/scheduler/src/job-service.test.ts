import { newJobId, queuePriority } from "./job-service";

describe("job ids and priorities", () => {
  it("makes job ids of the documented shape, all different", () => {
    const ids = new Set(Array.from({ length: 100 }, newJobId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^job_[0-9a-f]{32}$/);
  });

  it("maps higher proto priority to a lower (earlier) BullMQ priority, within BullMQ's range", () => {
    expect(queuePriority(10)).toBeLessThan(queuePriority(0));
    expect(queuePriority(0)).toBeLessThan(queuePriority(-5));
    expect(queuePriority(2_000_000_000)).toBe(1);
    expect(queuePriority(-2_000_000_000)).toBe(2_097_151);
  });
});
