// Plain HTTP calls against the REST proxy, as any REST user would make them.

export interface RestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface RestOptions {
  key?: string;
  bearer?: string;
  body?: unknown;
  raw?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function restCall(base: string, method: string, path: string, o: RestOptions = {}): Promise<RestResponse> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.key) headers["x-api-key"] = o.key;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  let body: string | Uint8Array | undefined;
  if (o.raw !== undefined) {
    body = o.raw;
    headers["content-type"] = o.contentType ?? "application/octet-stream";
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 60_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A client bound to one base URL and credential. */
export function restClient(base: string, auth: { key?: string; bearer?: string } = {}) {
  return {
    get: (path: string, o: RestOptions = {}) => restCall(base, "GET", path, { ...auth, ...o }),
    post: (path: string, body?: unknown, o: RestOptions = {}) => restCall(base, "POST", path, { ...auth, body, ...o }),
    del: (path: string, o: RestOptions = {}) => restCall(base, "DELETE", path, { ...auth, ...o }),
    upload: (path: string, raw: Buffer | string, contentType: string, o: RestOptions = {}) => restCall(base, "POST", path, { ...auth, raw, contentType, ...o }),
  };
}

/** Reads an NDJSON stream to its end; returns the parsed lines. */
export async function ndjson(
  url: string,
  headers: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ status: number; contentType: string | null; lines: unknown[] }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const lines: unknown[] = [];
  if (!res.body) return { status: res.status, contentType: res.headers.get("content-type"), lines };
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line !== "") lines.push(JSON.parse(line));
    }
  }
  if (buf.trim() !== "") lines.push(JSON.parse(buf));
  return { status: res.status, contentType: res.headers.get("content-type"), lines };
}

/** Every `get:|post:|delete:|put:|patch:` path of the google.api.http annotations in a proto file. */
export function annotatedPaths(protoText: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const m of protoText.matchAll(/\b(get|post|put|delete|patch)\s*:\s*"([^"]+)"/g)) out.push({ method: m[1]!, path: m[2]! });
  return out;
}
