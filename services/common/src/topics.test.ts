import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readTopicsFile } from "./topics";
import { TOPIC_NAMES } from "./events";

describe("readTopicsFile", () => {
  it("reads the dev layout: every topic the services publish to, with prefix, partitions and configs", () => {
    const specs = readTopicsFile(resolve(__dirname, "../../../deploy/kafka/topics.dev.json"), "x_");
    expect(specs.map((s) => s.name).sort()).toEqual(TOPIC_NAMES.map((t) => `x_${t}`).sort());
    const results = specs.find((s) => s.name === "x_tda_results")!;
    expect(results.config["cleanup.policy"]).toBe("compact");
    expect(results.partitions).toBeGreaterThanOrEqual(1);
    expect(results.replicationFactor).toBe(1);
  });

  it("rejects a malformed file with the offending entry named", () => {
    const dir = mkdtempSync(join(tmpdir(), "topics-test-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ topics: [{ name: "a" }, { name: "b", partitions: 0 }] }));
    expect(() => readTopicsFile(bad)).toThrow(/topics\[1\]\.partitions/);
    writeFileSync(bad, JSON.stringify({ nope: [] }));
    expect(() => readTopicsFile(bad)).toThrow(/"topics" must be an array/);
    writeFileSync(bad, JSON.stringify({ topics: [{ partitions: 1 }] }));
    expect(() => readTopicsFile(bad)).toThrow(/topics\[0\]\.name/);
  });
});
