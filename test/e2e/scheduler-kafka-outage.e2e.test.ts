import IORedis from "ioredis";
import { pbJobs } from "@tda/common";
import { startMesh, type Mesh } from "../helpers/mesh";
import { startPrivateKafka, type PrivateKafka } from "../helpers/kafka-broker";
import { collectEvents, jobData } from "../helpers/kafka-events";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-redis";
import { gatewayClient, watchJob, type Gateway } from "../helpers/client";
import { NO_METRICS_PORTS, sleep, submitRips, uploadCloud, waitFor, waitTerminal } from "../helpers/jobs";

// Kafka down while 100 jobs run: the jobs do not wait for it, their lifecycle
// events wait in the Redis outbox, and once the broker is back every job's
// events arrive on tda_jobs, in order, none missing. The broker is a private
// one (own ports and data directory) so stopping it disturbs no other suite.

jest.setTimeout(600_000);

const JOBS = 100;
const OUTAGE_MS = 10_000;

let kafka: PrivateKafka;
let mesh: Mesh;
let privateRedis: PrivateRedis | undefined;
let gw: Gateway;
let redis: IORedis;

beforeAll(async () => {
  privateRedis = await startPrivateRedis();
  kafka = await startPrivateKafka();
  mesh = await startMesh({ redisUrl: privateRedis.url, env: { ...NO_METRICS_PORTS, KAFKA_BROKERS: kafka.brokers, SCHEDULER_CONCURRENCY: "4" } });
  gw = gatewayClient(mesh.gateway);
  redis = new IORedis(privateRedis.url);
});

afterAll(async () => {
  gw?.close();
  redis?.disconnect();
  await mesh?.stop();
  await kafka?.destroy();
  await privateRedis?.stop();
});

test("100 jobs during a 10 s Kafka outage all complete, and every job's events arrive afterwards in order, exactly once after de-duplication", async () => {
  const datasetId = await uploadCloud(gw, 50, 3, 0.42);

  await kafka.stop("SIGKILL");
  const downAt = Date.now();
  // distinct thresholds: distinct cache keys, so every job runs on the engine
  const jobs = await Promise.all(Array.from({ length: JOBS }, (_, i) => submitRips(gw, datasetId, { maxDim: 1, threshold: 2 + i / 1000 })));
  const ids = jobs.map((j) => j.jobId);
  expect(new Set(ids).size).toBe(JOBS);

  // the jobs finish while the broker is down (no event reaches Kafka meanwhile)
  const finished = await waitTerminal(gw, ids, 300_000);
  expect(finished.filter((j) => j.state !== pbJobs.JobState.JOB_STATE_COMPLETED).map((j) => `${j.jobId}:${j.errorCode}`)).toEqual([]);
  const wait = OUTAGE_MS - (Date.now() - downAt);
  if (wait > 0) await sleep(wait);
  // the events are parked in the scheduler's outbox
  expect(await redis.llen("tda:outbox:scheduler")).toBeGreaterThan(0);

  await kafka.start();

  // the authoritative history of each job: the WatchJob replay (sequence 1..n)
  const replay = new Map<string, pbJobs.JobUpdate[]>();
  for (let i = 0; i < ids.length; i += 10) {
    const chunk = ids.slice(i, i + 10);
    const got = await Promise.all(chunk.map((id) => watchJob(gw, id)));
    chunk.forEach((id, k) => replay.set(id, got[k]!));
  }

  // the relay empties the scheduler's outbox into the restarted broker
  await waitFor("the scheduler's outbox to drain", async () => ((await redis.llen("tda:outbox:scheduler")) === 0 ? true : undefined), 120_000);
  // a consumer reading tda_jobs from the beginning to its end
  const ev = await collectEvents(kafka.brokers, "tda_jobs", undefined, 180_000);

  for (const id of ids) {
    const events = ev.byKey.get(id) ?? [];
    const want = replay.get(id)!;
    // same events, same order: sequence numbers 1..n as in the replay, types matching
    expect({ id, seq: events.map((e) => jobData(e).sequence), types: events.map((e) => e.eventType) }).toEqual({
      id,
      seq: want.map((u) => u.sequence),
      types: want.map((u) => u.eventType),
    });
    expect(want.map((u) => u.sequence)).toEqual(want.map((_, k) => k + 1));
    expect(events.at(-1)?.eventType).toBe("job.completed");
    expect(events[0]?.eventType).toBe("job.submitted");
  }
});
