// The REST API of tda-mesh as the console uses it: the same routes and JSON as
// any other REST client (field names are the .proto names, 64-bit integers
// are strings, enums are names). Every call carries the stored credential.

import { authHeaders } from "./auth";

export interface FieldViolation {
  field: string;
  description: string;
}

/** An error answer of the API (google.rpc.Status JSON), or a transport failure. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly violations: FieldViolation[] = [],
    readonly reason = "",
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface RpcStatusJson {
  code?: number;
  message?: string;
  details?: { "@type"?: string; field_violations?: FieldViolation[]; reason?: string; metadata?: Record<string, string> }[];
}

/** Reads a google.rpc.Status body (or anything else) into an ApiError. */
export function errorFromBody(status: number, text: string): ApiError {
  let body: RpcStatusJson | undefined;
  try {
    body = JSON.parse(text) as RpcStatusJson;
  } catch {
    body = undefined;
  }
  if (!body || typeof body !== "object") return new ApiError(status, text.trim() || `HTTP ${status}`);
  const violations: FieldViolation[] = [];
  let reason = "";
  let metadata: Record<string, string> = {};
  for (const d of body.details ?? []) {
    const type = d["@type"] ?? "";
    if (type.endsWith("google.rpc.BadRequest")) violations.push(...(d.field_violations ?? []));
    if (type.endsWith("google.rpc.ErrorInfo")) {
      reason = d.reason ?? "";
      metadata = d.metadata ?? {};
    }
  }
  return new ApiError(status, body.message || `HTTP ${status}`, violations, reason, metadata);
}

/** Listeners told when the API answers 401 (the console then asks for a key). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

function noteStatus(status: number): void {
  if (status === 401) for (const fn of unauthorizedListeners) fn();
}

export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders() };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, `the console cannot reach the API: ${(err as Error).message}`);
  }
  noteStatus(res.status);
  if (!res.ok) throw errorFromBody(res.status, await res.text());
  return res;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await request("GET", path, undefined, signal)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await (await request("POST", path, body)).json()) as T;
}

// ---- shapes of the JSON answers (only the fields the console reads) ----

export interface Dataset {
  dataset_id: string;
  name: string;
  format: string;
  n: string;
  dim: number;
  size_bytes?: string;
  created_at?: string;
  kind?: string;
  sha256?: string;
}

export interface Progress {
  stage: string;
  dimension: number;
  columns_done: string;
  columns_total: string;
  fraction: number;
  bytes_in_use: string;
  /** Estimated seconds left (absent early in a run). */
  eta_seconds?: number;
  elapsed_seconds?: number;
}

export interface ComputeParams {
  algorithm: string;
  max_dim: number;
  threshold?: number;
  modulus: number;
  alpha_radius: boolean;
  max_alpha?: number;
}

export interface Job {
  job_id: string;
  dataset_id: string;
  params?: ComputeParams;
  state: string;
  progress?: Progress;
  created_at?: string;
  started_at?: string;
  finished_at?: string;
  error_code: string;
  error_message: string;
  cache_hit: boolean;
  trace_id: string;
  engine: string;
  attempts: number;
}

export interface JobUpdate {
  job_id: string;
  event_type: string;
  state: string;
  progress?: Progress;
  time?: string;
  message: string;
  error_code: string;
  sequence: string;
}

export interface Interval {
  birth: number;
  /** A number, or the string "Infinity" for an essential class. */
  death: number | string;
}

export interface PersistenceDiagramJson {
  dimension: number;
  intervals: Interval[];
}

export interface ComputeStats {
  points: string;
  edges: string;
  elapsed_seconds: number;
  peak_bytes: string;
  threshold_used: number;
  threads: number;
}

export interface ResultJson {
  job_id: string;
  result: { diagrams: PersistenceDiagramJson[]; betti_numbers: string[]; stats?: ComputeStats };
  cache_hit: boolean;
}

export const TERMINAL_STATES = new Set(["JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"]);

export const enc = encodeURIComponent;

export const api = {
  listDatasets: (signal?: AbortSignal) => getJson<{ datasets: Dataset[]; next_page_token: string }>("/api/v1/data?page_size=200", signal),
  getDataset: (id: string) => getJson<{ dataset: Dataset }>(`/api/v1/data/${enc(id)}`),
  deleteDataset: (id: string) => request("DELETE", `/api/v1/data/${enc(id)}`),
  listJobs: (signal?: AbortSignal) => getJson<{ jobs: Job[]; next_page_token: string }>("/api/v1/tda/jobs?page_size=200", signal),
  getJob: (id: string, signal?: AbortSignal) => getJson<{ job: Job }>(`/api/v1/tda/jobs/${enc(id)}`, signal),
  cancelJob: (id: string) => postJson<{ job: Job }>(`/api/v1/tda/jobs/${enc(id)}/cancel`, {}),
  getResult: (id: string, signal?: AbortSignal) => getJson<ResultJson>(`/api/v1/tda/results/${enc(id)}`, signal),
  computeRips: (body: Record<string, unknown>) => postJson<{ job: Job }>("/api/v1/tda/compute/vietoris-rips", body),
  computeAlpha: (body: Record<string, unknown>) => postJson<{ job: Job }>("/api/v1/tda/compute/alpha-complex", body),
  streamStatus: (id: string, signal?: AbortSignal) => getJson<StreamStatus>(`/api/v1/stream/status?stream_id=${enc(id)}`, signal),
  listStreams: (signal?: AbortSignal) => getJson<{ streams: StreamSummary[] }>("/api/v1/stream/streams?page_size=200", signal),
};

