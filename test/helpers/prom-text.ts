// A strict reader of the Prometheus text exposition format (0.0.4), enough to
// check that what a /metrics endpoint serves would be accepted by a scraper:
// HELP/TYPE lines, metric and label names, escaped label values, float
// values, one TYPE per family declared before its samples, histogram
// buckets cumulative with a +Inf bucket equal to _count.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string, line: number): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value "${s}"`);
  return Number(s);
}

function parseLabels(body: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    if (eq < 0) throw new Error(`line ${line}: label without '='`);
    const name = body.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (body[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let value = "";
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === "\\") {
        const n = body[++j];
        if (n === "n") value += "\n";
        else if (n === "\\" || n === '"') value += n;
        else throw new Error(`line ${line}: bad escape \\${n}`);
      } else value += body[j];
    }
    if (j >= body.length) throw new Error(`line ${line}: unterminated label value`);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name] = value;
    i = j + 1;
    if (body[i] === ",") i++;
    else if (i < body.length) throw new Error(`line ${line}: expected ',' between labels`);
  }
  return labels;
}

function familyOf(name: string, types: Map<string, string>): string {
  for (const suffix of ["_bucket", "_sum", "_count", "_total", ""]) {
    if (suffix && !name.endsWith(suffix)) continue;
    const base = suffix ? name.slice(0, -suffix.length) : name;
    if (types.has(base)) return base;
  }
  return name;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seenSamples = new Set<string>();
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  text.split("\n").forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
      if (!m) return; // plain comment
      if (!NAME.test(m[2]!)) throw new Error(`line ${line}: bad metric name "${m[2]}"`);
      if (m[1] === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(m[3] ?? "")) throw new Error(`line ${line}: bad type "${m[3]}"`);
        if (types.has(m[2]!)) throw new Error(`line ${line}: second TYPE for ${m[2]}`);
        if (samples.some((s) => familyOf(s.name, types) === m[2])) throw new Error(`line ${line}: TYPE after samples of ${m[2]}`);
        types.set(m[2]!, m[3]!);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const labels = m[3] ? parseLabels(m[3], line) : {};
    const value = parseValue(m[4]!, line);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSamples.has(key)) throw new Error(`line ${line}: duplicate sample ${key}`);
    seenSamples.add(key);
    samples.push({ name: m[1]!, labels, value });
  });
  // Histograms: buckets cumulative, +Inf present and equal to _count.
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const k = JSON.stringify(Object.entries(rest).sort());
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, buckets] of groups) {
      const sorted = [...buckets].sort((a, b) => parseValue(a.labels.le!, 0) - parseValue(b.labels.le!, 0));
      for (let i = 1; i < sorted.length; i++) if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${family}${k}: buckets not cumulative`);
      const inf = sorted.at(-1)!;
      if (inf.labels.le !== "+Inf") throw new Error(`${family}${k}: no +Inf bucket`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k);
      if (!count || count.value !== inf.value) throw new Error(`${family}${k}: _count differs from the +Inf bucket`);
    }
  }
  return { types, samples };
}

/** Sum of the samples of `name` whose labels include `match`. */
export function sumOf(e: Exposition, name: string, match: Record<string, string> = {}): number {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
