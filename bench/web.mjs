/* global document -- code inside page.evaluate runs in the browser */
// Web client in Debian's Chromium against a real daemon: page load → connected, replay of a long
// session on attach (events rendered per second), live events rendered per second while attached,
// and the size of what the daemon serves. Events come from session/configure (each one is a logged
// settings_changed event that the page renders as a line), so no model is needed. The live-events row interleaves
// its alternative (the same requests on a session no page watches) round by round.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { connectSocket } from '../clients/editor/dist/index.js';
import { SessionConfigure, SessionCreate } from '../protocol/dist/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { interleaveMeasured, row, stats } from './lib/interleave.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => {
  const st = stats(xs);
  return `${st.min.toFixed(0)}–${st.max.toFixed(0)} ms`;
};
const CHROMIUM = process.env.SHADOWBOX_CHROMIUM ?? '/usr/bin/chromium';

async function configureMany(client, sessionId, n) {
  const modes = ['review', 'auto'];
  for (let i = 0; i < n; i++) await client.request(SessionConfigure, { sessionId, mode: modes[i % 2] });
}

const notices = (page) => page.locator('[data-testid="notice"]').count();

export async function run() {
  const rows = [];
  const dist = path.join(root, 'clients/web/dist/assets');
  for (const f of readdirSync(dist)) {
    const bytes = readFileSync(path.join(dist, f));
    const ext = path.extname(f);
    rows.push({
      metric: `served ${ext} (gzip)`,
      value: gzipSync(bytes).length / 1024,
      unit: 'KiB',
      note: `${(bytes.length / 1024).toFixed(0)} KiB raw${ext === '.js' ? "; the protocol's zod schemas are most of it" : ''}`,
    });
  }

  const daemon = await startDaemon();
  const browser = await chromium.launch({
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
  try {
    const pageUrl = `${daemon.webUrl}#token=${encodeURIComponent(daemon.token)}`;
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const loads = [];
    const dcl = [];
    for (let i = 0; i < 7; i++) {
      const page = await context.newPage();
      const t = performance.now();
      await page.goto(pageUrl);
      await page.locator('[data-testid="link-state"][data-state="open"]').waitFor();
      loads.push(performance.now() - t);
      dcl.push(await page.evaluate(() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd));
      await page.close();
    }
    rows.push({
      metric: 'page load → connected (median of 7)',
      value: median(loads),
      unit: 'ms',
      note: `measured from the test process: navigation, scripts, /web/auth probe, WebSocket upgrade, initialize, first frame; 7 loads: ${range(loads)}`,
    });
    rows.push({
      metric: 'page load → DOMContentLoaded (median of 7)',
      value: median(dcl),
      unit: 'ms',
      note: `in-page navigation timing; 7 loads: ${range(dcl)}`,
    });

    const client = await connectSocket(daemon.socketPath);
    await client.initialize({ name: 'bench', kind: 'cli' });
    const workspace = os.tmpdir();
    const info = await client.request(SessionCreate, { workspace });
    const N = 2000;
    await configureMany(client, info.sessionId, N);

    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.locator('[data-testid="link-state"][data-state="open"]').waitFor();
    await page.locator(`[data-testid="session-item"][data-session="${info.sessionId}"]`).waitFor();
    const t0 = performance.now();
    await page.locator(`[data-testid="session-item"][data-session="${info.sessionId}"] button`).click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="notice"]').length >= n + 1, N, {
      polling: 20,
      timeout: 60_000,
    });
    const replayMs = performance.now() - t0;
    rows.push({
      metric: `replay on attach (${N} events)`,
      value: replayMs,
      unit: 'ms',
      note: `${Math.round((N / replayMs) * 1000)} events/s rendered, one DOM line each`,
    });

    // Live events: rounds of M configures on the session the page shows (each rendered before the round ends),
    // interleaved with M configures on a session no page watches (the same requests, nothing rendered).
    const M = 200;
    const other = await client.request(SessionCreate, { workspace });
    const watched = async () => {
      const before = await notices(page);
      const t1 = performance.now();
      await configureMany(client, info.sessionId, M);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="notice"]').length >= n, before + M, {
        polling: 10,
        timeout: 60_000,
      });
      return (M / (performance.now() - t1)) * 1000;
    };
    const unwatched = async () => {
      const t1 = performance.now();
      await configureMany(client, other.sessionId, M);
      return (M / (performance.now() - t1)) * 1000;
    };
    rows.push(
      row(
        `live events while attached (${M} a round)`,
        await interleaveMeasured(5, watched, unwatched),
        'sequential session/configure from a socket client → daemon log → WebSocket → rendered; baseline: the same configures on a session no page watches',
        'events/s',
      ),
    );
    client.dispose();
  } finally {
    await browser.close();
    await daemon.stop();
  }
  return { name: 'web', rows };
}
