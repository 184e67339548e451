import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { initTracing, shutdownTracing } from "@tda/common";
import { KAFKA_BROKERS, startMesh, type Mesh } from "../helpers/mesh";
import { restClient } from "../helpers/rest";
import { collectEvents, endOffsets } from "../helpers/kafka-events";
import { waitFor } from "../helpers/jobs";
import { fetchTrace, parentOf, referencedBy, serviceOf, startJaeger, tagOf, type Jaeger, type JaegerSpan, type JaegerTrace } from "../helpers/jaeger";
import { parseExposition, sumOf } from "../helpers/prom-text";
import { queriedMeshMetrics } from "../helpers/observability";

// One job's whole path as one trace: Jaeger (the local collector and store) and the
// real mesh with tracing on; a job goes in through REST, and Jaeger's query API must
// hold one trace with the spans of every process it crossed, linked parent to child
// across processes; every process's log has the trace id; the REST proxy's trace
// route serves it; the engine's Prometheus endpoint counts the job; with the
// collector gone the mesh keeps working and the engine counts the spans it dropped.

jest.setTimeout(240_000);

const KEY = "trace-key-0123456789";
const CONSUMER_SERVICE = "e2e-kafka-consumer";
let jaeger: Jaeger;
let mesh: Mesh;
let rest: ReturnType<typeof restClient>;
let jobId = "";
let traceId = "";

function circleCsv(n = 60): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const r = 1 + 0.02 * Math.sin(5 * i);
    rows.push(`${(r * Math.cos(t)).toFixed(6)},${(r * Math.sin(t)).toFixed(6)}`);
  }
  return rows.join("\n") + "\n";
}

beforeAll(async () => {
  jaeger = await startJaeger(mkdtempSync(join(tmpdir(), "tda-jaeger-")));
  mesh = await startMesh({
    redisDb: 15,
    rest: true,
    tracing: { otlpEndpoint: jaeger.otlp, traceQueryUrl: jaeger.query },
    gatewayEnv: { GATEWAY_API_KEYS: `${KEY}:tenant-trace` },
  });
  rest = restClient(mesh.rest!, { key: KEY });
  // this process is the test's Kafka consumer: its spans go to the same Jaeger
  initTracing(CONSUMER_SERVICE, jaeger.otlp);
});

afterAll(async () => {
  await shutdownTracing().catch(() => undefined);
  await mesh?.stop();
  await jaeger?.stop();
});

let datasetId = "";

async function runJob(n = 60): Promise<{ jobId: string; traceId: string }> {
  const up = await rest.upload("/api/v1/data/upload/file?name=circle.csv&format=csv", circleCsv(n), "text/csv");
  expect(up.status).toBe(200);
  datasetId = up.json.dataset.dataset_id;
  const sub = await rest.post("/api/v1/tda/compute/vietoris-rips", { dataset_id: up.json.dataset.dataset_id, max_dim: 1 });
  expect(sub.status).toBe(200);
  const id: string = sub.json.job.job_id;
  const done = await waitFor(
    "job completed",
    async () => {
      const j = await rest.get(`/api/v1/tda/jobs/${id}`);
      return j.json?.job?.state === "JOB_STATE_COMPLETED" ? j.json.job : undefined;
    },
    120_000,
  );
  return { jobId: id, traceId: done.trace_id };
}

const has = (t: JaegerTrace, service: string, name: string | RegExp) =>
  t.spans.filter((s) => serviceOf(t, s) === service && (typeof name === "string" ? s.operationName === name : name.test(s.operationName)));

