import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { channelOptions, insecure, pbJobs, pbUpload, TENANT_KEY } from "@tda/common";

// Helpers of the scheduler's integration tests: real engine processes, a real
// upload service, promisified clients.

export const REPO = join(__dirname, "..", "..", "..");
export const ENGINE_BIN = join(REPO, "engine-cpp", "build", "tda-engine");
export const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6390";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EngineProcess {
  address: string;
  proc: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Spawns `tda-engine serve --port P` (a free port unless given) and waits for "listening on". */
export async function startEngine(extraArgs: string[] = [], atPort?: number): Promise<EngineProcess> {
  if (!existsSync(ENGINE_BIN)) throw new Error(`engine binary missing: ${ENGINE_BIN} (build engine-cpp first)`);
  const port = atPort ?? (await freePort());
  const proc = spawn(ENGINE_BIN, ["serve", "--port", String(port), ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`engine did not start within 15 s:\n${err}`)), 15_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/listening on/i.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`engine exited with ${code}:\n${err}`));
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    proc,
    stderr: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 5000).unref();
      }),
  };
}

export function tenantMd(tenant: string): Metadata {
  const md = new Metadata();
  md.set(TENANT_KEY, tenant);
  return md;
}

/** Uploads raw float64 points (row-major) for `tenant`; returns the dataset. */
export function uploadPoints(address: string, tenant: string, points: number[][], name = "points"): Promise<pbUpload.Dataset> {
  const dim = points[0]!.length;
  const buf = Buffer.alloc(points.length * dim * 8);
  points.forEach((p, i) => p.forEach((x, j) => buf.writeDoubleLE(x, (i * dim + j) * 8)));
  return uploadBytes(address, tenant, buf, pbUpload.DataFormat.DATA_FORMAT_RAW_FLOAT64, dim, name);
}

/** Uploads a file's bytes in the given format for `tenant`; returns the dataset. */
export function uploadBytes(address: string, tenant: string, buf: Buffer, format: pbUpload.DataFormat, dim = 0, name = "data"): Promise<pbUpload.Dataset> {
  const client = new pbUpload.UploadServiceClient(address, insecure(), channelOptions);
  return new Promise((resolve, reject) => {
    const call = client.upload(tenantMd(tenant), (err: ServiceError | null, res?: pbUpload.UploadResponse) => {
      client.close();
      if (err) reject(err);
      else resolve(res!.dataset!);
    });
    call.write({ msg: { $case: "header", value: pbUpload.UploadHeader.fromPartial({ name, format, dim, totalBytes: buf.length }) } });
    call.write({ msg: { $case: "chunk", value: buf } });
    call.end();
  });
}

/** Points on a circle of radius 1 with a little noise (unique content per call). */
export function noisyCircle(n: number, noise = 0.01): number[][] {
  return Array.from({ length: n }, (_, i) => {
    const a = (2 * Math.PI * i) / n;
    return [Math.cos(a) + noise * (Math.random() - 0.5), Math.sin(a) + noise * (Math.random() - 0.5)];
  });
}

export function randomCloud(n: number, dim: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: dim }, () => Math.random()));
}

type Unary<Req, Res> = (req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export function call<Req, Res>(fn: Unary<Req, Res>, req: Req, tenant: string): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, tenantMd(tenant), (err, res) => (err ? reject(err) : resolve(res))));
}

export function jobsApi(client: pbJobs.JobServiceClient, tenant: string) {
  const u = <Req, Res>(fn: Unary<Req, Res>, req: Req) => call<Req, Res>(fn, req, tenant);
  return {
    submit: (req: pbJobs.DeepPartial<pbJobs.SubmitJobRequest>) =>
      u<pbJobs.SubmitJobRequest, pbJobs.SubmitJobResponse>(client.submitJob.bind(client), pbJobs.SubmitJobRequest.fromPartial(req)).then((r) => r.job!),
    get: (jobId: string) => u<pbJobs.GetJobRequest, pbJobs.GetJobResponse>(client.getJob.bind(client), { jobId }).then((r) => r.job!),
    list: (req: pbJobs.DeepPartial<pbJobs.ListJobsRequest>) =>
      u<pbJobs.ListJobsRequest, pbJobs.ListJobsResponse>(client.listJobs.bind(client), pbJobs.ListJobsRequest.fromPartial(req)),
    cancel: (jobId: string) => u<pbJobs.CancelJobRequest, pbJobs.CancelJobResponse>(client.cancelJob.bind(client), { jobId }).then((r) => r.job!),
    result: (jobId: string) => u<pbJobs.GetResultRequest, pbJobs.GetResultResponse>(client.getResult.bind(client), { jobId }),
    /** Every update WatchJob sends until the stream ends. */
    watch: (jobId: string, timeoutMs = 60_000) =>
      new Promise<pbJobs.JobUpdate[]>((resolve, reject) => {
        const out: pbJobs.JobUpdate[] = [];
        const stream = client.watchJob({ jobId }, tenantMd(tenant), { deadline: Date.now() + timeoutMs });
        stream.on("data", (r: pbJobs.WatchJobResponse) => out.push(r.update!));
        stream.on("error", reject);
        stream.on("end", () => resolve(out));
      }),
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
