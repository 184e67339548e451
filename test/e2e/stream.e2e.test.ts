import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { BrowserContext, Page } from "playwright-core";
import { createKafka, createLogger, decodeDetails, ensureTopicsFromFile, pbGateway } from "@tda/common";
import { api, gatewayClient, md } from "../helpers/client";
import { collectEvents } from "../helpers/kafka-events";
import { TOPICS_FILE } from "../helpers/kafka-broker";
import { freePort, KAFKA_BROKERS, ROOT, startMesh, startProcess, waitForHttp, type Mesh, type Proc } from "../helpers/mesh";
import { launchBrowser, newContext, screenshot, watchProblems, type PageProblems, type TestBrowser } from "../helpers/browser";

// The live stream end to end: the real mesh (engine, services, gateway) and the Flink job
// running from its jar in a MiniCluster (as deploy/local starts it), on topics of their own.
// Configure and publish through the gateway; GetStreamStatus then shows the job, its last
// checkpoint and lag, and the windows it emitted, learned from tda_stream_features;
// ListStreams and WatchStream (history, then live windows, resumable), and the
// web console's live stream page in a real browser behind the REST proxy, down to
// the alert raised when a circle becomes two circles.

jest.setTimeout(240_000);

const PREFIX = `e2es${Date.now().toString(36)}_`;
let mesh: Mesh;
let flink: Proc;
let work: string;
let gw: ReturnType<typeof api>;
let client: pbGateway.TdaServiceClient;
let browser: TestBrowser | undefined;
let ctx: BrowserContext | undefined;
const ACME = md("key-acme");
const UMBRELLA = md("key-umbrella");

