import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (the `chromium` package; .ci/run installs it). Playwright never downloads a browser here. */
export const CHROMIUM_BIN = '/usr/bin/chromium';

/** Screenshots of the page tests go here (git-ignored: .tmp/ is in .gitignore). */
export const SCREENSHOT_DIR = new URL('../../../.tmp/test-artifacts/', import.meta.url).pathname;

export interface TestBrowser {
  page: Page;
  context: BrowserContext;
  /** Every console message and every request URL the page made. */
  console: string[];
  requests: string[];
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Headless Chromium with a new, empty profile, nothing fetched from outside, no GPU, no sandbox (root in CI). */
export async function startChromium(artifacts: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'hybridge-chromium-'));
  const shots = join(SCREENSHOT_DIR, artifacts);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLines: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  let n = 0;
  return {
    page,
    context,
    console: consoleLines,
    requests,
    async screenshot(name) {
      await page.screenshot({ path: join(shots, `${String(++n).padStart(2, '0')}-${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
