import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { channelOptions, insecure, pbCommon, pbEngine, pbUpload } from "@tda/common";
import type { BrowserContext, Page } from "playwright-core";
import { FIXTURES, startMesh, type Mesh } from "../helpers/mesh";
import { referencePython } from "../helpers/gudhi";
import { restClient } from "../helpers/rest";
import { ARTIFACTS, launchBrowser, newContext, screenshot, watchProblems, type PageProblems, type TestBrowser } from "../helpers/browser";

// The web console in a real browser (Debian's Chromium, driven by
// playwright-core) against the real mesh behind the REST proxy, with API keys
// on: the console asks for the key, uploads a fixture, submits a Rips job,
// follows it to 100 %, draws every interval of the result and downloads the
// SVG; an invalid file shows its error at its line. Screenshots go to
// .run/test-artifacts/console/. Also the REST routes it relies on
// (estimate, limits) checked against the engine itself.

jest.setTimeout(240_000);

const KEY = "console-key-0123456789";
const FIXTURE = join(FIXTURES, "tore3D_300.off");

let mesh: Mesh;
let browser: TestBrowser;
let ctx: BrowserContext;
let page: Page;
let problems: PageProblems;
const rest = () => restClient(mesh.rest!, { key: KEY });

beforeAll(async () => {
  mesh = await startMesh({ redisDb: 14, rest: true, gatewayEnv: { GATEWAY_API_KEYS: `${KEY}:console-tenant` } });
  browser = await launchBrowser();
  ctx = await newContext(browser, { width: 1280, height: 800 });
  page = await ctx.newPage();
  problems = watchProblems(page);
});

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await mesh?.stop();
});

/** The interval count of a result as the API returns it. */
async function intervalsOf(jobId: string): Promise<number> {
  const res = await rest().get(`/api/v1/tda/results/${jobId}`);
  expect(res.status).toBe(200);
  return (res.json.result.diagrams as { intervals: unknown[] }[]).reduce((n, d) => n + d.intervals.length, 0);
}

test("the console asks for the API key when auth is on, then lists nothing yet", async () => {
  await page.goto(`${mesh.rest}/`);
  const dialog = page.getByRole("dialog", { name: "Authenticate" });
  await dialog.waitFor();
  await page.getByTestId("key-input").fill(KEY);
  await dialog.getByRole("button", { name: "use this key" }).click();
  await dialog.waitFor({ state: "detached" });
  // the 401 that opened the dialog is the only error the page saw, and it was expected
  expect(problems.list.every((p) => p.includes("401"))).toBe(true);
  problems.list.length = 0;
});

let jobId = "";

