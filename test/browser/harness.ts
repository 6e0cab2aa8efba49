import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

/** Debian's Chromium; the suite never downloads a browser. */
export const CHROMIUM = process.env.SHADOWBOX_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(repoRoot, 'test-results', 'browser');
export const DIST = path.join(repoRoot, 'clients/web/dist');

/** Headless Chromium with the flags CI needs when running as root. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Saves a full-page screenshot under test-results/browser/ (CI keeps it as an artifact). */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/** A real daemon process with its web server (the page must have been built: npm run build). */
export async function startWebDaemon(
  opts: { env?: NodeJS.ProcessEnv; stateDir?: string; port?: number } = {},
): Promise<TestDaemon & { pageUrl: string }> {
  await readFile(path.join(DIST, 'index.html')).catch(() => {
    throw new Error(`the web client is not built (${DIST}/index.html missing): run npm run build`);
  });
  const d = await startTestDaemon({
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    env: { SHADOWBOX_MODEL: 'openai/test-model', ...opts.env },
    ...(opts.port ? { args: ['--ws-port', String(opts.port)] } : {}),
  });
  if (!d.webUrl) throw new Error('the daemon started without its web server');
  return Object.assign(d, { pageUrl: `${d.webUrl}#token=${encodeURIComponent(d.token)}` });
}

/** A fresh workspace directory with a few files (and a git repo, like a real project). */
export async function makeWorkspace(files: Record<string, string>): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const dir = await makeTempDir('sbx-ws');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** Opens the page with the token and waits until it is connected. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('link-state').and(page.locator('[data-state="open"]')).waitFor({ timeout: 15_000 });
  return page;
}
