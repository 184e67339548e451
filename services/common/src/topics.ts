import { readFileSync } from "node:fs";
import type { Kafka } from "kafkajs";

// Topic layout from a deploy/kafka/topics.*.json file, created idempotently:
// topics the broker already has are left as they are, missing ones are created
// with the partitions, replication factor and configs of the file.

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
}

interface TopicFileEntry {
  name?: unknown;
  partitions?: unknown;
  replication_factor?: unknown;
  config?: unknown;
}

/** Parses a topics file ({"topics": [{name, partitions, replication_factor, config}]}); names get `prefix`. */
export function readTopicsFile(path: string, prefix = ""): TopicSpec[] {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { topics?: unknown };
  if (!Array.isArray(parsed.topics)) throw new Error(`${path}: "topics" must be an array`);
  return (parsed.topics as TopicFileEntry[]).map((t, i) => {
    if (typeof t.name !== "string" || t.name === "") throw new Error(`${path}: topics[${i}].name must be a non-empty string`);
    const config: Record<string, string> = {};
    if (t.config !== undefined) {
      if (typeof t.config !== "object" || t.config === null) throw new Error(`${path}: topics[${i}].config must be an object`);
      for (const [k, v] of Object.entries(t.config)) config[k] = String(v);
    }
    const int = (v: unknown, what: string): number => {
      if (v === undefined) return 1;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${path}: topics[${i}].${what} must be a positive integer`);
      return v;
    };
    return { name: prefix + t.name, partitions: int(t.partitions, "partitions"), replicationFactor: int(t.replication_factor, "replication_factor"), config };
  });
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/**
 * Creates the topics of `specs` the broker does not have yet. Safe to call from
 * several processes at once: a topic created concurrently counts as existing.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], timeoutMs = 30000): Promise<EnsureTopicsResult> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const have = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !have.has(s.name));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          timeout: timeoutMs,
          topics: missing.map((s) => ({
            topic: s.name,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor,
            configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (err) {
        // another process may have created some of them in the meantime
        const now = new Set(await admin.listTopics());
        if (missing.some((s) => !now.has(s.name))) throw err;
      }
    }
    return { created: missing.map((s) => s.name), existing: specs.filter((s) => have.has(s.name)).map((s) => s.name) };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** ensureTopics from a topics file. */
export async function ensureTopicsFromFile(kafka: Kafka, path: string, prefix = "", timeoutMs = 30000): Promise<EnsureTopicsResult> {
  return ensureTopics(kafka, readTopicsFile(path, prefix), timeoutMs);
}