test("upload a fixture with the progress bar, see the engine's estimate, submit, follow the job to 100 %", async () => {
  await page.getByTestId("file-input").setInputFiles(FIXTURE);
  await page.getByTestId("upload-done").waitFor();
  expect(await page.getByTestId("upload-progress").getAttribute("aria-valuenow")).toBe("100");
  expect(await page.getByTestId("upload-done").textContent()).toContain("300 points of dimension 3");

  // the estimate shown is the API's (the engine's) for this dataset and exactly these parameters
  const datasetId = await page.getByTestId("dataset-select").inputValue();
  const shown = async () => {
    await page.waitForSelector('[data-testid="estimate"][data-pending="false"] [data-testid="estimate-memory"]');
    return page.getByTestId("estimate-memory").getAttribute("data-memory-bytes");
  };
  const viaApi = async (maxDim: number) => {
    const est = await rest().post("/api/v1/tda/estimate", { dataset_id: datasetId, params: { algorithm: "ALGORITHM_RIPS", max_dim: maxDim, modulus: 2 } });
    expect(est.status).toBe(200);
    return est.json.memory_bytes as string;
  };
  expect(await shown()).toBe(await viaApi(1));
  await page.getByTestId("max-dim").fill("2");
  await page.waitForSelector('[data-testid="estimate"][data-pending="true"]');
  const dim2 = await viaApi(2);
  // (another figure: H2 collapses the torus' edges first, 34855 to 8827, and needs
  // less than H1, which does not collapse; the engine measures both)
  expect(dim2).not.toBe(await viaApi(1));
  expect(await shown()).toBe(dim2);
  await screenshot(page, "1-upload-and-estimate-1280");

  await page.getByTestId("submit").click();
  await page.waitForURL(/#\/jobs\/job_/);
  jobId = decodeURIComponent(page.url().split("#/jobs/")[1]!);
  const seen: number[] = [];
  const bar = page.getByTestId("job-progress");
  const end = Date.now() + 120_000;
  for (;;) {
    const v = Number(await bar.getAttribute("aria-valuenow"));
    if (seen.at(-1) !== v) seen.push(v);
    if (v === 100 || Date.now() > end) break;
    await page.waitForTimeout(50);
  }
  expect(seen.at(-1)).toBe(100);
  // it never went backwards
  expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  const job = await rest().get(`/api/v1/tda/jobs/${jobId}`);
  expect(job.json.job.state).toBe("JOB_STATE_COMPLETED");
  await page.getByTestId("events").getByText("job.completed").waitFor();
  // this proxy has no trace store (REST_TRACE_QUERY_URL unset): the trace id only, and no failed call
  expect(await page.getByTestId("trace-id").textContent()).toBe(job.json.job.trace_id || "—");
  await page.getByText("No trace store is connected to this API").waitFor();
});

test("the diagram draws one point per interval of the result; hover, zoom, filters and keyboard work", async () => {
  const total = await intervalsOf(jobId);
  expect(total).toBeGreaterThan(300);
  const summary = page.getByTestId("result-summary");
  await summary.waitFor();
  expect(Number(await summary.getAttribute("data-intervals"))).toBe(total);
  expect(await page.locator("svg.diagram circle.pt").count()).toBe(total);
  expect(await page.locator("svg.barcode rect.bar").count()).toBe(total);
  await screenshot(page, "2-result-1280");

  // hide H0: only the H1 and H2 intervals remain
  const res = await rest().get(`/api/v1/tda/results/${jobId}`);
  const h0 = res.json.result.diagrams.find((d: { dimension: number }) => d.dimension === 0).intervals.length;
  await page.getByTestId("dim-0").uncheck();
  expect(await page.locator("svg.diagram circle.pt").count()).toBe(total - h0);
  await page.getByTestId("dim-0").check();

  // the keyboard: the first point reached is the most persistent one (the essential H0 class)
  await page.locator("svg.diagram").focus();
  await page.keyboard.press("ArrowRight");
  const tip = page.getByRole("tooltip");
  await tip.waitFor();
  expect(await tip.textContent()).toMatch(/H0.*death ∞/);
  await page.keyboard.press("Escape");

  // the mouse: hovering a point tells its dimension, birth, death and persistence
  await page.locator("svg.diagram circle.pt").last().hover({ force: true });
  await tip.waitFor();
  expect(await tip.textContent()).toMatch(/^H[0-2] interval #\d+birth [\d.e-]+death [\d.e∞-]+persistence /);
  // zoom in with the button: the axis shows a narrower range; reset brings it back
  const ticks = () => page.locator("svg.diagram text.tick").allTextContents();
  const before = await ticks();
  await page.getByRole("button", { name: "zoom in the diagram" }).click();
  expect(await ticks()).not.toEqual(before);
  await page.getByRole("button", { name: "reset the diagram's zoom" }).click();
  expect(await ticks()).toEqual(before);
  // minimum persistence 0.3: the points left are the API's intervals at least that long
  const long = (res.json.result.diagrams as { intervals: { birth: number; death: number | string }[] }[])
    .flatMap((d) => d.intervals)
    .filter((i) => Number(i.death) - i.birth >= 0.3).length;
  expect(long).toBeLessThan(total);
  await page.getByTestId("min-persistence").fill("0.3");
  await page.locator(`svg.diagram[data-points="${long}"]`).waitFor();
  expect(await page.locator("svg.diagram circle.pt").count()).toBe(long);
  await page.getByTestId("min-persistence").fill("0");
});

test("download the diagram as SVG: the same picture the API serves, one circle per interval", async () => {
  const total = await intervalsOf(jobId);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-diagram-svg").click()]);
  expect(download.suggestedFilename()).toBe(`${jobId}-diagram.svg`);
  const file = join(ARTIFACTS, download.suggestedFilename());
  await download.saveAs(file);
  const svg = readFileSync(file, "utf8");
  expect(svg).toMatch(/^<\?xml [^>]*>\s*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(svg.match(/<circle /g)).toHaveLength(total);
  expect(svg).toBe((await rest().get(`/api/v1/tda/results/${jobId}/diagram.svg`)).text);
});

test("download Ripser text, .npy per dimension and PNG from the API: the result's intervals, readable by ripser's and NumPy's rules", async () => {
  const res = (await rest().get(`/api/v1/tda/results/${jobId}`)).json.result as {
    diagrams: { dimension: number; intervals: { birth: number; death: number | string }[] }[];
  };
  const save = async (testId: string) => {
    const [d] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
    const file = join(ARTIFACTS, d.suggestedFilename());
    await d.saveAs(file);
    return { name: d.suggestedFilename(), bytes: readFileSync(file) };
  };
  const death = (v: number | string) => (typeof v === "number" ? v : Number(v));
  // Ripser's barcode text (the API's …/ripser.txt, compared with Debian's ripser in result-maths): one " [b,d)"
  // line per interval of non-zero length under each dimension's heading, values at Ripser's 6 significant digits
  const txt = await save("download-ripser");
  expect(txt.name).toBe(`${jobId}-ripser.txt`);
  expect(txt.bytes.toString("utf8")).toBe((await rest().get(`/api/v1/tda/results/${jobId}/ripser.txt`)).text);
  const byDim = new Map<number, [number, number][]>();
  let dim = -1;
  for (const line of txt.bytes.toString("utf8").split("\n")) {
    const h = /^persistence intervals in dim (\d+):$/.exec(line);
    if (h) dim = Number(h[1]);
    const m = /^ \[([^,]+),([^)]*)\)$/.exec(line);
    if (m) byDim.set(dim, [...(byDim.get(dim) ?? []), [Number(m[1]), m[2]!.trim() === "" ? Infinity : Number(m[2])]]);
  }
  const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 5e-6 * Math.abs(b);
  for (const d of res.diagrams) {
    const want = d.intervals.filter((i) => Math.fround(i.birth) !== Math.fround(death(i.death))).map((i) => [i.birth, death(i.death)]);
    const got = byDim.get(d.dimension) ?? [];
    expect(got.length).toBe(want.length);
    expect(got.every(([b, e], k) => close(b, want[k]![0]!) && close(e, want[k]![1]!))).toBe(true);
  }
  // .npy (format 1.0): the header's shape and the float64 rows are the API's intervals
  for (const d of res.diagrams) {
    const f = await save(`download-npy-${d.dimension}`);
    expect(f.name).toBe(`${jobId}-H${d.dimension}.npy`);
    expect(
      f.bytes.equals(
        Buffer.from(
          await (await fetch(`${mesh.rest}/api/v1/tda/results/${jobId}/diagram.npy?dimension=${d.dimension}`, { headers: { "x-api-key": KEY } })).arrayBuffer(),
        ),
      ),
    ).toBe(true);
    expect(f.bytes.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    const hlen = f.bytes.readUInt16LE(8);
    expect((10 + hlen) % 64).toBe(0);
    expect(f.bytes.subarray(10, 10 + hlen).toString("latin1")).toMatch(
      new RegExp(`^\\{'descr': '<f8', 'fortran_order': False, 'shape': \\(${d.intervals.length}, 2\\), \\} *\n$`),
    );
    const rows: [number, number][] = [];
    for (let k = 0; k < d.intervals.length; k++) rows.push([f.bytes.readDoubleLE(10 + hlen + 16 * k), f.bytes.readDoubleLE(10 + hlen + 16 * k + 8)]);
    expect(f.bytes.length).toBe(10 + hlen + 16 * d.intervals.length);
    expect(rows).toEqual(d.intervals.map((i) => [i.birth, death(i.death)]));
    // and NumPy itself reads it as the same array
    const viaNumpy = execFileSync(
      referencePython(),
      ["-c", "import json, sys, numpy; a = numpy.load(sys.argv[1]); print(json.dumps([list(a.shape), a.tolist()]))", join(ARTIFACTS, f.name)],
      { encoding: "utf8" },
    );
    expect(JSON.parse(viaNumpy.replace(/Infinity/g, "1e999"))).toEqual([[d.intervals.length, 2], d.intervals.map((i) => [i.birth, death(i.death)])]);
  }
  // PNG from the API (GET …/diagram.png, …/barcode.png): twice the SVG's size, and Chromium decodes it to that size
  // with each dimension's colour drawn (the points themselves are counted in gateway/rest/internal/pictures)
  for (const [what, testId] of [
    ["diagram", "download-diagram-png"],
    ["barcode", "download-barcode-png"],
  ] as const) {
    const png = await save(testId);
    expect(png.name).toBe(`${jobId}-${what}.png`);
    expect(png.bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.bytes.subarray(12, 16).toString("latin1")).toBe("IHDR");
    const svg = (await rest().get(`/api/v1/tda/results/${jobId}/${what}.svg`)).text;
    const side = (name: string) => Number(new RegExp(`<svg[^>]* ${name}="(\\d+)"`).exec(svg)?.[1]);
    expect([png.bytes.readUInt32BE(16), png.bytes.readUInt32BE(20)]).toEqual([2 * side("width"), 2 * side("height")]);
    // (a string: the tests' TypeScript has no DOM types)
    const decoded = await page.evaluate<{ width: number; height: number; h0: number; h1: number }>(`(async () => {
      const bytes = Uint8Array.from(atob("${png.bytes.toString("base64")}"), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      const g = new OffscreenCanvas(bmp.width, bmp.height).getContext("2d");
      g.drawImage(bmp, 0, 0);
      const px = g.getImageData(0, 0, bmp.width, bmp.height).data;
      // pixels of H0's blue (#1f77b4) and H1's red (#d62728), opaque or at 75 % over white
      const near = (i, rgb) => Math.abs(px[i] - rgb[0]) + Math.abs(px[i + 1] - rgb[1]) + Math.abs(px[i + 2] - rgb[2]) < 12;
      let h0 = 0, h1 = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (near(i, [31, 119, 180]) || near(i, [87, 153, 199])) h0++;
        if (near(i, [214, 39, 40]) || near(i, [224, 93, 94])) h1++;
      }
      return { width: bmp.width, height: bmp.height, h0, h1 };
    })()`);
    expect([decoded.width, decoded.height]).toEqual([2 * side("width"), 2 * side("height")]);
    expect(decoded.h0).toBeGreaterThan(50);
    expect(decoded.h1).toBeGreaterThan(50);
  }
  // bad sizes: 400 naming the field; another tenant's key sees nothing (no key: 401)
  const bad = await rest().get(`/api/v1/tda/results/${jobId}/diagram.png?width=5000&scale=9`);
  expect(bad.status).toBe(400);
  expect(bad.json.details[0].field_violations.map((v: { field: string }) => v.field)).toEqual(["width", "scale"]);
  expect((await restClient(mesh.rest!).get(`/api/v1/tda/results/${jobId}/barcode.png`)).status).toBe(401);
  expect(problems.list).toEqual([]);
});

test("vectorisations: Betti curves, landscapes, images, entropy and amplitudes as the API computes them, editable and downloadable", async () => {
  const card = page.getByTestId("vectors");
  const result = card.getByTestId("vectors-result");
  /** Waits for the answer of `kind`, then returns the API's own answer to the same query. */
  const answered = async (kind: string) => {
    await card.locator(`[data-testid="vectors-result"][data-kind="${kind}"][data-pending="false"]`).waitFor();
    const query = (await result.getAttribute("data-query"))!;
    const api = await rest().get(`/api/v1/tda/results/${jobId}/features?${query}`);
    expect(api.status).toBe(200);
    return { query, vectors: api.json.result.vectors as { dimension: number; values: (number | string)[]; rows: number; cols: number; names: string[] }[] };
  };
  // Betti curves with the defaults on arrival: 100 grid points, one curve per dimension
  const betti = await answered("FEATURE_KIND_BETTI_CURVE");
  expect(betti.vectors.map((v) => v.dimension)).toEqual([0, 1, 2]);
  expect(await card.getByTestId("vectors-betti").getAttribute("data-points")).toBe("100");
  // the exact Betti curves the console draws (its CSV download), read on the API's grid, are the engine's Betti curves
  const [bdl] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-betti-csv").click()]);
  await bdl.saveAs(join(ARTIFACTS, bdl.suggestedFilename()));
  const [head, ...rows] = readFileSync(join(ARTIFACTS, bdl.suggestedFilename()), "utf8").trim().split("\n");
  expect(head).toBe("t,betti_0,betti_1,betti_2");
  const steps = rows.map((r) => r.split(",").map(Number));
  const at = (t: number, k: number) => steps.filter((r) => r[0]! <= t).at(-1)?.[k + 1] ?? 0;
  const grid = (await rest().get(`/api/v1/tda/results/${jobId}/features?${betti.query}`)).json.result.vectors as { grid: number[] }[];
  for (const [k, v] of betti.vectors.entries()) expect(grid[k]!.grid.map((t) => at(Number(t), k))).toEqual(v.values.map(Number));

  // landscapes: 3 layers on 50 points of H1 only; the CSV holds the API's values
  await card.getByTestId("vectors-kind").selectOption("FEATURE_KIND_LANDSCAPE");
  await answered("FEATURE_KIND_LANDSCAPE");
  await card.getByTestId("vectors-dim-0").uncheck();
  await card.getByTestId("vectors-dim-2").uncheck();
  await card.getByTestId("vectors-layers").fill("3");
  await card.getByTestId("vectors-resolution").fill("50");
  await card.getByTestId("vectors-compute").click();
  await card.locator('[data-testid="vectors-result"][data-query*="layers=3"][data-pending="false"]').waitFor();
  const land = await answered("FEATURE_KIND_LANDSCAPE");
  expect(land.query).toBe("kind=FEATURE_KIND_LANDSCAPE&dimensions=1&resolution=50&layers=3");
  expect(land.vectors.map((v) => [v.dimension, v.rows, v.cols])).toEqual([[1, 3, 50]]);
  expect(await card.getByTestId("vectors-landscape-1").getAttribute("data-points")).toBe("50");
  const [dl] = await Promise.all([page.waitForEvent("download"), card.getByTestId("vectors-csv").click()]);
  expect(dl.suggestedFilename()).toBe(`${jobId}-landscape.csv`);
  await dl.saveAs(join(ARTIFACTS, dl.suggestedFilename()));
  const lines = readFileSync(join(ARTIFACTS, dl.suggestedFilename()), "utf8").trim().split("\n");
  expect(lines[0]).toBe("dimension,layer,t,value");
  expect(lines.slice(1).map((l) => Number(l.split(",")[3]))).toEqual(land.vectors[0]!.values.map(Number));

  // persistence images: 10 × 10 pixels, persistence-weighted; the arrow keys read a pixel
  await card.getByTestId("vectors-kind").selectOption("FEATURE_KIND_PERSISTENCE_IMAGE");
  await card.getByTestId("vectors-resolution").fill("10");
  await card.getByTestId("vectors-weight").selectOption("IMAGE_WEIGHT_PERSISTENCE_POWER");
  await card.getByTestId("vectors-weightPower").fill("2");
  await card.getByTestId("vectors-compute").click();
  await card.locator('[data-testid="vectors-result"][data-query*="weight_power=2"][data-pending="false"]').waitFor();
  const img = await answered("FEATURE_KIND_PERSISTENCE_IMAGE");
  expect(img.vectors.map((v) => [v.rows, v.cols])).toEqual([[10, 10]]);
  const heat = card.getByTestId("vectors-image-1");
  expect(await heat.getAttribute("data-cells")).toBe("100");
  await heat.locator("canvas").focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  expect(await heat.getByRole("status").textContent()).toMatch(/^birth .*, persistence .*: /);
  await screenshot(page, "6-vectorisations-1280");

  // entropy, then amplitudes of order 2: the table shows the API's values
  for (const kind of ["FEATURE_KIND_ENTROPY", "FEATURE_KIND_AMPLITUDES"]) {
    await card.getByTestId("vectors-kind").selectOption(kind);
    if (kind === "FEATURE_KIND_AMPLITUDES") {
      await answered(kind);
      await card.getByTestId("vectors-order").fill("2");
      await card.getByTestId("vectors-compute").click();
      await card.locator('[data-testid="vectors-result"][data-query*="order=2"][data-pending="false"]').waitFor();
    }
    const got = await answered(kind);
    const shown = await card
      .getByTestId("vectors-table")
      .locator("td")
      .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute("data-value"))));
    expect(shown).toEqual(got.vectors.flatMap((v) => v.values.map(Number)));
    if (kind === "FEATURE_KIND_AMPLITUDES") expect(got.vectors[0]!.names).toEqual(["total_persistence", "bottleneck", "wasserstein"]);
  }
  // a refused parameter: the API's 400 shown with the field it names, and nothing else went wrong
  await card.getByTestId("vectors-kind").selectOption("FEATURE_KIND_BETTI_CURVE");
  await answered("FEATURE_KIND_BETTI_CURVE");
  await card.getByTestId("vectors-resolution").fill("100000");
  await card.getByTestId("vectors-compute").click();
  const refusal = card.getByRole("alert");
  await refusal.waitFor();
  expect(await refusal.locator("li code").allTextContents()).toEqual(["resolution"]);
  expect(problems.list.filter((p) => !p.includes("status of 400"))).toEqual([]);
  problems.list.length = 0;
});

