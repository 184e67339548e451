import { createHash, randomUUID } from "node:crypto";
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import {
  channelOptions,
  createLogger,
  decodeDetails,
  insecure,
  invalidArgument,
  notFound,
  pbCommon,
  pbGateway,
  pbJobs,
  pbUpload,
  TdaError,
  toServiceError,
  writeWithDrain,
} from "@tda/common";
import { loadConfig } from "./config";
import { startGatewayServer, type RunningGateway } from "./server";

// The gateway's forwarding, observed from both ends. The upstreams here are
// small gRPC servers speaking the real tda.jobs.v1 / tda.upload.v1 contracts
// so the test can see exactly what the gateway sends them (tenant, trace
// context, deadlines, cancellation, back-pressure). Redis is the real one of
// the test run (REDIS_URL). The real services behind the gateway are covered
// by the end-to-end suite in test/.

jest.setTimeout(60_000);

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9192";

interface Seen {
  md?: Metadata;
  deadline?: number;
  submit?: pbJobs.SubmitJobRequest;
}

/** Per-test behaviour of the upstreams; each test sets what it needs. */
interface Behaviour {
  getJob?: (call: ServerUnaryCall<pbJobs.GetJobRequest, pbJobs.GetJobResponse>, cb: sendUnaryData<pbJobs.GetJobResponse>) => void;
  watchJob?: (call: ServerWritableStream<pbJobs.WatchJobRequest, pbJobs.WatchJobResponse>) => void;
  upload?: (call: ServerReadableStream<pbUpload.UploadRequest, pbUpload.UploadResponse>, cb: sendUnaryData<pbUpload.UploadResponse>) => void;
}

let seen: Seen = {};
let behaviour: Behaviour = {};

function record(call: { metadata: Metadata; getDeadline(): Date | number }): void {
  const d = call.getDeadline();
  seen.md = call.metadata;
  seen.deadline = d instanceof Date ? d.getTime() : d;
}

const unimplemented = { code: status.UNIMPLEMENTED, details: "not in this test" };

const jobsImpl: pbJobs.JobServiceServer = {
  submitJob(call, cb) {
    record(call);
    seen.submit = call.request;
    cb(null, {
      job: pbJobs.Job.fromPartial({ jobId: "job-1", datasetId: call.request.datasetId, params: call.request.params, state: pbJobs.JobState.JOB_STATE_QUEUED }),
    });
  },
  getJob(call, cb) {
    record(call);
    if (behaviour.getJob) return behaviour.getJob(call, cb);
    cb(null, { job: pbJobs.Job.fromPartial({ jobId: call.request.jobId }) });
  },
  listJobs: (_call, cb) => cb(unimplemented),
  estimateJob: (_call, cb) => cb(unimplemented),
  getLimits: (_call, cb) => cb(unimplemented),
  diagramDistance: (_call, cb) => cb(unimplemented),
  vectorize: (_call, cb) => cb(unimplemented),
  watchJob(call) {
    record(call);
    if (behaviour.watchJob) return behaviour.watchJob(call);
    call.end();
  },
  cancelJob: (_call, cb) => cb(unimplemented),
  getResult(call) {
    // Never answers: the gateway's own deadline must end the call.
    record(call);
  },
};

const uploadImpl: pbUpload.UploadServiceServer = {
  upload(call, cb) {
    record(call);
    if (behaviour.upload) return behaviour.upload(call, cb);
    cb(unimplemented);
  },
  getDataset(call, cb) {
    record(call);
    cb(toServiceError(notFound(`dataset ${call.request.datasetId}`)));
  },
  listDatasets: (_call, cb) => cb(null, { datasets: [], nextPageToken: "" }),
  deleteDataset: (_call, cb) => cb(unimplemented),
  lookupDatasets: (call) => call.end(),
  readPoints: (call) => call.end(),
};

