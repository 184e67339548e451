import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort, ROOT, startProcess, waitForHttp, type Proc } from "./mesh";

// Jaeger v2 as the suite's trace collector and store: the binary that
// deploy/jaeger/build.sh (run by scripts/bootstrap.sh) builds from the Go module
// proxy, started with deploy/jaeger/config.yaml on free loopback ports.

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export interface Jaeger {
  /** OTLP/gRPC endpoint for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlp: string;
  /** Base URL of the query API. */
  query: string;
  proc: Proc;
  stop(): Promise<void>;
}

export function jaegerBinary(): string {
  if (process.env.TDA_JAEGER_BIN) return process.env.TDA_JAEGER_BIN;
  const mod = readFileSync(join(ROOT, "deploy/jaeger/go.mod"), "utf8");
  const version = /github\.com\/jaegertracing\/jaeger (v\S+)/.exec(mod)?.[1];
  if (!version) throw new Error("deploy/jaeger/go.mod names no jaeger version");
  const cache = process.env.TDA_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tda-mesh");
  return join(cache, `jaeger-${version}`, "jaeger");
}

export async function startJaeger(logDir: string): Promise<Jaeger> {
  const bin = jaegerBinary();
  if (!existsSync(bin)) throw new Error(`Jaeger not built: ${bin} is missing (scripts/bootstrap.sh or deploy/jaeger/build.sh builds it)`);
  const [otlpPort, queryPort] = [await freePort(), await freePort()];
  const proc = startProcess(
    "jaeger",
    bin,
    ["--config", `file:${join(ROOT, "deploy/jaeger/config.yaml")}`],
    { JAEGER_HOST: "127.0.0.1", OTLP_GRPC_PORT: String(otlpPort), JAEGER_QUERY_PORT: String(queryPort) },
    logDir,
  );
  const query = `http://127.0.0.1:${queryPort}`;
  await waitForHttp(`${query}/api/services`, 60_000);
  return { otlp: `http://127.0.0.1:${otlpPort}`, query, proc, stop: () => proc.stop() };
}

/** The trace as Jaeger's query API returns it, or undefined while it has none. */
export async function fetchTrace(query: string, traceId: string): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${query}/api/traces/${traceId}`, { signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /api/traces/${traceId}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { data?: JaegerTrace[] };
  return body.data?.[0];
}

/** service.name of a span's process. */
export function serviceOf(t: JaegerTrace, s: JaegerSpan): string {
  return t.processes[s.processID]?.serviceName ?? "";
}

export function tagOf(s: JaegerSpan, key: string): unknown {
  return s.tags.find((t) => t.key === key)?.value;
}

/** The span `s` is a child of (CHILD_OF reference), if it is in the trace. */
export function parentOf(t: JaegerTrace, s: JaegerSpan): JaegerSpan | undefined {
  const ref = s.references.find((r) => r.refType === "CHILD_OF");
  return ref ? t.spans.find((x) => x.spanID === ref.spanID) : undefined;
}

/**
 * The span `s` refers to by any reference (CHILD_OF or FOLLOWS_FROM). A Kafka consumer span
 * is a child of the producer span and linked to it; Jaeger keeps one reference for the two,
 * as FOLLOWS_FROM.
 */
export function referencedBy(t: JaegerTrace, s: JaegerSpan): JaegerSpan | undefined {
  for (const r of s.references) {
    const x = t.spans.find((y) => y.spanID === r.spanID);
    if (x) return x;
  }
  return undefined;
}
