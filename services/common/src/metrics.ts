import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { status as GrpcStatus, ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "./logger";
import type { PublishInput } from "./event-envelope";

// Prometheus metrics shared by every TypeScript service.
//
// createMetrics(service) builds one registry (default label `service`) with
// the RPC metrics and the domain metrics. Nothing is process-global: a service
// passes its metrics to createServer() (a grpc-js interceptor counts every
// call) and to its event bus (published events, Kafka send failures,
// dead-lettered records, the outbox gauges). startMetricsServer() serves the
// text exposition at GET /metrics.

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(GrpcStatus)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

/** "OK", "NOT_FOUND", ... for a numeric gRPC status. */
export function grpcCodeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
}

export interface ServiceMetrics {
  readonly service: string;
  readonly registry: Registry;
  readonly rpcRequests: Counter<"method" | "code">;
  readonly rpcDuration: Histogram<"method" | "code">;
  readonly rpcInFlight: Gauge<"method">;
  readonly jobs: Counter<"event" | "algorithm">;
  readonly jobDuration: Histogram<"algorithm" | "outcome">;
  readonly uploadBytes: Counter<"format">;
  readonly uploads: Counter<"outcome">;
  readonly kafkaProduceErrors: Counter<string>;
  readonly eventsPublished: Counter<"topic">;
  readonly eventsDeadLettered: Counter<"reason">;
  readonly outboxFencedOff: Counter<string>;
  /** Records one finished RPC. */
  observeRpc(method: string, code: number, seconds: number): void;
  /** Feeds one published event into the domain metrics. */
  observeEvent(input: PublishInput): void;
  /** The event relay failed to send (the events stay in the outbox). */
  produceError(): void;
  /** The event relay moved a record the broker refused to the dead-letter list. */
  deadLettered(reason: string): void;
  /** The event relay lost its outbox lock during a send and left the batch to the new holder. */
  fencedOff(): void;
  /** Gauges of the outbox (pending events, oldest event's age, stalled), read at scrape time. */
  trackOutbox(source: string, read: () => Promise<{ pending: number; oldestAgeMs: number; stalled: boolean }>): void;
  /** A gauge with one label whose values are read at scrape time. */
  addGauge(name: string, help: string, label: string, read: () => Promise<Record<string, number>>): void;
  /** A gRPC server interceptor counting every call. */
  interceptor(): ServerInterceptor;
  /** The text exposition. */
  text(): Promise<string>;
}

const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

function algorithmName(input: PublishInput): string {
  if (input.data.$case !== "job") return "unknown";
  const a = input.data.value.params?.algorithm;
  // ALGORITHM_RIPS → rips
  const names: Record<number, string> = { 1: "rips", 2: "alpha" };
  return a === undefined ? "unknown" : (names[a] ?? String(a));
}

type OutboxState = { pending: number; oldestAgeMs: number; stalled: boolean };

function rpcMetrics(registry: Registry) {
  return {
    rpcRequests: new Counter({
      name: "tda_grpc_server_requests_total",
      help: "gRPC calls handled, by method and status code",
      labelNames: ["method", "code"] as const,
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "tda_grpc_server_request_duration_seconds",
      help: "gRPC call latency (streams: until the status is sent)",
      labelNames: ["method", "code"] as const,
      buckets: RPC_BUCKETS,
      registers: [registry],
    }),
    rpcInFlight: new Gauge({
      name: "tda_grpc_server_requests_in_flight",
      help: "gRPC calls being handled",
      labelNames: ["method"] as const,
      registers: [registry],
    }),
  };
}

function jobAndUploadMetrics(registry: Registry) {
  return {
    jobs: new Counter({
      name: "tda_jobs_total",
      help: "Job lifecycle events published by this process (submitted, started, completed, failed, cancelled), by algorithm",
      labelNames: ["event", "algorithm"] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: "tda_job_duration_seconds",
      help: "Time from job.started to job.completed/failed as seen by this process",
      labelNames: ["algorithm", "outcome"] as const,
      buckets: JOB_BUCKETS,
      registers: [registry],
    }),
    uploadBytes: new Counter({
      name: "tda_upload_bytes_total",
      help: "Source bytes of completed uploads",
      labelNames: ["format"] as const,
      registers: [registry],
    }),
    uploads: new Counter({
      name: "tda_uploads_total",
      help: "Uploads by outcome (completed, failed, deduplicated...)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
  };
}

function eventMetrics(registry: Registry) {
  return {
    kafkaProduceErrors: new Counter({
      name: "tda_kafka_produce_errors_total",
      help: "Failed Kafka sends of the event relay (the events stay in the outbox and are retried)",
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: "tda_events_published_total",
      help: "Events written to the outbox, by topic",
      labelNames: ["topic"] as const,
      registers: [registry],
    }),
    eventsDeadLettered: new Counter({
      name: "tda_events_dead_lettered_total",
      help: "Outbox records the broker refused (or whose topic it lacks), moved to the dead-letter list and reported on tda_errors, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    outboxFencedOff: new Counter({
      name: "tda_outbox_fenced_off_total",
      help: "Batches whose trim was refused because the relay's outbox lock had expired during the send",
      registers: [registry],
    }),
  };
}

/** The outbox gauges (read at scrape time from every tracked outbox); returns trackOutbox. */
function outboxGauges(registry: Registry): (source: string, read: () => Promise<OutboxState>) => void {
  const outboxes = new Map<string, () => Promise<OutboxState>>();
  const readOutboxes = async (): Promise<Map<string, OutboxState>> => {
    const out = new Map<string, OutboxState>();
    for (const [source, read] of outboxes) out.set(source, await read().catch(() => ({ pending: -1, oldestAgeMs: -1, stalled: true })));
    return out;
  };
  const outboxGauge = (name: string, help: string, pick: (s: OutboxState) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ["source"],
      registers: [registry],
      async collect() {
        for (const [source, st] of await readOutboxes()) this.set({ source }, pick(st));
      },
    });
  };
  outboxGauge("tda_outbox_pending_events", "Events waiting in the Redis outbox for the relay (-1: unreadable)", (s) => s.pending);
  outboxGauge("tda_outbox_oldest_event_age_seconds", "Age of the oldest event waiting in the outbox", (s) => s.oldestAgeMs / 1000);
  outboxGauge("tda_outbox_stalled", "1 while the outbox's oldest event is older than the stall bound (events are not reaching Kafka)", (s) =>
    s.stalled ? 1 : 0,
  );
  return (source, read) => void outboxes.set(source, read);
}