function bindServer(server: Server): Promise<number> {
  return new Promise((res, rej) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
}

let upstream: Server;
let upstreamPort: number;
let gateway: RunningGateway;
let client: pbGateway.TdaServiceClient;

function startGateway(downstreamTimeoutMs: number, extra: Record<string, string> = {}): Promise<RunningGateway> {
  const config = loadConfig({
    GATEWAY_PORT: "0",
    UPLOAD_ADDRESS: `127.0.0.1:${upstreamPort}`,
    SCHEDULER_ADDRESS: `127.0.0.1:${upstreamPort}`,
    GATEWAY_API_KEYS: "key1:tenantA,key2:tenantB",
    GATEWAY_DOWNSTREAM_TIMEOUT_MS: String(downstreamTimeoutMs),
    REDIS_URL,
    KAFKA_BROKERS,
    LOG_LEVEL: "silent",
    ...extra,
  });
  return startGatewayServer(config, createLogger("gateway-test", "silent"));
}

beforeAll(async () => {
  upstream = new Server(channelOptions);
  upstream.addService(pbJobs.JobServiceService, jobsImpl);
  upstream.addService(pbUpload.UploadServiceService, uploadImpl);
  new HealthImplementation({ "": "SERVING" }).addToServer(upstream);
  const port = await bindServer(upstream);
  upstreamPort = port;
  gateway = await startGateway(30_000);
  client = new pbGateway.TdaServiceClient(`127.0.0.1:${gateway.port}`, insecure(), channelOptions);
});

afterAll(async () => {
  client?.close();
  await gateway?.close(1000);
  upstream?.forceShutdown();
});

beforeEach(() => {
  seen = {};
  behaviour = {};
});

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

function md(extra: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  m.set("x-api-key", "key1");
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
}

/** A unary call that also returns the response headers. */
function unary<Req, Res>(
  method: (req: Req, md: Metadata, opts: object, cb: (e: ServiceError | null, r: Res) => void) => { on(ev: "metadata", fn: (m: Metadata) => void): unknown },
  req: Req,
  meta = md(),
): Promise<{ res?: Res; err?: ServiceError; headers?: Metadata }> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    const call = method.call(client, req, meta, { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ? { err, headers } : { res, headers }));
    call.on("metadata", (m) => (headers = m));
  });
}

const ripsRequest = (over: Partial<pbGateway.ComputeVietorisRipsRequest> = {}): pbGateway.ComputeVietorisRipsRequest => ({
  datasetId: "ds-1",
  maxDim: 2,
  threshold: 1.5,
  modulus: 3,
  priority: 7,
  idempotencyKey: "idem",
  deadlineSeconds: 60,
  threads: 2,
  ...over,
});

