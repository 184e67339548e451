import type { Admin } from "kafkajs";
import { createKafka, type Logger, type pbGateway } from "@tda/common";

// The Flink job's state as its JobManager's REST API reports it (job state,
// restarts, last completed checkpoint), and its consumer lag from the committed
// offsets of its Kafka consumer group (the KafkaSource commits them at each
// checkpoint). Both are public interfaces of their owners. Answers are cached
// for `ttlMs`; a call spends at most `timeoutMs` on them.

export interface FlinkStatus {
  get(): Promise<pbGateway.StreamJobStatus>;
  close(): Promise<void>;
}

export interface FlinkStatusOptions {
  /** JobManager REST base URL, e.g. http://127.0.0.1:8081 ("" : not configured). */
  restUrl: string;
  jobName: string;
  brokers: string[];
  /** The job's consumer group and its input topic (with the prefix). */
  groupId: string;
  topic: string;
  ttlMs: number;
  timeoutMs: number;
  log: Logger;
}

interface JobOverview {
  jobs?: { jid: string; name: string; state: string; "start-time"?: number }[];
}

const ACTIVE = new Set(["RUNNING", "RESTARTING", "CREATED", "INITIALIZING", "FAILING", "CANCELLING", "RECONCILING", "SUSPENDED"]);

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export function createFlinkStatus(opts: FlinkStatusOptions): FlinkStatus {
  const kafka = createKafka("tda-gateway-flink-status", opts.brokers, opts.log);
  let admin: Admin | undefined;
  let cached: { value: pbGateway.StreamJobStatus; at: number } | undefined;
  let inflight: Promise<pbGateway.StreamJobStatus> | undefined;

  async function jobPart(): Promise<Omit<pbGateway.StreamJobStatus, "consumerLag">> {
    const none = { jobId: "", restarts: 0, lastCheckpointId: 0, lastCheckpointTime: undefined };
    if (opts.restUrl === "") return { state: "UNREACHABLE", ...none };
    let overview: JobOverview;
    try {
      overview = await getJson<JobOverview>(`${opts.restUrl}/jobs/overview`, opts.timeoutMs);
    } catch {
      return { state: "UNREACHABLE", ...none };
    }
    const mine = (overview.jobs ?? []).filter((j) => j.name === opts.jobName);
    const job = mine.find((j) => ACTIVE.has(j.state)) ?? mine.sort((a, b) => (b["start-time"] ?? 0) - (a["start-time"] ?? 0))[0];
    if (!job) return { state: "NOT_FOUND", ...none };
    const [checkpoints, metrics] = await Promise.all([
      getJson<{ latest?: { completed?: { id: number; latest_ack_timestamp: number } | null } }>(
        `${opts.restUrl}/jobs/${job.jid}/checkpoints`,
        opts.timeoutMs,
      ).catch(() => undefined),
      getJson<{ id: string; value: string }[]>(`${opts.restUrl}/jobs/${job.jid}/metrics?get=numRestarts`, opts.timeoutMs).catch(() => undefined),
    ]);
    const done = checkpoints?.latest?.completed ?? undefined;
    const restarts = Number(metrics?.find((m) => m.id === "numRestarts")?.value ?? 0);
    return {
      state: job.state,
      jobId: job.jid,
      restarts: Number.isFinite(restarts) ? restarts : 0,
      lastCheckpointId: done?.id ?? 0,
      lastCheckpointTime: done ? { seconds: Math.floor(done.latest_ack_timestamp / 1000), nanos: (done.latest_ack_timestamp % 1000) * 1e6 } : undefined,
    };
  }

  async function lag(): Promise<number> {
    try {
      if (!admin) {
        admin = kafka.admin({ retry: { retries: 0 } });
        await admin.connect();
      }
      const [committed, ends] = await Promise.all([admin.fetchOffsets({ groupId: opts.groupId, topics: [opts.topic] }), admin.fetchTopicOffsets(opts.topic)]);
      const mine = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      let total = 0;
      for (const p of ends) {
        const c = mine.get(p.partition) ?? -1;
        total += Number(p.high) - (c < 0 ? Number(p.low) : c);
      }
      return total;
    } catch (err) {
      opts.log.debug({ err: (err as Error).message }, "consumer lag unknown");
      const a = admin;
      admin = undefined;
      void a?.disconnect().catch(() => undefined);
      return -1;
    }
  }

  async function probe(): Promise<pbGateway.StreamJobStatus> {
    const [job, consumerLag] = await Promise.all([jobPart(), lag()]);
    const value = { ...job, consumerLag };
    cached = { value, at: Date.now() };
    return value;
  }

  return {
    get() {
      if (cached && Date.now() - cached.at < opts.ttlMs) return Promise.resolve(cached.value);
      inflight ??= probe().finally(() => (inflight = undefined));
      return inflight;
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