beforeAll(async () => {
  const log = createLogger("e2e-stream", "warn");
  await ensureTopicsFromFile(createKafka("e2e-stream", KAFKA_BROKERS.split(","), log), TOPICS_FILE, PREFIX);
  const restPort = await freePort();
  work = mkdtempSync(join(tmpdir(), "tda-flink-e2e-"));
  mesh = await startMesh({
    redisDb: 13,
    rest: true,
    env: { KAFKA_TOPIC_PREFIX: PREFIX },
    gatewayEnv: { GATEWAY_API_KEYS: "key-acme:acme,key-umbrella:umbrella", FLINK_REST_URL: `http://127.0.0.1:${restPort}`, GATEWAY_STREAM_STATUS_TTL_MS: "0" },
  });
  flink = startProcess(
    "flink",
    "java",
    ["-Xmx768m", "-cp", `${ROOT}/flink/target/tda-flink-job.jar:${ROOT}/flink/target/lib/*`, "io.tdamesh.flink.StreamFeaturesJob"],
    {
      FLINK_LOCAL: "true",
      FLINK_REST_PORT: String(restPort),
      FLINK_CHECKPOINT_DIR: join(work, "checkpoints"),
      FLINK_CHECKPOINT_INTERVAL_MS: "500",
      KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: PREFIX,
      ENGINE_ADDRESSES: mesh.engines.join(","),
    },
    mesh.logDir,
  );
  await waitForHttp(`http://127.0.0.1:${restPort}/jobs/overview`, 120_000);
  client = gatewayClient(mesh.gateway);
  gw = api(client);
});

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await flink?.stop();
  client?.close();
  await mesh?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what} (${(last as Error)?.message ?? "condition not met"})`);
}

/** n evenly spaced points on a circle of radius r. */
function circle(n: number, r: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    v.push(r * Math.cos(a), r * Math.sin(a));
  }
  return v;
}

it("refuses a bad configuration with every problem named", async () => {
  const err = (await gw
    .configureStream({ streamId: "s1", config: { window: { $case: "count", value: { size: 1, slide: 5 } }, maxDim: 3, noiseLevel: -1 } }, ACME)
    .catch((e: ServiceError) => e)) as ServiceError;
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  const fields = decodeDetails(err)
    .badRequest?.fieldViolations.map((v) => v.field)
    .sort();
  expect(fields).toEqual(["config.count.size", "config.count.slide", "config.max_dim", "config.noise_level"]);
});

it("windows each tenant's stream apart and reports the pipeline in GetStreamStatus", async () => {
  const conf = await gw.configureStream(
    { streamId: "s1", config: { window: { $case: "count", value: { size: 16, slide: 16 } }, maxDim: 1, bettiScale: 0.5, noiseLevel: 0 } },
    ACME,
  );
  expect(conf.config?.window).toEqual({ $case: "count", value: { size: 16, slide: 16 } });
  // umbrella keeps the defaults (256/64): its 64 points make no window
  const ring = circle(16, 1); // every window: 16 points 0.39 apart on the unit circle
  const pts = [...ring, ...ring, ...ring, ...ring];
  for (let i = 0; i < 4; i++) {
    await gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: pts.slice(32 * i, 32 * i + 32) }, ACME);
    await gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: pts.slice(32 * i, 32 * i + 32) }, UMBRELLA);
  }
  const st = await until("4 windows in acme's status", async () => {
    const s = await gw.getStreamStatus({ streamId: "s1" }, ACME);
    return s.windowsEmitted >= 4 && s.job?.consumerLag === 0 ? s : undefined;
  });
  expect(st.windowsEmitted).toBe(4);
  expect(st.job?.state).toBe("RUNNING");
  expect(st.job?.lastCheckpointId).toBeGreaterThan(0);
  expect(st.job?.lastCheckpointTime?.seconds).toBeGreaterThan(0);
  expect(st.lastFeatures).toMatchObject({ tenant: "acme", streamId: "s1", windowSeq: 3, points: 16, dim: 2 });
  expect(st.lastFeatures?.dimensions.map((d) => d.betti)).toEqual([1, 1]); // 16 points on a circle at scale 0.5
  expect(st.config?.window?.$case).toBe("count");
  expect(st.featuresTopic).toBe(`${PREFIX}tda_stream_features`);

  const other = await gw.getStreamStatus({ streamId: "s1" }, UMBRELLA);
  expect(other.windowsEmitted).toBe(0);
  expect(other.pointsPublished).toBe(64);
  expect(other.config?.window).toEqual({ $case: "count", value: { size: 256, slide: 64 } });

  // on tda_events: key tenant/stream, tenant in the payload
  const events = await collectEvents(KAFKA_BROKERS, `${PREFIX}tda_events`);
  expect([...events.byKey.keys()].sort()).toEqual(["acme/s1", "umbrella/s1"]);
  const first = events.byKey.get("umbrella/s1")![0]!;
  expect(first.data?.$case === "streamPoints" && first.data.value.tenant).toBe("umbrella");
  const cfg = events.byKey.get("acme/s1")![0]!;
  expect(cfg.eventType).toBe("stream.config");
});

/** Reads `n` messages of a WatchStream call, then cancels it. */
function watchN(
  req: Partial<pbGateway.WatchStreamRequest>,
  meta: ReturnType<typeof md>,
  n: number,
  onData?: (got: pbGateway.WatchStreamResponse[]) => void,
): Promise<pbGateway.WatchStreamResponse[]> {
  return new Promise((resolve, reject) => {
    const got: pbGateway.WatchStreamResponse[] = [];
    const call: ClientReadableStream<pbGateway.WatchStreamResponse> = client.watchStream({ streamId: "", history: 0, after: "", ...req }, meta);
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`WatchStream: ${got.length} of ${n} messages after 60 s`));
    }, 60_000);
    call.on("data", (m: pbGateway.WatchStreamResponse) => {
      if (m.event === undefined) return; // the "open and caught up" marks
      got.push(m);
      onData?.(got);
      if (got.length === n) {
        clearTimeout(timer);
        call.cancel();
        resolve(got);
      }
    });
    call.on("error", (err: ServiceError) => {
      clearTimeout(timer);
      if (err.code !== status.CANCELLED) reject(err);
    });
  });
}

const seqOf = (m: pbGateway.WatchStreamResponse): number => (m.event?.$case === "features" ? m.event.value.windowSeq : -1);

it("WatchStream sends the recent windows, then each new one live, and resumes after a cursor; ListStreams per tenant", async () => {
  // history: the 4 windows of the test above, oldest first; then one more
  // window, published once the history is in, arrives live
  let published: Promise<unknown> = Promise.resolve();
  const got = await watchN({ streamId: "s1", history: 10 }, ACME, 5, (sofar) => {
    if (sofar.length === 4) published = gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: circle(16, 1) }, ACME);
  });
  await published;
  expect(got.map(seqOf)).toEqual([0, 1, 2, 3, 4]);
  expect(got.map((m) => m.live)).toEqual([false, false, false, false, true]);
  expect(got.every((m) => m.event?.$case === "features" && m.event.value.tenant === "acme")).toBe(true);
  // resume after window 2's cursor: exactly 3 and 4 follow
  const resumed = await watchN({ streamId: "s1", after: got[2]!.cursor }, ACME, 2);
  expect(resumed.map(seqOf)).toEqual([3, 4]);
  const acmeList = await gw.listStreams({ pageSize: 0 }, ACME);
  expect(acmeList.streams.map((x) => [x.streamId, x.windowsEmitted, x.pointsPublished, x.configured])).toEqual([["s1", 5, 80, true]]);
  expect(acmeList.streams[0]!.lastFeatures?.windowSeq).toBe(4);
  expect(acmeList.streams[0]!.lastActiveAt?.seconds).toBeGreaterThan(0);
  const umbrellaList = await gw.listStreams({ pageSize: 0 }, UMBRELLA);
  expect(umbrellaList.streams.map((x) => [x.streamId, x.windowsEmitted, x.pointsPublished, x.configured])).toEqual([["s1", 0, 64, false]]);

  const bad = (await watchN({ streamId: "s1", history: 501, after: "x" }, ACME, 1).catch((e: ServiceError) => e)) as ServiceError;
  expect(bad.code).toBe(status.INVALID_ARGUMENT);
  expect(
    decodeDetails(bad)
      .badRequest?.fieldViolations.map((v) => v.field)
      .sort(),
  ).toEqual(["after", "history"]);
  const badList = (await gw.listStreams({ pageSize: 201 }, ACME).catch((e: ServiceError) => e)) as ServiceError;
  expect(badList.code).toBe(status.INVALID_ARGUMENT);
});

describe("the console's live stream page", () => {
  let page: Page;
  let problems: PageProblems;

  beforeAll(async () => {
    browser = await launchBrowser();
    ctx = await newContext(browser, { width: 1280, height: 800 });
    page = await ctx.newPage();
    problems = watchProblems(page);
  });

  it("lists the tenant's streams, then shows a stream's windows as they arrive", async () => {
    await page.goto(`${mesh.rest}/#/streams`);
    const dialog = page.getByRole("dialog", { name: "Authenticate" });
    await dialog.waitFor();
    await page.getByTestId("key-input").fill("key-acme");
    await dialog.getByRole("button", { name: "use this key" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page.locator('[data-testid="streams"] tr[data-stream="s1"]');
    await row.waitFor();
    expect(await page.locator('[data-testid="streams"] tbody tr').count()).toBe(1);
    expect(await row.getByTestId("stream-windows-emitted").textContent()).toBe("5");
    await screenshot(page, "streams-1-list-1280");

    await row.getByRole("link", { name: "s1" }).click();
    await page.waitForSelector('[data-testid="stream-live"][data-state="live"]');
    const table = page.getByTestId("stream-windows");
    await page.waitForSelector('[data-testid="stream-windows"][data-windows="5"]');
    expect(await page.getByTestId("stream-job-state").textContent()).toBe("RUNNING");
    // window 4 as the API has it: 16 points on the unit circle at scale 0.5
    const w4 = table.locator('tr[data-seq="4"]');
    expect(await w4.locator("td[data-betti]").allTextContents()).toEqual(["1", "1"]);
    expect(await page.getByTestId("chart-betti").getAttribute("data-points")).toBe("5");

    // a new window arrives without a reload
    await gw.publishStream({ streamId: "s1", dim: 2, points: Buffer.alloc(0), values: circle(16, 1) }, ACME);
    await page.waitForSelector('[data-testid="stream-windows"][data-windows="6"][data-last-seq="5"]', { timeout: 60_000 });
    expect(await page.getByTestId("chart-betti").getAttribute("data-points")).toBe("6");
    expect(await table.locator("tbody tr").first().getAttribute("data-seq")).toBe("5");
    await screenshot(page, "streams-2-live-1280");

    // the settings: a refused value shows the API's field violation, a good one is stored
    await page.getByText("Settings").click();
    expect(await page.getByTestId("cfg-size").inputValue()).toBe("16");
    await page.getByTestId("cfg-slide").fill("0");
    await page.getByTestId("cfg-save").click();
    await page.locator(".stream-config .error").getByText("config.count.slide").waitFor();
    await page.getByTestId("cfg-slide").fill("16");
    await page.getByTestId("cfg-alert").fill("5");
    await page.getByTestId("cfg-save").click();
    await page.getByTestId("cfg-saved").waitFor();
    await page.waitForSelector('[data-testid="stream-alert-level"]:text-is("5")');
    const st = await gw.getStreamStatus({ streamId: "s1" }, ACME);
    expect(st.config?.alertLevel).toBe(5);
    expect(st.config?.window).toEqual({ $case: "count", value: { size: 16, slide: 16 } });
    expect(st.config?.bettiScale).toBe(0.5); // kept as it was
    // the refused configuration is the only expected failed call (400)
    expect(problems.list.filter((p) => !p.includes("401") && !p.includes("status of 400"))).toEqual([]);
  });

  it("fits a phone-width screen", async () => {
    const phone = await ctx!.newPage();
    const phoneProblems = watchProblems(phone);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${mesh.rest}/#/streams/s1`);
    await phone.getByTestId("key-input").fill("key-acme");
    await phone.getByRole("button", { name: "use this key" }).click();
    await phone.waitForSelector('[data-testid="stream-windows"][data-windows="6"]');
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(phone, "streams-3-phone");
    await phone.close();
    expect(phoneProblems.list.filter((p) => !p.includes("401"))).toEqual([]);
  });

  it("shows the alert when a circle becomes two circles", async () => {
    // 128-point windows sliding by 32, alert at 0.3: 256 points of one noisy circle, then 256 of two
    await gw.configureStream(
      {
        streamId: "demo",
        config: { window: { $case: "count", value: { size: 128, slide: 32 } }, maxDim: 1, bettiScale: 0.4, noiseLevel: 0.05, alertLevel: 0.3 },
      },
      ACME,
    );
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const pts: number[] = [];
    for (let i = 0; i < 512; i++) {
      const a = rnd() * 2 * Math.PI;
      const [cx, r] = i < 256 ? [0, 1] : [i % 2 === 0 ? -1.2 : 1.2, 0.5];
      pts.push(cx + r * Math.cos(a) + 0.03 * (rnd() - 0.5), r * Math.sin(a) + 0.03 * (rnd() - 0.5));
    }
    await page.goto(`${mesh.rest}/#/streams/demo`);
    await page.waitForSelector('[data-testid="stream-live"][data-state="live"]');
    for (let i = 0; i < 16; i++) await gw.publishStream({ streamId: "demo", dim: 2, points: Buffer.alloc(0), values: pts.slice(64 * i, 64 * i + 64) }, ACME);
    const st = await until("13 windows and an alert", async () => {
      const s = await gw.getStreamStatus({ streamId: "demo" }, ACME);
      return s.windowsEmitted >= 13 && s.lastAlert ? s : undefined;
    });
    const seq = st.lastAlert!.windowSeq;
    expect(seq).toBeGreaterThanOrEqual(5); // windows 5..7 mix the two shapes, 8 is the first of two circles
    expect(seq).toBeLessThanOrEqual(8);
    await page.waitForSelector(`[data-testid="stream-alerts"] li[data-seq="${seq}"]`);
    await page.waitForSelector('[data-testid="stream-windows"][data-windows="13"]');
    // the table's change score of the alerted window is the alert's
    const shown = await page.locator(`[data-testid="stream-windows"] tr[data-seq="${seq}"] [data-testid="bottleneck"]`).textContent();
    expect(Number(shown)).toBeCloseTo(st.lastAlert!.changeScore, 4);
    expect(await page.getByTestId("chart-change").getAttribute("data-points")).toBe("13");
    await screenshot(page, "streams-4-alert-1280");
    expect(problems.list.filter((p) => !p.includes("401") && !p.includes("status of 400"))).toEqual([]);
  });
});
