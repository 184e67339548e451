import http from "node:http";
import { pbJobs } from "@tda/common";
import { startMesh, type Mesh } from "../helpers/mesh";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-redis";
import { api, gatewayClient, md, type Gateway } from "../helpers/client";
import { getJob, submitRips, uploadCloud, waitFor } from "../helpers/jobs";
import { parseExposition, sumOf } from "../helpers/prom-text";

// The reliability suite's watch-abort scenario (bench/chaos.js), as a regression test: WatchJob
// streams aborted by their clients, over gRPC and over the REST proxy's NDJSON, while the job
// runs and has a long update log to replay. Every aborted watch must end on the gateway (its
// forward) and on the scheduler (its stream, with the pub/sub listener and the queue of updates
// it holds): the gauges tda_gateway_job_watches and tda_scheduler_job_watches count them.
//
// A watch aborted while the scheduler waited for "drain" (the replay of a long log outruns the
// HTTP/2 stream) used to wait forever: grpc-js never calls back a write to a cancelled call.

jest.setTimeout(300_000);

const { JobState } = pbJobs;
const N = 60; // watches per transport
const AT_ONCE = 10;

let privateRedis: PrivateRedis;
let mesh: Mesh;
let gw: Gateway;
let jobId: string;

async function gauge(url: string, name: string, kind: string): Promise<number> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return sumOf(parseExposition(await res.text()), name, { kind });
}
const forwards = () => gauge(mesh.metrics.gateway, "tda_gateway_job_watches", "forwards");
const streams = () => gauge(mesh.metrics.scheduler, "tda_scheduler_job_watches", "streams");

async function pool(n: number, conc: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** A gRPC watch cancelled when its first update arrives. */
function grpcWatchAborted(id: string): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const stream = gw.watchJob({ jobId: id }, md());
    stream.on("data", () => {
      if (got++ === 0) stream.cancel();
    });
    stream.on("error", () => resolve(got));
    stream.on("end", () => resolve(got));
  });
}

/** A REST NDJSON watch whose connection is dropped after its first line. */
function restWatchAborted(id: string): Promise<number> {
  return new Promise((resolve) => {
    let lines = 0;
    const req = http.get(new URL(`/api/v1/tda/jobs/${id}/watch`, mesh.rest), { agent: false }, (res) => {
      res.on("data", (c: Buffer) => {
        lines += String(c).split("\n").length - 1;
        if (lines > 0) req.destroy();
      });
      res.on("close", () => resolve(lines));
    });
    req.on("error", () => resolve(lines));
  });
}

beforeAll(async () => {
  privateRedis = await startPrivateRedis();
  // a progress update every 20 ms: the job's update log soon holds far more than a stream's buffer
  mesh = await startMesh({ rest: true, redisUrl: privateRedis.url, env: { SCHEDULER_PROGRESS_INTERVAL_MS: "20", TDA_ENGINE_THREADS: "1" } });
  gw = gatewayClient(mesh.gateway);
  // a job of minutes on one engine thread (cancelled at the end)
  const cloud = await uploadCloud(gw, 2100, 3, 0.61);
  jobId = (await submitRips(gw, cloud, { maxDim: 2, threshold: 0.45 })).jobId;
});

afterAll(async () => {
  if (jobId)
    await api(gw)
      .cancelJob({ jobId })
      .catch(() => undefined);
  gw?.close();
  await mesh?.stop();
  await privateRedis?.stop();
});

test("aborted WatchJob streams (gRPC and REST) end on the gateway and on the scheduler", async () => {
  // running, with a log of updates longer than what a stream buffers before waiting for "drain"
  await waitFor(
    "the job to run with 40 updates in its log",
    async () => {
      const j = await getJob(gw, jobId);
      if (j.state !== JobState.JOB_STATE_RUNNING) return undefined;
      const seen = await new Promise<number>((r) => {
        let n = 0;
        const s = gw.watchJob({ jobId }, md());
        s.on("data", () => {
          if (++n >= 40) s.cancel();
        });
        s.on("error", () => r(n));
        s.on("end", () => r(n));
      });
      return seen >= 40 || undefined;
    },
    120_000,
    200,
  );
  await waitFor("the probe watches to end", async () => ((await forwards()) === 0 && (await streams()) === 0) || undefined, 20_000, 100);

  const received: number[] = [];
  await pool(2 * N, AT_ONCE, async (i) => received.push(await (i % 2 ? restWatchAborted(jobId) : grpcWatchAborted(jobId))));
  // every watch got its first update before it was aborted
  expect(received.filter((n) => n === 0)).toEqual([]);

  // the watches end on both hops (the job's own end would end them too: it must still be running)
  let last = { forwards: -1, streams: -1 };
  await waitFor(
    "the aborted watches to end on the gateway and the scheduler",
    async () => {
      last = { forwards: await forwards(), streams: await streams() };
      return (last.forwards === 0 && last.streams === 0) || undefined;
    },
    15_000,
    200,
  ).catch(() => undefined);
  expect(last).toEqual({ forwards: 0, streams: 0 });
  expect((await getJob(gw, jobId)).state).toBe(JobState.JOB_STATE_RUNNING);
});
