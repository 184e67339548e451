import { Metadata, status } from "@grpc/grpc-js";
import { addHealth, bind, createServer, shutdown } from "./grpc";
import { createHealthClient } from "./health-client";
import { createMetrics, startMetricsServer } from "./metrics";

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf("}"));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

test("the interceptor counts every call of a server made with the metrics, by method and code", async () => {
  const m = createMetrics("unit", { defaults: false });
  const server = createServer({}, m);
  const health = addHealth(server, ["tda.unit.v1.Unit"]);
  health.setStatus("tda.unit.v1.Unit", "NOT_SERVING");
  const port = await bind(server, "127.0.0.1", 0);
  const client = createHealthClient(`127.0.0.1:${port}`);
  const check = (service: string) => new Promise<number>((resolve) => client.check({ service }, new Metadata(), (err) => resolve(err ? err.code : status.OK)));
  expect(await check("")).toBe(status.OK);
  expect(await check("")).toBe(status.OK);
  expect(await check("no.such.Service")).toBe(status.NOT_FOUND);
  client.close();
  await shutdown(server, 1000);

  const text = await m.text();
  expect(text).toContain('service="unit"');
  expect(sample(text, "tda_grpc_server_requests_total", { method: "grpc.health.v1.Health/Check", code: "OK" })).toBe(2);
  expect(sample(text, "tda_grpc_server_requests_total", { method: "grpc.health.v1.Health/Check", code: "NOT_FOUND" })).toBe(1);
  expect(sample(text, "tda_grpc_server_request_duration_seconds_count", { method: "grpc.health.v1.Health/Check", code: "OK" })).toBe(2);
  expect(sample(text, "tda_grpc_server_requests_in_flight", { method: "grpc.health.v1.Health/Check" })).toBe(0);
});

test("job and upload events feed the domain metrics; the HTTP server serves them at /metrics only", async () => {
  const m = createMetrics("unit2", { defaults: false });
  const job = (eventType: string, jobId: string, algorithm: number) =>
    m.observeEvent({ topic: "tda_jobs", key: jobId, eventType, data: { $case: "job", value: { jobId, params: { algorithm } } as never } });
  job("job.submitted", "j1", 1);
  job("job.started", "j1", 1);
  job("job.completed", "j1", 1);
  job("job.submitted", "j2", 2);
  job("job.started", "j2", 2);
  job("job.failed", "j2", 2);
  m.observeEvent({ topic: "tda_uploads", key: "u1", eventType: "upload.completed", data: { $case: "upload", value: { bytes: 1234, format: "csv" } as never } });
  m.kafkaProduceErrors.inc();

  const srv = await startMetricsServer(m, "127.0.0.1", 0);
  try {
    const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(sample(text, "tda_jobs_total", { event: "completed", algorithm: "rips" })).toBe(1);
    expect(sample(text, "tda_jobs_total", { event: "failed", algorithm: "alpha" })).toBe(1);
    expect(sample(text, "tda_job_duration_seconds_count", { algorithm: "rips", outcome: "completed" })).toBe(1);
    expect(sample(text, "tda_job_duration_seconds_count", { algorithm: "alpha", outcome: "failed" })).toBe(1);
    expect(sample(text, "tda_upload_bytes_total", { format: "csv" })).toBe(1234);
    expect(text).toMatch(/^tda_kafka_produce_errors_total\{service="unit2"\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${srv.port}/other`)).status).toBe(404);
  } finally {
    await srv.close();
  }
});
