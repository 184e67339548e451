import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, ROOT, startMesh, type Mesh } from "../helpers/mesh";
import { api, gatewayClient, md, type Gateway } from "../helpers/client";

// The Go client example (examples/go-client, stubs generated from proto/ by
// gateway/rest/build.sh) against the real mesh, with API keys on: it uploads a
// fixture, asks for the estimate, computes, follows the job and prints every
// interval of the result; a bad file ends with the upload service's error.

jest.setTimeout(300_000);

const KEY = "go-client-key-0123456789";
let mesh: Mesh;
let gw: Gateway;
let work: string;
let bin: string;

function go(): string {
  for (const g of [process.env.GO, "go", "/usr/local/go/bin/go"]) {
    if (g && spawnSync(g, ["version"]).status === 0) return g;
  }
  throw new Error("Go not found (set GO=)");
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tda-go-client-"));
  bin = join(work, "go-client");
  const built = spawnSync(go(), ["build", "-buildvcs=false", "-o", bin, "."], { cwd: join(ROOT, "examples/go-client"), encoding: "utf8", timeout: 240_000 });
  if (built.status !== 0) throw new Error(`go build failed:\n${built.stdout}\n${built.stderr}`);
  mesh = await startMesh({ redisDb: 13, gatewayEnv: { GATEWAY_API_KEYS: `${KEY}:go-tenant` } });
  gw = gatewayClient(mesh.gateway);
});

afterAll(async () => {
  gw?.close();
  await mesh?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function run(args: string[]) {
  const r = spawnSync(bin, ["--gateway", mesh.gateway, "--api-key", KEY, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test("computes Rips on a fixture and prints every interval of the result", async () => {
  const { status, out } = run(["--max-dim", "1", join(FIXTURES, "tore3D_300.off")]);
  expect({ status, out }).toEqual({ status: 0, out: expect.stringContaining("Betti numbers: b0 = 1") });
  expect(out).toMatch(/uploaded tore3D_300\.off: dataset ds_[0-9a-f]{32}, 300 points of dimension 3/);
  expect(out).toMatch(/engine estimate: [0-9.]+ MiB of [0-9.]+ MiB allowed/);
  expect(out).toMatch(/trace id: [0-9a-f]{32}/);
  const jobId = /job (job_[0-9a-f]+)/.exec(out)![1]!;
  const res = await api(gw).getResult({ jobId }, md(KEY));
  const printed = out.split("\n").filter((l) => /^ \[[^,]+,[^)]*\)$/.test(l));
  const total = res.result!.diagrams.reduce((n, d) => n + d.intervals.length, 0);
  expect(printed).toHaveLength(total);
  // the essential H0 class is printed with an empty death, as Ripser does
  expect(printed.filter((l) => l.endsWith(", )"))).toHaveLength(res.result!.diagrams.flatMap((d) => d.intervals).filter((i) => i.death === Infinity).length);
});

test("an invalid file: exit 1 with the field violation naming the line", () => {
  const bad = join(work, "bad.csv");
  writeFileSync(bad, "0,0\n1,0\n1,nope\n");
  const { status, out } = run([bad]);
  expect(status).toBe(1);
  expect(out).toContain("InvalidArgument");
  expect(out).toContain("chunk: line 3: not a number: 'nope' (column 2)");
});

test("a wrong API key is refused", () => {
  const r = spawnSync(bin, ["--gateway", mesh.gateway, "--api-key", "wrong-key-000000", join(FIXTURES, "tore3D_300.off")], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("Unauthenticated");
});