test("a Rips job through REST is one trace in Jaeger across REST proxy, gateway, upload, scheduler, engine and Kafka", async () => {
  const from = await endOffsets(KAFKA_BROKERS, "tda_jobs");
  ({ jobId, traceId } = await runJob());
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);

  // the test's consumer reads the job's lifecycle events (CONSUMER spans linked to their producer spans)
  // (from where the topic ended before the job, and spans only for this job's events: the topic holds every earlier suite's events too)
  await collectEvents(
    KAFKA_BROKERS,
    "tda_jobs",
    (ev) => (ev.byKey.get(jobId) ?? []).some((e) => e.eventType === "job.completed"),
    60_000,
    (key) => key === jobId,
    from,
  );
  await shutdownTracing(); // flushes the consumer spans

  const wanted = ["tda-rest", "gateway", "upload", "scheduler", "engine", CONSUMER_SERVICE];
  const trace = await waitFor(
    `trace ${traceId} with spans of ${wanted.join(", ")}`,
    async () => {
      const t = await fetchTrace(jaeger.query, traceId);
      if (!t) return undefined;
      const services = new Set(t.spans.map((s) => serviceOf(t, s)));
      // spans arrive in batches: also wait for the producer spans the consumer spans point at
      const linked = has(t, CONSUMER_SERVICE, /process$/).every((c) => referencedBy(t, c) !== undefined);
      return wanted.every((w) => services.has(w)) && has(t, "engine", "engine.compute").length > 0 && linked ? t : undefined;
    },
    60_000,
    500,
  ).catch(async (err) => {
    const t = await fetchTrace(jaeger.query, traceId);
    const seen = t ? [...new Set(t.spans.map((s) => `${serviceOf(t, s)}:${s.operationName}`))].join("\n  ") : "(no trace)";
    const orphans = t
      ? has(t, CONSUMER_SERVICE, /process$/)
          .filter((c) => !referencedBy(t, c))
          .map((c) => `${c.operationName} ${JSON.stringify(c.references)} ${JSON.stringify(c.tags.filter((x) => /key|offset/.test(x.key)))}`)
      : [];
    if (orphans.length)
      throw new Error(`${(err as Error).message}\nconsumer spans without their producer span:\n  ${orphans.join("\n  ")}\nspans seen:\n  ${seen}`);
    throw new Error(`${(err as Error).message}\nspans seen:\n  ${seen}`);
  });

  // one trace: every span carries the job's trace id
  expect(new Set(trace.spans.map((s) => s.traceID))).toEqual(new Set([traceId]));

  // REST proxy -> gateway: the gateway's server span is a child of the proxy's client span
  const restServer = has(trace, "tda-rest", "POST /api/v1/tda/compute/vietoris-rips");
  expect(restServer).toHaveLength(1);
  const gatewaySubmit = has(trace, "gateway", /ComputeVietorisRips$/);
  expect(gatewaySubmit.length).toBeGreaterThanOrEqual(1);
  const viaRest = parentOf(trace, gatewaySubmit[0]!);
  expect(viaRest && serviceOf(trace, viaRest)).toBe("tda-rest");

  // scheduler -> engine: the engine's Compute span is a child of the scheduler's call
  const compute = has(trace, "engine", "tda.engine.v1.EngineService/Compute");
  expect(compute).toHaveLength(1);
  const caller = parentOf(trace, compute[0]!);
  expect(caller && serviceOf(trace, caller)).toBe("scheduler");
  expect(tagOf(compute[0]!, "tda.job_id")).toBe(jobId);
  expect(Number(tagOf(compute[0]!, "tda.points"))).toBe(60);

  // the engine's stages under its call, with their sizes
  const engineSpan = (name: string): JaegerSpan => {
    const [s] = has(trace, "engine", name);
    if (!s) throw new Error(`no engine span ${name}`);
    return s;
  };
  for (const name of ["engine.estimate", "engine.load_points", "engine.queue", "engine.compute"]) {
    expect(parentOf(trace, engineSpan(name))?.spanID).toBe(compute[0]!.spanID);
  }
  const run = engineSpan("engine.compute");
  const reduce1 = engineSpan("engine.reduce dim 1");
  expect(parentOf(trace, reduce1)?.spanID).toBe(run.spanID);
  expect(Number(tagOf(reduce1, "tda.columns"))).toBeGreaterThan(0);
  expect(Number(tagOf(reduce1, "tda.result.bars"))).toBeGreaterThanOrEqual(1);
  expect(Number(tagOf(reduce1, "tda.bytes_in_use"))).toBeGreaterThan(0);
  expect(Number(tagOf(run, "tda.threads"))).toBeGreaterThanOrEqual(1);
  expect(Number(tagOf(engineSpan("engine.dim0"), "tda.result.bars"))).toBe(60);
  expect(Number(tagOf(engineSpan("engine.load_points"), "tda.input_bytes"))).toBeGreaterThan(0);

  // the scheduler reads the points from the upload service inside the same trace
  expect(has(trace, "upload", /UploadService\/ReadPoints$/).length).toBeGreaterThanOrEqual(1);

  // Kafka: producer spans of the job's lifecycle events, and the test's consumer spans under them
  const producers = has(trace, "scheduler", /tda_jobs publish$/);
  expect(producers.length).toBeGreaterThanOrEqual(3);
  const consumers = has(trace, CONSUMER_SERVICE, /tda_jobs process$/);
  expect(consumers.length).toBeGreaterThanOrEqual(3);
  for (const c of consumers) {
    const p = referencedBy(trace, c);
    expect(p && serviceOf(trace, p)).toBe("scheduler");
    expect(p?.operationName).toMatch(/tda_jobs publish$/);
  }

  // the trace id in the log of every process the job crossed
  for (const name of ["rest", "gateway", "upload", "scheduler", "engine-0"]) {
    const log = readFileSync(join(mesh.logDir, `${name}.log`), "utf8");
    const lines = log.split("\n").filter((l) => l.includes(traceId));
    expect({ name, found: lines.length > 0 }).toEqual({ name, found: true });
    for (const l of lines.filter((x) => x.startsWith("{"))) {
      const rec = JSON.parse(l) as { trace_id?: string; span_id?: string };
      expect(rec.trace_id).toBe(traceId);
      expect(rec.span_id).toMatch(/^[0-9a-f]{16}$/);
    }
  }
});