test("compare with another result: the API's exact distances per dimension", async () => {
  // a second job on the same dataset, up to H1 only (submitted over REST)
  const job = (await rest().get(`/api/v1/tda/jobs/${jobId}`)).json.job;
  const sub = await rest().post("/api/v1/tda/compute/vietoris-rips", { dataset_id: job.dataset_id, max_dim: 1 });
  expect(sub.status).toBe(200);
  const other = sub.json.job.job_id as string;
  const end = Date.now() + 60_000;
  while ((await rest().get(`/api/v1/tda/jobs/${other}`)).json.job.state !== "JOB_STATE_COMPLETED" && Date.now() < end) await page.waitForTimeout(100);
  await page.reload();
  const card = page.getByTestId("compare");
  await card.getByTestId("compare-job").selectOption(other);
  await card.getByTestId("compare-order").fill("2");
  await card.getByTestId("compare-submit").click();
  const table = card.getByTestId("compare-result");
  await table.waitFor();
  const api = await rest().post("/api/v1/tda/distance", { job_id_a: jobId, job_id_b: other, params: { order: 2 } });
  expect(api.status).toBe(200);
  const r = api.json.result as {
    dimensions: { bottleneck: number | string; wasserstein: number | string }[];
    bottleneck: number | string;
    wasserstein: number | string;
  };
  expect(r.dimensions).toHaveLength(3); // H2 is empty on the other side
  const shown = await table.locator("td[data-value]").evaluateAll((tds) => tds.map((td) => Number(td.getAttribute("data-value"))));
  expect(shown).toEqual([...r.dimensions.flatMap((d) => [Number(d.bottleneck), Number(d.wasserstein)]), Number(r.bottleneck), Number(r.wasserstein)]);
  expect(problems.list).toEqual([]);
});

