// Small formatting helpers shared by the views.

export function bytes(n: number | string | undefined): string {
  const v = Number(n ?? 0);
  if (!Number.isFinite(v) || v <= 0) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x >= 100 || i === 0 ? x.toFixed(0) : x.toFixed(1)} ${units[i]}`;
}

export function count(n: number | string | undefined): string {
  return Number(n ?? 0).toLocaleString("en-US");
}

export function num(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(3) : Number(v.toPrecision(6)).toString();
}

export function seconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function when(ts: string | undefined): string {
  if (!ts) return "—";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return "—";
  return d.toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" });
}

/** JOB_STATE_COMPLETED -> completed, ALGORITHM_RIPS -> rips, STAGE_DIM0 -> dim0. */
export function enumLabel(v: string | undefined, prefix: string): string {
  if (!v) return "—";
  return (v.startsWith(prefix) ? v.slice(prefix.length) : v).toLowerCase().replace(/_/g, " ");
}

export function shortId(id: string): string {
  return id.length > 18 ? `${id.slice(0, 16)}…` : id;
}