test("the REST proxy's GET /api/v1/tda/jobs/{id}/trace serves that trace from Jaeger", async () => {
  const res = await rest.get(`/api/v1/tda/jobs/${jobId}/trace`);
  expect(res.status).toBe(200);
  expect(res.json.trace_id).toBe(traceId);
  const services = new Set((res.json.spans as { service: string }[]).map((s) => s.service));
  for (const s of ["tda-rest", "gateway", "upload", "scheduler", "engine"]) expect(services).toContain(s);
  const ids = new Set((res.json.spans as { span_id: string }[]).map((s) => s.span_id));
  const engineCall = (res.json.spans as { name: string; parent_span_id: string }[]).find((s) => s.name === "tda.engine.v1.EngineService/Compute");
  expect(engineCall && ids.has(engineCall.parent_span_id)).toBe(true);
  // another tenant does not see it
  const other = await restClient(mesh.rest!, { key: "nobody-0123456789" }).get(`/api/v1/tda/jobs/${jobId}/trace`);
  expect([401, 403, 404]).toContain(other.status);
});

test("an estimate through REST is one trace down to the engine's estimate span", async () => {
  const res = await rest.post("/api/v1/tda/estimate", { dataset_id: datasetId, params: { algorithm: "ALGORITHM_RIPS", max_dim: 2 } });
  expect(res.status).toBe(200);
  const id = res.headers.get("x-trace-id") ?? "";
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  const t = await waitFor(
    "the estimate's trace with the engine's span",
    async () => {
      const x = await fetchTrace(jaeger.query, id);
      // the estimate is a Compute call with estimate_only: the engine measures it on the points
      const est = x ? has(x, "engine", "tda.engine.v1.EngineService/Compute") : [];
      // spans arrive in batches: wait for the engine's span and its caller's
      return x && est.length > 0 && parentOf(x, est[0]!) && has(x, "tda-rest", /estimate$/).length > 0 ? x : undefined;
    },
    30_000,
    500,
  ).catch(async (err) => {
    const x = await fetchTrace(jaeger.query, id);
    throw new Error(`${(err as Error).message}: ${x ? x.spans.map((s) => `${serviceOf(x, s)}:${s.operationName}`).join(", ") : "no trace"}`);
  });
  const [call] = has(t, "engine", "tda.engine.v1.EngineService/Compute");
  const caller = parentOf(t, call!);
  expect(caller && serviceOf(t, caller)).toBe("scheduler");
  const estimates = has(t, "engine", "engine.estimate");
  expect(Math.max(...estimates.map((e) => Number(tagOf(e, "tda.estimate.memory_bytes"))))).toBeGreaterThan(0);
  expect(Number(tagOf(call!, "tda.points"))).toBe(60);
});

