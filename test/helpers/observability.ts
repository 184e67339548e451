import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./mesh";

// What deploy/observability (alert rules, Grafana dashboard) asks Prometheus for.

export const OBSERVABILITY_DIR = join(ROOT, "deploy/observability");

export function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(join(OBSERVABILITY_DIR, "grafana-dashboard.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
  return d.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

/** The mesh's own metric families (tda_*) that the alerts and the dashboard query. */
export function queriedMeshMetrics(): string[] {
  const rules = readFileSync(join(OBSERVABILITY_DIR, "alerts.yml"), "utf8")
    .split("\n")
    .filter((l) => !l.trim().startsWith("#"))
    .join("\n");
  const text = rules + "\n" + dashboardExprs().join("\n");
  const names = new Set<string>();
  for (const m of text.matchAll(/\b(tda_[a-z0-9_]+)/g)) {
    const name = m[1]!.replace(/_(bucket|sum|count)$/, "");
    // topic names quoted in label matchers are not metrics
    if (!/^tda_(jobs|results|events|uploads|errors|stream_features)$/.test(name) && !name.endsWith("_")) names.add(name);
  }
  return [...names].sort();
}