/** Feeds published events into the domain metrics (job counts and durations, uploads). */
function eventObserver(d: ReturnType<typeof jobAndUploadMetrics> & ReturnType<typeof eventMetrics>): (input: PublishInput) => void {
  // job.started time per job, to measure durations (bounded: oldest dropped first).
  const startedAt = new Map<string, number>();
  const MAX_TRACKED = 10_000;
  return (input) => {
    d.eventsPublished.inc({ topic: input.topic });
    const type = input.eventType;
    if (input.data.$case === "job" && type.startsWith("job.")) {
      const event = type.slice(4);
      const algorithm = algorithmName(input);
      d.jobs.inc({ event, algorithm });
      const id = input.data.value.jobId;
      if (event === "started") {
        if (startedAt.size >= MAX_TRACKED) startedAt.delete(startedAt.keys().next().value as string);
        startedAt.set(id, Date.now());
      } else if (event === "completed" || event === "failed" || event === "cancelled") {
        const t0 = startedAt.get(id);
        if (t0 !== undefined) {
          startedAt.delete(id);
          d.jobDuration.observe({ algorithm, outcome: event }, (Date.now() - t0) / 1000);
        }
      }
    } else if (input.data.$case === "upload" && type.startsWith("upload.")) {
      const outcome = type.slice(7);
      if (outcome === "progress") return;
      d.uploads.inc({ outcome });
      if (outcome === "completed") d.uploadBytes.inc({ format: input.data.value.format || "unknown" }, Number(input.data.value.bytes) || 0);
    }
  };
}

/** A gRPC server interceptor counting every call of `m`'s service. */
function rpcInterceptor(m: Pick<ServiceMetrics, "rpcInFlight" | "observeRpc">): ServerInterceptor {
  return (descriptor, call) => {
    const method = descriptor.path.replace(/^\//, "");
    const t0 = process.hrtime.bigint();
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      m.rpcInFlight.dec({ method });
      m.observeRpc(method, code, Number(process.hrtime.bigint() - t0) / 1e9);
    };
    m.rpcInFlight.inc({ method });
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => finish(GrpcStatus.CANCELLED) }),
      sendStatus: (st, next) => {
        finish(st.code ?? GrpcStatus.UNKNOWN);
        next(st);
      },
    });
  };
}

export function createMetrics(service: string, opts: { defaults?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: "tda_" });
  const rpc = rpcMetrics(registry);
  const domain = { ...jobAndUploadMetrics(registry), ...eventMetrics(registry) };
  const m: ServiceMetrics = {
    service,
    registry,
    ...rpc,
    ...domain,
    produceError: () => domain.kafkaProduceErrors.inc(),
    deadLettered: (reason) => domain.eventsDeadLettered.inc({ reason }),
    fencedOff: () => domain.outboxFencedOff.inc(),
    trackOutbox: outboxGauges(registry),
    observeRpc(method, code, seconds) {
      const c = grpcCodeName(code);
      rpc.rpcRequests.inc({ method, code: c });
      rpc.rpcDuration.observe({ method, code: c }, seconds);
    },
    observeEvent: eventObserver(domain),
    addGauge(name, help, label, read) {
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers: [registry],
        async collect() {
          for (const [value, n] of Object.entries(await read())) this.set({ [label]: value }, n);
        },
      });
    },
    interceptor: () => rpcInterceptor(m),
    text: () => registry.metrics(),
  };
  return m;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format 0.0.4) on host:port; port 0 picks a free one. */
export function startMetricsServer(m: ServiceMetrics, host: string, port: number, log?: Logger): Promise<MetricsServer> {
  const server: HttpServer = createHttpServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    m.text().then(
      (body) => {
        res.writeHead(200, { "content-type": m.registry.contentType });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        log?.error({ err }, "metrics collection failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      const bound = typeof addr === "object" && addr ? addr.port : port;
      log?.info({ port: bound }, "metrics listening");
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/**
 * The usual wiring of a service's main.ts: with a metrics port > 0, creates
 * the metrics (to pass to the server and event bus) and starts the HTTP
 * server; with 0 does nothing.
 */
export async function setupMetrics(
  service: string,
  host: string,
  port: number,
  log?: Logger,
): Promise<{ metrics: ServiceMetrics; server: MetricsServer } | undefined> {
  if (port <= 0) return undefined;
  const metrics = createMetrics(service);
  const server = await startMetricsServer(metrics, host, port, log);
  return { metrics, server };
}