function promtool(text: string): string {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); install Debian's prometheus package (scripts/bootstrap.sh)`);
  return `${r.stdout}${r.stderr}`;
}

test("the engine's /metrics follows the text format (promtool) and counts the job", async () => {
  const res = await fetch(mesh.metrics.engines[0]!);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  expect(promtool(text)).not.toMatch(/error while linting|parse error|text format parsing error/i);
  const e = parseExposition(text);
  expect(sumOf(e, "tda_engine_jobs_total", { outcome: "completed" })).toBeGreaterThanOrEqual(1);
  expect(sumOf(e, "tda_engine_job_duration_seconds_count", { algorithm: "rips" })).toBeGreaterThanOrEqual(1);
  expect(e.types.get("tda_engine_job_duration_seconds")).toBe("histogram");
  for (const g of [
    "tda_engine_memory_limit_bytes",
    "tda_engine_memory_reserved_bytes",
    "tda_engine_bytes_in_use",
    "tda_engine_queue_depth",
    "tda_engine_jobs_running",
  ]) {
    expect(e.types.get(g)).toBe("gauge");
  }
  expect(sumOf(e, "tda_engine_memory_limit_bytes")).toBeGreaterThan(0);
  for (const c of ["tda_engine_refusals_total", "tda_engine_cancellations_total", "tda_engine_spans_dropped_total"]) expect(e.types.get(c)).toBe("counter");
  expect(sumOf(e, "tda_engine_spans_exported_total")).toBeGreaterThanOrEqual(5);
});

test("every mesh metric the alert rules and the Grafana dashboard query is served by some process", async () => {
  const served = new Set<string>();
  for (const url of [...mesh.metrics.engines, mesh.metrics.gateway, mesh.metrics.upload, mesh.metrics.scheduler, `${mesh.rest}/metrics`]) {
    for (const name of parseExposition(await (await fetch(url)).text()).types.keys()) served.add(name);
  }
  const missing = queriedMeshMetrics().filter((n) => !served.has(n));
  expect(missing).toEqual([]);
});

test("with the collector gone, jobs still complete and the engine counts the spans it could not send", async () => {
  await jaeger.stop();
  const before = parseExposition(await (await fetch(mesh.metrics.engines[0]!)).text());
  const failedBefore = sumOf(before, "tda_engine_spans_dropped_total", { reason: "export_failed" });
  const again = await runJob(61); // another cloud: a cached result would not reach the engine
  expect(again.traceId).toMatch(/^[0-9a-f]{32}$/);
  await waitFor(
    "engine counts failed exports",
    async () => {
      const e = parseExposition(await (await fetch(mesh.metrics.engines[0]!)).text());
      return sumOf(e, "tda_engine_spans_dropped_total", { reason: "export_failed" }) > failedBefore ? true : undefined;
    },
    30_000,
    250,
  );
});