test("an invalid file: the upload service's error shown at its line, in the file's own text", async () => {
  await page.goto(`${mesh.rest}/#/`);
  const bad = "0.1,0.2\n0.3,0.4\n0.5,0.6\n0.7,abc\n0.9,1.0\n";
  await page.getByTestId("file-input").setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  const err = page.getByTestId("upload-error");
  await err.waitFor();
  expect(await page.getByTestId("error-line").textContent()).toBe("line 4");
  expect(await err.textContent()).toContain("not a number: 'abc'");
  const marked = err.locator(".bad-line");
  expect(await marked.getAttribute("data-line")).toBe("4");
  expect(await marked.textContent()).toBe("40.7,abc");
  await screenshot(page, "3-invalid-upload-1280");
  // the upload was refused (400) and the console said so: the only error the page logged
  expect(problems.list.filter((p) => !p.includes("status of 400"))).toEqual([]);
  problems.list.length = 0;
});

test("the job and dataset lists, and a phone-width page without horizontal scrolling", async () => {
  await page.goto(`${mesh.rest}/#/jobs`);
  await page.getByTestId("jobs").getByText(jobId.slice(0, 16)).waitFor();
  await page.goto(`${mesh.rest}/#/datasets`);
  await page.getByTestId("datasets").getByText("tore3D_300.off").waitFor();

  const phone = await ctx.newPage();
  const phoneProblems = watchProblems(phone);
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${mesh.rest}/#/jobs/${encodeURIComponent(jobId)}`);
  // a new tab has no key yet (it is kept per tab unless remembered): the console asks again
  await phone.getByTestId("key-input").fill(KEY);
  await phone.getByRole("button", { name: "use this key" }).click();
  await phone.getByTestId("result-summary").waitFor();
  await phone.locator("svg.diagram circle.pt").first().waitFor();
  const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
  expect(overflow).toBeLessThanOrEqual(0);
  await screenshot(phone, "4-result-phone");
  // the vectorisations at phone width: a persistence image fits without horizontal scrolling
  await phone.getByTestId("vectors-kind").selectOption("FEATURE_KIND_PERSISTENCE_IMAGE");
  await phone.locator('[data-testid="vectors-result"][data-kind="FEATURE_KIND_PERSISTENCE_IMAGE"][data-pending="false"]').waitFor();
  expect(await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth")).toBeLessThanOrEqual(0);
  await phone.getByTestId("vectors").screenshot({ path: join(ARTIFACTS, "4b-vectorisations-phone.png") });
  await phone.close();
  expect(phoneProblems.list.filter((p) => !p.includes("status of 401"))).toEqual([]);
});

test("the API reference at /docs renders the OpenAPI document, with no console errors", async () => {
  await page.goto(`${mesh.rest}/docs`);
  await page.getByText("/api/v1/tda/estimate").first().waitFor({ timeout: 30_000 });
  await page.getByText("/api/v1/tda/compute/vietoris-rips").first().waitFor();
  await screenshot(page, "5-docs-1280");
  expect(problems.list).toEqual([]);
});

test("estimate and limits over REST are the engine's own figures", async () => {
  const engine = new pbEngine.EngineServiceClient(mesh.engines[0]!, insecure(), channelOptions);
  try {
    const up = await rest().upload(
      "/api/v1/data/upload/file?name=pp.csv&format=distance_matrix",
      readFileSync(join(FIXTURES, "projective_plane.csv")),
      "text/csv",
    );
    expect(up.status).toBe(200);
    const ds = up.json.dataset;
    const viaRest = await rest().post("/api/v1/tda/estimate", { dataset_id: ds.dataset_id, params: { algorithm: "ALGORITHM_RIPS", max_dim: 2 } });
    expect(viaRest.status).toBe(200);
    const spec: pbEngine.ComputeSpec = {
      params: { algorithm: pbCommon.Algorithm.ALGORITHM_RIPS, maxDim: 2, modulus: 0, threads: 0, alphaRadius: false },
      inputKind: pbCommon.InputKind.INPUT_KIND_LOWER_DISTANCE_MATRIX,
      encoding: pbCommon.ValueEncoding.VALUE_ENCODING_FLOAT64,
      n: Number(ds.n),
      dim: 0,
      jobId: "",
      estimateOnly: true,
    };
    expect(ds.kind).toBe(pbUpload.DatasetKind[pbUpload.DatasetKind.DATASET_KIND_DISTANCE_MATRIX]);
    // the Rips estimate follows the data: the engine's own figure for the same values (Compute, estimate_only)
    const rows = readFileSync(join(FIXTURES, "projective_plane.csv"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(",").map(Number));
    const lower = rows.flatMap((r, i) => r.slice(0, i));
    const direct = await new Promise<pbEngine.EstimateResponse>((res, rej) => {
      const call = engine.compute(new Metadata());
      let got: pbEngine.EstimateResponse | undefined;
      call.on("data", (r: pbEngine.ComputeResponse) => {
        if (r.msg?.$case === "estimate") got = r.msg.value;
      });
      call.on("error", rej);
      call.on("end", () => (got ? res(got) : rej(new Error("no estimate"))));
      call.write({ msg: { $case: "spec", value: spec } });
      call.write({ msg: { $case: "chunk", value: Buffer.from(new Float64Array(lower).buffer) } });
      call.end();
    });
    expect({ memory: viaRest.json.memory_bytes, limit: viaRest.json.memory_limit_bytes, ok: viaRest.json.admissible }).toEqual({
      memory: String(direct.memoryBytes),
      limit: String(direct.memoryLimitBytes),
      ok: direct.admissible,
    });

    const info = await new Promise<pbEngine.GetInfoResponse>((res, rej) => engine.getInfo({}, new Metadata(), (e, r) => (e ? rej(e) : res(r))));
    const limits = await rest().get("/api/v1/tda/limits");
    expect(limits.status).toBe(200);
    expect(limits.json.engine_memory_limit_bytes).toBe(String(info.memoryLimitBytes));
    expect(limits.json.engine_threads).toBe(info.threads);
    expect(limits.json.max_dim).toBe(8);

    // bad parameters: 400 naming each field; another tenant's or an unknown dataset: 404; no key: 401
    const bad = await rest().post("/api/v1/tda/estimate", { dataset_id: ds.dataset_id, params: { algorithm: "ALGORITHM_RIPS", max_dim: 9, modulus: 4 } });
    expect(bad.status).toBe(400);
    expect(bad.json.details[0].field_violations.map((v: { field: string }) => v.field)).toEqual(["params.max_dim", "params.modulus"]);
    const alphaOnMatrix = await rest().post("/api/v1/tda/estimate", { dataset_id: ds.dataset_id, params: { algorithm: "ALGORITHM_ALPHA", max_dim: 1 } });
    expect(alphaOnMatrix.status).toBe(400);
    const missing = await rest().post("/api/v1/tda/estimate", {
      dataset_id: "ds_00000000000000000000000000000000",
      params: { algorithm: "ALGORITHM_RIPS", max_dim: 1 },
    });
    expect(missing.status).toBe(404);
    expect((await restClient(mesh.rest!).get("/api/v1/tda/limits")).status).toBe(401);
  } finally {
    engine.close();
  }
});

afterAll(() => {
  // a record of what the browser suite saw, next to its screenshots
  writeFileSync(join(ARTIFACTS, "problems.json"), JSON.stringify(problems?.list ?? [], null, 2));
});
