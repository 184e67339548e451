import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { channelOptions, createLogger, initTracing, insecure, pbCommon, pbJobs, shutdownTracing } from "@tda/common";
import { loadConfig, startSchedulerServer, type SchedulerServer } from "../src";
import { startUploadForTest, type UploadForTest } from "./upload-harness";
import { call, noisyCircle, REDIS_URL, startEngine, tenantMd, uploadPoints, waitFor, type EngineProcess } from "./helpers";

// The submit's trace continues in the worker: Job.trace_id is the caller's
// trace, and the worker's span belongs to it.

const exporter = new InMemorySpanExporter();
initTracing("scheduler-test", undefined, [new SimpleSpanProcessor(exporter)]);

let dataDir: string;
let upload: UploadForTest;
let engine: EngineProcess;
let sched: SchedulerServer;
let client: pbJobs.JobServiceClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sched-trace-"));
  upload = await startUploadForTest(dataDir, REDIS_URL);
  engine = await startEngine();
  sched = await startSchedulerServer(
    loadConfig({
      REDIS_URL,
      SCHEDULER_PORT: "0",
      UPLOAD_ADDRESS: upload.address,
      ENGINE_ADDRESSES: engine.address,
      SCHEDULER_QUEUE_NAME: `test-trace-${randomUUID().slice(0, 8)}`,
    }),
    createLogger("scheduler-test", "silent"),
  );
  client = new pbJobs.JobServiceClient(sched.address, insecure(), channelOptions);
}, 60_000);

afterAll(async () => {
  client?.close();
  await sched?.queue.obliterate({ force: true }).catch(() => undefined);
  await sched?.close();
  await engine?.stop();
  await upload?.close();
  await shutdownTracing();
  rmSync(dataDir, { recursive: true, force: true });
});

it("continues the caller's trace from SubmitJob into the worker", async () => {
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const ds = await uploadPoints(upload.address, tenant, noisyCircle(20));
  const traceId = randomBytes(16).toString("hex");
  const md = tenantMd(tenant);
  md.set("traceparent", `00-${traceId}-${randomBytes(8).toString("hex")}-01`);
  const job = await new Promise<pbJobs.Job>((resolve, reject) =>
    client.submitJob(
      pbJobs.SubmitJobRequest.fromPartial({ datasetId: ds.datasetId, params: { algorithm: pbCommon.Algorithm.ALGORITHM_RIPS, maxDim: 1 } }),
      md,
      (err, res) => (err ? reject(err) : resolve(res.job!)),
    ),
  );
  expect(job.traceId).toBe(traceId);
  await waitFor("job to complete", async () =>
    (await call<pbJobs.GetJobRequest, pbJobs.GetJobResponse>(client.getJob.bind(client), { jobId: job.jobId }, tenant)).job!.state ===
    pbJobs.JobState.JOB_STATE_COMPLETED
      ? true
      : undefined,
  );
  const spans = await waitFor("worker span", async () => {
    const s = exporter.getFinishedSpans();
    return s.some((x) => x.name === "scheduler.run_job") ? s : undefined;
  });
  const submit = spans.find((s) => s.name === "tda.jobs.v1.JobService/SubmitJob")!;
  const run = spans.find((s) => s.name === "scheduler.run_job")!;
  expect(submit.spanContext().traceId).toBe(traceId);
  expect(run.spanContext().traceId).toBe(traceId);
  expect(run.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
});
