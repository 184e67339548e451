import { pbJobs, pbUpload } from "@tda/common";
import { api, uploadBytes, type Gateway } from "./client";

// Job helpers over the gateway for the scheduler suites.

export const { JobState } = pbJobs;

/** n random points in [0,1)^dim as CSV. */
export function randomCsv(n: number, dim: number, seed = Math.random()): Buffer {
  // small deterministic generator so a seed gives the same bytes
  let s = Math.floor(seed * 2 ** 31) || 1;
  const next = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
  const rows: string[] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: dim }, () => next().toFixed(6)).join(","));
  return Buffer.from(rows.join("\n") + "\n");
}

export async function uploadCloud(gw: Gateway, n: number, dim: number, seed?: number): Promise<string> {
  const res = await uploadBytes(gw, `cloud-${n}x${dim}.csv`, pbUpload.DataFormat.DATA_FORMAT_CSV, randomCsv(n, dim, seed));
  return res.dataset!.datasetId;
}

export interface RipsOpts {
  maxDim?: number;
  threshold?: number;
  idempotencyKey?: string;
  deadlineSeconds?: number;
}

export async function submitRips(gw: Gateway, datasetId: string, o: RipsOpts = {}): Promise<pbJobs.Job> {
  const res = await api(gw).computeVietorisRips({
    datasetId,
    maxDim: o.maxDim ?? 1,
    threshold: o.threshold,
    modulus: 0,
    priority: 0,
    idempotencyKey: o.idempotencyKey ?? "",
    deadlineSeconds: o.deadlineSeconds ?? 0,
    threads: 0,
  });
  return res.job!;
}

export async function getJob(gw: Gateway, jobId: string): Promise<pbJobs.Job> {
  return (await api(gw).getJob({ jobId })).job!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value (not undefined); throws with `what` after the timeout. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}

const TERMINAL = new Set<number>([JobState.JOB_STATE_COMPLETED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);
export const isTerminalState = (s: pbJobs.JobState): boolean => TERMINAL.has(s);

/** Waits until every job is terminal; returns their final records (same order). */
export async function waitTerminal(gw: Gateway, jobIds: string[], timeoutMs = 120000): Promise<pbJobs.Job[]> {
  const done = new Map<string, pbJobs.Job>();
  await waitFor(
    `${jobIds.length} jobs to finish`,
    async () => {
      const pending = jobIds.filter((id) => !done.has(id));
      for (let i = 0; i < pending.length; i += 20) {
        const jobs = await Promise.all(pending.slice(i, i + 20).map((id) => getJob(gw, id)));
        for (const j of jobs) if (isTerminalState(j.state)) done.set(j.jobId, j);
      }
      return done.size === jobIds.length ? true : undefined;
    },
    timeoutMs,
    500,
  );
  return jobIds.map((id) => done.get(id)!);
}

/** Env for startMesh: no fixed-port metrics listeners (several meshes may run at once). */
export const NO_METRICS_PORTS: Record<string, string> = { GATEWAY_METRICS_PORT: "0", UPLOAD_METRICS_PORT: "0", SCHEDULER_METRICS_PORT: "0" };
