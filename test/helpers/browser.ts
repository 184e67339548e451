import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT } from "./mesh";

// Debian's Chromium driven by playwright-core (no browser download): the
// flags keep it off the network (no background fetches, no component updates)
// and let it run as root in a container.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Screenshots and downloads of the browser suites (git-ignored). */
export const ARTIFACTS = join(ROOT, ".run/test-artifacts/console");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
  "--metrics-recording-only",
];

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (scripts/bootstrap.sh installs Debian's chromium; or set CHROMIUM_PATH)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  // playwright gives every launch a fresh, empty profile directory of its own
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 60_000 });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** Everything the page reported as an error: console errors, uncaught exceptions, failed requests. */
export interface PageProblems {
  list: string[];
}

export function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { list: [] };
  page.on("console", (m) => {
    if (m.type() === "error") problems.list.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.list.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => {
    // a download or a finished watch cancelled by navigation is not a failure of the page
    if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.list.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return problems;
}

export async function newContext(b: TestBrowser, viewport: { width: number; height: number }): Promise<BrowserContext> {
  return b.browser.newContext({ viewport, acceptDownloads: true, deviceScaleFactor: 1 });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