/** A JSON double: a number, or "NaN" / "Infinity" / "-Infinity". */
export type JsonDouble = number | string;

export function toNumber(v: JsonDouble | undefined): number {
  if (v === undefined) return NaN;
  return typeof v === "number" ? v : Number(v);
}

export interface DimensionFeatures {
  dimension: number;
  betti: string;
  bars_above_noise: string;
  total_persistence: JsonDouble;
  max_lifetime: JsonDouble;
  entropy: JsonDouble;
  bars: string;
}

export interface StreamFeatures {
  tenant: string;
  stream_id: string;
  window_seq: string;
  window_start_ms: string;
  window_end_ms: string;
  points: string;
  dim: number;
  betti_scale: JsonDouble;
  dimensions: DimensionFeatures[];
  /** Unset for a stream's first window (and until the job computes distances). */
  bottleneck_distance?: JsonDouble;
  wasserstein_distance?: JsonDouble;
  completed_by_published_at?: string;
  engine_seconds: JsonDouble;
  late_points: string;
}

export interface StreamAlert {
  tenant: string;
  stream_id: string;
  window_seq: string;
  change_score: JsonDouble;
  wasserstein_distance: JsonDouble;
  alert_level: JsonDouble;
  previous_score: JsonDouble;
}

export interface StreamConfigJson {
  count?: { size: number; slide: number };
  time?: { size_ms: string; slide_ms: string; watermark_delay_ms: string; allowed_lateness_ms: string };
  max_dim: number;
  threshold?: JsonDouble;
  betti_scale?: JsonDouble;
  noise_level: JsonDouble;
  alert_level?: JsonDouble;
}

export interface StreamJobStatus {
  state: string;
  job_id: string;
  restarts: string;
  last_checkpoint_id: string;
  last_checkpoint_time?: string;
  consumer_lag: string;
}

export interface StreamStatus {
  stream_id: string;
  events_published: string;
  points_published: string;
  topic: string;
  broker_available: boolean;
  config?: StreamConfigJson;
  job?: StreamJobStatus;
  windows_emitted: string;
  last_features?: StreamFeatures;
  last_alert?: StreamAlert;
  features_topic: string;
}

export interface StreamSummary {
  stream_id: string;
  events_published: string;
  points_published: string;
  last_active_at?: string;
  windows_emitted: string;
  last_features?: StreamFeatures;
  last_alert?: StreamAlert;
  configured: boolean;
}

export interface StreamEvent {
  features?: StreamFeatures;
  alert?: StreamAlert;
  cursor: string;
  live: boolean;
}

/**
 * Reads a grpc-gateway server stream (newline-delimited JSON: one
 * {"result": …} per line, or a last {"error": …}) and hands each result to
 * `onResult`. Resolves when the stream ends.
 */
async function followNdjson<T>(path: string, onResult: (r: T) => void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
  const res = await request("GET", path, undefined, signal);
  onOpen?.();
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const line = (text: string): void => {
    const msg = JSON.parse(text) as { result?: T; error?: RpcStatusJson };
    if (msg.error) throw errorFromBody(200, JSON.stringify(msg.error));
    if (msg.result) onResult(msg.result);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const text = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (text !== "") line(text);
    }
  }
  if (buf.trim() !== "") line(buf.trim());
}

/** Follows GET /api/v1/tda/jobs/{id}/watch: each job update to `onUpdate`. */
export function watchJob(id: string, onUpdate: (u: JobUpdate) => void, signal: AbortSignal): Promise<void> {
  return followNdjson<{ update?: JobUpdate }>(`/api/v1/tda/jobs/${enc(id)}/watch`, (r) => r.update && onUpdate(r.update), signal);
}

/**
 * Follows GET /api/v1/stream/watch: the stream's recent windows (`history`)
 * then each new one; with `after` (a cursor received before) it resumes
 * exactly after that event instead.
 */
export function watchStream(
  id: string,
  o: { history: number; after?: string; onOpen?: () => void },
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const q = new URLSearchParams({ stream_id: id, history: String(o.history) });
  if (o.after) q.set("after", o.after);
  return followNdjson<StreamEvent>(`/api/v1/stream/watch?${q.toString()}`, onEvent, signal, o.onOpen);
}

export interface UploadOptions {
  name: string;
  format: string;
  onProgress: (sent: number, total: number) => void;
}

/**
 * Streams a file into POST /api/v1/data/upload/file. XMLHttpRequest rather
 * than fetch: only it reports upload progress in browsers.
 */
export function uploadFile(file: Blob, o: UploadOptions): { done: Promise<{ dataset: Dataset; deduplicated: boolean }>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const q = new URLSearchParams({ name: o.name });
  if (o.format && o.format !== "auto") q.set("format", o.format);
  const done = new Promise<{ dataset: Dataset; deduplicated: boolean }>((resolve, reject) => {
    xhr.open("POST", `/api/v1/data/upload/file?${q.toString()}`);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => o.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      noteStatus(xhr.status);
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
      else reject(errorFromBody(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, "the upload was interrupted (network error)"));
    xhr.onabort = () => reject(new ApiError(0, "the upload was cancelled"));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

/** Fetches a protected file (e.g. an SVG picture) and saves it under `name`. */
export async function download(path: string, name: string): Promise<void> {
  const res = await request("GET", path);
  saveBlob(await res.blob(), name);
}

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
