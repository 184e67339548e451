// What the serving proxy offers beyond the core API (assets/config.json,
// written by the proxy at start): asked once, shared by the views.

export interface Features {
  /** GET /api/v1/tda/jobs/{job_id}/trace is served. */
  trace: boolean;
}

let pending: Promise<Features> | undefined;

export function features(): Promise<Features> {
  pending ??= fetch("assets/config.json")
    .then((r): Promise<Partial<Features>> | Partial<Features> => (r.ok ? (r.json() as Promise<Partial<Features>>) : {}))
    .then((f) => ({ trace: f.trace === true }))
    .catch(() => ({ trace: false }));
  return pending;
}