async function until(fn: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("unary forwarding", () => {
  it("submits Rips with the gateway's tenant (not the client's), the caller's trace and a deadline", async () => {
    const before = Date.now();
    const { res, headers } = await unary(
      client.computeVietorisRips,
      ripsRequest(),
      md({ "x-tenant-id": "tenantB", traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` }),
    );
    expect(res?.job?.jobId).toBe("job-1");
    expect(seen.submit).toEqual({
      datasetId: "ds-1",
      params: { algorithm: pbCommon.Algorithm.ALGORITHM_RIPS, maxDim: 2, threshold: 1.5, modulus: 3, threads: 2, alphaRadius: false, maxAlpha: undefined },
      priority: 7,
      idempotencyKey: "idem",
      deadlineSeconds: 60,
    });
    expect(seen.md?.get("x-tenant-id")).toEqual(["tenantA"]);
    expect(seen.md?.get("x-api-key")).toEqual([]);
    expect(String(seen.md?.get("traceparent")[0])).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    expect(headers?.get("x-trace-id")).toEqual([TRACE_ID]);
    expect(seen.deadline).toBeGreaterThan(before);
    expect(seen.deadline).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it("submits Alpha with its own parameters", async () => {
    const { res } = await unary(client.computeAlphaComplex, {
      datasetId: "ds-2",
      maxDim: 2,
      radius: true,
      maxAlpha: 4,
      priority: 0,
      idempotencyKey: "",
      deadlineSeconds: 0,
    });
    expect(res?.job?.jobId).toBe("job-1");
    expect(seen.submit?.params).toEqual({
      algorithm: pbCommon.Algorithm.ALGORITHM_ALPHA,
      maxDim: 2,
      threshold: undefined,
      modulus: 0,
      threads: 0,
      alphaRadius: true,
      maxAlpha: 4,
    });
  });

  it("starts a new trace when the caller sends none, and reports it", async () => {
    const { headers } = await unary(client.getJob, { jobId: "j" });
    const traceId = String(headers?.get("x-trace-id")[0]);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(String(seen.md?.get("traceparent")[0]).split("-")[1]).toBe(traceId);
  });

  it("refuses bad input itself, with every field violation, and calls nobody", async () => {
    const { err } = await unary(client.computeVietorisRips, ripsRequest({ datasetId: "", maxDim: 12, modulus: 6 }));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(
      decodeDetails(err!)
        .badRequest?.fieldViolations.map((v) => v.field)
        .sort(),
    ).toEqual(["dataset_id", "max_dim", "modulus"]);
    expect(seen.submit).toBeUndefined();
  });

  it("refuses a missing or unknown API key with UNAUTHENTICATED and calls nobody", async () => {
    const none = await unary(client.getJob, { jobId: "j" }, new Metadata());
    expect(none.err?.code).toBe(status.UNAUTHENTICATED);
    const wrong = await unary(client.getJob, { jobId: "j" }, md({ "x-api-key": "key9" }));
    expect(wrong.err?.code).toBe(status.UNAUTHENTICATED);
    expect(seen.md).toBeUndefined();
  });

  it("accepts the key as a bearer token", async () => {
    const m = new Metadata();
    m.set("authorization", "Bearer key2");
    await unary(client.getJob, { jobId: "j" }, m);
    expect(seen.md?.get("x-tenant-id")).toEqual(["tenantB"]);
  });

  it("passes upstream errors through unchanged: code, message and google.rpc details", async () => {
    behaviour.getJob = (_call, cb) =>
      cb(
        toServiceError(
          new TdaError(status.RESOURCE_EXHAUSTED, "quota of running jobs reached", { reason: "QUOTA_EXCEEDED", metadata: { limit: "4" }, retryAfterMs: 2000 }),
        ),
      );
    const { err } = await unary(client.getJob, { jobId: "j" });
    expect([err?.code, err?.details]).toEqual([status.RESOURCE_EXHAUSTED, "quota of running jobs reached"]);
    const d = decodeDetails(err!);
    expect(d.errorInfo?.reason).toBe("QUOTA_EXCEEDED");
    expect(d.errorInfo?.metadata).toEqual({ limit: "4" });
    expect(d.retryInfo?.retryDelay?.seconds).toBe(2);

    behaviour.getJob = (_call, cb) => cb(toServiceError(invalidArgument("job id has a bad shape", [{ field: "job_id", description: "not a job id" }])));
    const bad = await unary(client.getJob, { jobId: "j" });
    expect(bad.err?.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeDetails(bad.err!).badRequest?.fieldViolations[0]?.field).toBe("job_id");

    const missing = await unary(client.getDataset, { dataId: "nope" });
    expect([missing.err?.code, missing.err?.details, decodeDetails(missing.err!).errorInfo?.reason]).toEqual([
      status.NOT_FOUND,
      "dataset nope not found",
      "NOT_FOUND",
    ]);
    expect(seen.md?.get("x-tenant-id")).toEqual(["tenantA"]);
  });

  it("ends a downstream call that takes longer than GATEWAY_DOWNSTREAM_TIMEOUT_MS", async () => {
    const quick = await startGateway(300);
    const quickClient = new pbGateway.TdaServiceClient(`127.0.0.1:${quick.port}`, insecure(), channelOptions);
    try {
      const start = Date.now();
      const err = await new Promise<ServiceError | null>((resolve) =>
        quickClient.getResult({ jobId: "slow" }, md(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)),
      );
      expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(decodeDetails(err!).errorInfo?.reason).toBe("UPSTREAM_TIMEOUT");
      expect(Date.now() - start).toBeLessThan(3_000);
    } finally {
      quickClient.close();
      await quick.close(1000);
    }
  });

  it("cancels the downstream call when the client cancels", async () => {
    let upstreamCancelled = false;
    behaviour.getJob = (call) => call.once("cancelled", () => (upstreamCancelled = true));
    const call = client.getJob({ jobId: "j" }, md(), () => undefined);
    await until(() => seen.md !== undefined);
    call.cancel();
    await until(() => upstreamCancelled);
  });
});

describe("quota", () => {
  it("refuses submissions over GATEWAY_RATE_LIMIT with RESOURCE_EXHAUSTED, RATE_LIMITED and a retry delay", async () => {
    const limited = await startGateway(30_000, {
      GATEWAY_API_KEYS: `key1:quota-${randomUUID().slice(0, 8)}`,
      GATEWAY_RATE_LIMIT: "2",
      GATEWAY_RATE_WINDOW_MS: "600000",
    });
    const c = new pbGateway.TdaServiceClient(`127.0.0.1:${limited.port}`, insecure(), channelOptions);
    const submit = () => new Promise<ServiceError | null>((resolve) => c.computeVietorisRips(ripsRequest(), md(), (e) => resolve(e)));
    try {
      expect(await submit()).toBeNull();
      expect(await submit()).toBeNull();
      seen = {};
      const err = await submit();
      expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
      const d = decodeDetails(err!);
      expect(d.errorInfo?.reason).toBe("RATE_LIMITED");
      expect(d.retryInfo?.retryDelay?.seconds).toBeGreaterThan(0);
      expect(seen.submit).toBeUndefined();
    } finally {
      c.close();
      await limited.close(1000);
    }
  });
});

describe("WatchJob", () => {
  const update = (seq: number, text = ""): pbJobs.WatchJobResponse => ({
    update: pbJobs.JobUpdate.fromPartial({ jobId: "j", eventType: "job.progress", state: pbJobs.JobState.JOB_STATE_RUNNING, sequence: seq, message: text }),
  });

  /** The sequence numbers a client watching job "j" through the gateway receives until the stream ends. */
  const watchSequences = (): Promise<number[]> =>
    new Promise((resolve, reject) => {
      const got: number[] = [];
      const s = client.watchJob({ jobId: "j" }, md());
      s.on("data", (r: pbGateway.WatchJobResponse) => got.push(r.update!.sequence));
      s.on("error", reject);
      s.on("end", () => resolve(got));
    });

  it("passes every update through in order and ends when the upstream ends", async () => {
    behaviour.watchJob = (call) => {
      for (let i = 1; i <= 5; i++) call.write(update(i));
      call.end();
    };
    const got = await watchSequences();
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(seen.md?.get("x-tenant-id")).toEqual(["tenantA"]);
  });

  it("passes an upstream error through after the updates sent before it", async () => {
    behaviour.watchJob = (call) => {
      call.write(update(1));
      call.emit("error", toServiceError(notFound("job j")));
    };
    const got: number[] = [];
    const err = await new Promise<ServiceError>((resolve) => {
      const s = client.watchJob({ jobId: "j" }, md());
      s.on("data", (r: pbGateway.WatchJobResponse) => got.push(r.update!.sequence));
      s.on("error", resolve);
    });
    expect(got).toEqual([1]);
    expect([err.code, err.details]).toEqual([status.NOT_FOUND, "job j not found"]);
  });

  it("cancels the upstream stream when the client goes away", async () => {
    let upstreamCancelled = false;
    behaviour.watchJob = (call) => {
      call.write(update(1));
      call.once("cancelled", () => (upstreamCancelled = true));
    };
    const s = client.watchJob({ jobId: "j" }, md());
    s.on("error", () => undefined);
    await new Promise<void>((resolve) => s.once("data", () => resolve()));
    s.cancel();
    await until(() => upstreamCancelled);
  });

  it("watches again when the connection under the upstream stream fails, without repeating updates", async () => {
    let calls = 0;
    behaviour.watchJob = (call) => {
      calls++;
      call.write(update(1));
      call.write(update(2));
      if (calls === 1) {
        // what grpc-js reports when the HTTP/2 session under the call is closed
        call.emit("error", {
          code: status.INTERNAL,
          details: "Received RST_STREAM with code 2 triggered by internal client error: Session closed with error code 2",
        });
        return;
      }
      call.write({ update: { ...update(3).update!, state: pbJobs.JobState.JOB_STATE_COMPLETED } });
      call.end();
    };
    const got = await watchSequences();
    expect(calls).toBe(2);
    expect(got).toEqual([1, 2, 3]);
  });

  it("lets an upstream that sent the terminal update end by itself when the client cancels", async () => {
    let upstreamCancelled = false; // before it ended
    let upstreamEnded = false;
    behaviour.watchJob = (call) => {
      // (grpc-js also reports "cancelled" once a stream that ended is closed)
      call.once("cancelled", () => (upstreamCancelled = !upstreamEnded));
      call.write({ update: { ...update(1).update!, state: pbJobs.JobState.JOB_STATE_COMPLETED } });
      setTimeout(() => {
        call.end();
        upstreamEnded = true;
      }, 300);
    };
    const s = client.watchJob({ jobId: "j" }, md());
    s.on("error", () => undefined);
    await new Promise<void>((resolve) => s.once("data", () => resolve()));
    s.cancel();
    await until(() => upstreamEnded);
    await new Promise((r) => setTimeout(r, 100));
    expect(upstreamCancelled).toBe(false);
  });

  it("holds the upstream back while the client does not read (no unbounded buffering)", async () => {
    const big = "x".repeat(64 * 1024);
    const total = 2000; // 128 MiB if it were all buffered
    let written = 0;
    let upstreamDone = false;
    behaviour.watchJob = (call) => {
      void (async () => {
        for (let i = 1; i <= total && !call.cancelled; i++) {
          await writeWithDrain(call, update(i, big));
          written = i;
        }
        if (!call.cancelled) call.end();
        upstreamDone = true;
      })();
    };
    const s = client.watchJob({ jobId: "j" }, md());
    let received = 0;
    s.on("data", () => {
      received++;
      if (received === 1) s.pause();
    });
    await until(() => received === 1);
    await new Promise((r) => setTimeout(r, 1500));
    // Only what the flow-control windows and stream buffers hold may be in flight.
    expect(written).toBeLessThan(400);
    expect(upstreamDone).toBe(false);
    const ended = new Promise<void>((resolve, reject) => {
      s.on("end", resolve);
      s.on("error", reject);
    });
    s.resume();
    await ended;
    expect(received).toBe(total);
  });
});

describe("UploadData", () => {
  const header = (name: string): pbGateway.UploadDataRequest => ({
    msg: {
      $case: "header",
      value: { name, format: pbUpload.DataFormat.DATA_FORMAT_CSV, dim: 0, contentType: "", uploadId: "", resumeOffset: 0, totalBytes: 0 },
    },
  });

  /** An upstream that hashes everything it receives, optionally not reading until `gate` opens. */
  function hashingUpload(gate?: Promise<void>): { bytes: () => number; done: Promise<{ header?: pbUpload.UploadHeader; sha: string }> } {
    let bytes = 0;
    let resolveDone!: (v: { header?: pbUpload.UploadHeader; sha: string }) => void;
    const done = new Promise<{ header?: pbUpload.UploadHeader; sha: string }>((r) => (resolveDone = r));
    behaviour.upload = (call, cb) => {
      const h = createHash("sha256");
      let hdr: pbUpload.UploadHeader | undefined;
      if (gate) {
        call.pause();
        void gate.then(() => call.resume());
      }
      call.on("data", (m: pbUpload.UploadRequest) => {
        if (m.msg?.$case === "header") hdr = m.msg.value;
        else if (m.msg?.$case === "chunk") {
          bytes += m.msg.value.length;
          h.update(m.msg.value);
        }
      });
      call.on("end", () => {
        const sha = h.digest("hex");
        resolveDone({ header: hdr, sha });
        cb(null, { dataset: pbUpload.Dataset.fromPartial({ datasetId: sha.slice(0, 16), sha256: sha, n: 1, dim: 1 }), uploadId: "up-1", deduplicated: false });
      });
    };
    return { bytes: () => bytes, done };
  }

  function startUpload(meta = md()) {
    let resolveRes!: (v: { res?: pbGateway.UploadDataResponse; err?: ServiceError }) => void;
    const result = new Promise<{ res?: pbGateway.UploadDataResponse; err?: ServiceError }>((r) => (resolveRes = r));
    const stream = client.uploadData(meta, (err, res) => resolveRes(err ? { err } : { res }));
    return { stream, result };
  }

  it("streams header and chunks through intact, with the tenant", async () => {
    const up = hashingUpload();
    const { stream, result } = startUpload();
    const data = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    await writeWithDrain(stream, header("cloud.csv"));
    for (let off = 0; off < data.length; off += 1 << 20) await writeWithDrain(stream, { msg: { $case: "chunk", value: data.subarray(off, off + (1 << 20)) } });
    stream.end();
    const { res, err } = await result;
    expect(err).toBeUndefined();
    const got = await up.done;
    expect(got.header?.name).toBe("cloud.csv");
    expect(got.sha).toBe(createHash("sha256").update(data).digest("hex"));
    expect(res?.dataset?.sha256).toBe(got.sha);
    expect(res?.uploadId).toBe("up-1");
    expect(seen.md?.get("x-tenant-id")).toEqual(["tenantA"]);
  });

  it("stops taking data from the client while the upstream does not read", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const up = hashingUpload(gate);
    const { stream, result } = startUpload();
    const chunk = Buffer.alloc(64 * 1024, 1);
    const total = 1024; // 64 MiB
    let written = 0;
    const writer = (async () => {
      await writeWithDrain(stream, header("big.csv"));
      for (let i = 0; i < total; i++) {
        await writeWithDrain(stream, { msg: { $case: "chunk", value: chunk } });
        written++;
      }
      stream.end();
    })();
    await new Promise((r) => setTimeout(r, 1500));
    expect(up.bytes()).toBe(0);
    expect(written).toBeLessThan(256); // far below 64 MiB: the gateway paused the client
    open();
    await writer;
    const { err } = await result;
    expect(err).toBeUndefined();
    expect(up.bytes()).toBe(total * chunk.length);
  });

  it("passes the upstream's rejection through and cancels nothing else", async () => {
    behaviour.upload = (call, cb) => {
      call.once("data", () => cb(toServiceError(invalidArgument("line 3 has 2 values, expected 3", [{ field: "chunk", description: "line 3" }]))));
    };
    const { stream, result } = startUpload();
    stream.write(header("bad.csv"));
    stream.write({ msg: { $case: "chunk", value: Buffer.from("1,2,3\n") } });
    stream.end();
    const { err } = await result;
    expect([err?.code, err?.details]).toEqual([status.INVALID_ARGUMENT, "line 3 has 2 values, expected 3"]);
    expect(decodeDetails(err!).badRequest?.fieldViolations[0]?.field).toBe("chunk");
  });

  it("cancels the upstream upload when the client cancels", async () => {
    let upstreamCancelled = false;
    behaviour.upload = (call) => {
      call.on("data", () => undefined);
      call.once("cancelled", () => (upstreamCancelled = true));
    };
    const { stream, result } = startUpload();
    stream.write(header("gone.csv"));
    await until(() => seen.md !== undefined);
    stream.cancel();
    expect((await result).err?.code).toBe(status.CANCELLED);
    await until(() => upstreamCancelled);
  });
});

describe("streams", () => {
  it("publishes points, counts them per stream and per tenant, and keeps tenants apart", async () => {
    const streamId = `test-${randomUUID()}`;
    const values = await unary(client.publishStream, { streamId, dim: 2, points: Buffer.alloc(0), values: [1, 2, 3, 4, 5, 6] });
    expect(values.res?.points).toBe(3);
    expect(values.res?.eventId).toMatch(/^[0-9a-f-]{36}$/);
    const raw = Buffer.alloc(16);
    raw.writeDoubleLE(0.25, 0);
    raw.writeDoubleLE(0.75, 8);
    const bytes = await unary(client.publishStream, { streamId, dim: 2, points: raw, values: [] });
    expect(bytes.res?.points).toBe(1);

    const mine = await unary(client.getStreamStatus, { streamId });
    expect(mine.res).toMatchObject({ streamId, eventsPublished: 2, pointsPublished: 4, topic: "tda_events" });
    expect(typeof mine.res?.brokerAvailable).toBe("boolean");
    const theirs = await unary(client.getStreamStatus, { streamId }, md({ "x-api-key": "key2" }));
    expect(theirs.res).toMatchObject({ eventsPublished: 0, pointsPublished: 0 });

    // the bad batch is refused whole: nothing counted
    const bad = await unary(client.publishStream, { streamId, dim: 2, points: Buffer.alloc(0), values: [1, 2, Infinity] });
    expect(bad.err?.code).toBe(status.INVALID_ARGUMENT);
    expect((await unary(client.getStreamStatus, { streamId })).res?.eventsPublished).toBe(2);

    await gateway.redis.del(`tda:gateway:stream:tenantA:${streamId}`, "tda:gateway:streams:tenantA");
  });

  it("refuses a batch larger than one event can hold (2.7 MiB) with the field named, and its outbox keeps draining", async () => {
    const streamId = `test-${randomUUID()}`;
    const huge = await unary(client.publishStream, { streamId, dim: 3, points: Buffer.alloc(2.7 * 1024 * 1024 - ((2.7 * 1024 * 1024) % 24)), values: [] });
    expect(huge.err?.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeDetails(huge.err!).badRequest?.fieldViolations.map((v) => v.field)).toEqual(["points"]);
    const small = await unary(client.publishStream, { streamId, dim: 1, points: Buffer.alloc(8), values: [] });
    expect(small.res?.points).toBe(1);
    expect(await gateway.bus.flush(20_000)).toBe(true);
    expect((await gateway.bus.status()).stalled).toBe(false);
    await gateway.redis.del(`tda:gateway:stream:tenantA:${streamId}`, "tda:gateway:streams:tenantA");
  });
});

describe("health", () => {
  it("is SERVING while the upstreams serve", async () => {
    expect(await gateway.monitor.poll()).toBe(true);
  });
});
