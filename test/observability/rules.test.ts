import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { dashboardExprs, OBSERVABILITY_DIR as DIR } from "../helpers/observability";

// deploy/observability: the Prometheus alert rules pass `promtool check rules`, their unit
// tests (`promtool test rules`: each alert fires on the series that should raise it and
// stays quiet on healthy ones) pass, and every query of the Grafana dashboard is valid
// PromQL. (That the metrics they name are served is checked against the running mesh in
// test/e2e/trace.e2e.test.ts.)

function promtool(args: string[], cwd = DIR): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { cwd, encoding: "utf8" });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); install Debian's prometheus package (scripts/bootstrap.sh)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Panel {
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { refId: string; expr: string }[];
}

test("the alert rules pass promtool check rules", () => {
  const r = promtool(["check", "rules", "alerts.yml"]);
  expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  expect(r.status).toBe(0);
});

test("the alert rules' unit tests pass (promtool test rules)", () => {
  const r = promtool(["test", "rules", "alerts.test.yml"]);
  expect(r.out).toMatch(/SUCCESS/);
  expect(r.status).toBe(0);
});

test("the Grafana dashboard's panels are well formed and every query is valid PromQL", () => {
  const d = JSON.parse(readFileSync(join(DIR, "grafana-dashboard.json"), "utf8")) as { uid: string; panels: Panel[] };
  expect(d.uid).toBe("tda-mesh");
  expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
  for (const p of d.panels) {
    expect(p.targets.length).toBeGreaterThan(0);
    expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  }
  const titles = d.panels.map((p) => p.title.toLowerCase()).join(" | ");
  for (const topic of ["jobs", "latency", "memory", "queue", "outbox", "errors"]) expect(titles).toContain(topic);
  // each query as a recording rule: promtool parses it as PromQL
  const rules = dashboardExprs().map((expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr)}`);
  const dir = mkdtempSync(join(tmpdir(), "tda-dashboard-"));
  writeFileSync(join(dir, "dashboard-rules.yml"), `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`);
  const r = promtool(["check", "rules", "dashboard-rules.yml"], dir);
  expect(r.out).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  expect(r.status).toBe(0);
});
