import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDaemon } from '../helpers/daemon.js';
import { launchBrowser, makeWorkspace, openPage, screenshot, startWebDaemon } from './harness.js';

// Without a model: serving, auth, sessions, several tabs. A real daemon process and Debian's Chromium.
describe('web client: page, auth and sessions', () => {
  let browser: Browser;
  let daemon: TestDaemon & { pageUrl: string };
  let workspace: string;

  beforeAll(async () => {
    [browser, daemon, workspace] = await Promise.all([
      launchBrowser(),
      startWebDaemon(),
      makeWorkspace({ 'README.md': '# demo\n' }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await daemon?.cleanup();
  });

  it('serves the page with CSP, no-cache HTML, immutable hashed assets and no directory traversal', async () => {
    const res = await fetch(daemon.webUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(new URL(asset!, daemon.webUrl!));
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    for (const evil of [
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/%00x',
    ]) {
      const r = await fetch(new URL(evil, daemon.webUrl!));
      expect(r.status, evil).toBe(404);
    }
    expect((await fetch(daemon.webUrl!, { method: 'POST' })).status).toBe(405);
    // DNS-rebinding guard: a foreign Host gets nothing.
    const rebound = await new Promise<number>((resolve, reject) => {
      const u = new URL(daemon.webUrl!);
      import('node:http').then(
        ({ request }) =>
          request({ host: '127.0.0.1', port: u.port, path: '/', headers: { Host: `evil.example:${u.port}` } }, (r) =>
            resolve(r.statusCode ?? 0),
          )
            .on('error', reject)
            .end(),
        reject,
      );
    });
    expect(rebound).toBe(403);
  });

  it('moves the token out of the address bar and connects over the WebSocket sub-protocol', async () => {
    const page = await openPage(browser, daemon.pageUrl);
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate(() => sessionStorage.getItem('shadowbox.token'))).toBe(daemon.token);
    // A reload still connects (the tab keeps the token in sessionStorage, never in the URL).
    await page.reload();
    await page.locator('[data-testid="link-state"][data-state="open"]').waitFor();
    await page.context().close();
  });

  it('without a token shows how to get one; with a wrong one it says so and accepts a pasted token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(daemon.webUrl!);
    await page.getByTestId('auth-panel').waitFor({ state: 'visible' });
    expect(await page.getByTestId('auth-panel').innerText()).toContain('shadowbox web');
    await screenshot(page, 'no-token');
    await page.goto(`${daemon.webUrl}#token=wrong-token`);
    await page.reload();
    await page.locator('[data-testid="link-state"][data-state="unauthorized"]').waitFor();
    await page.getByTestId('token-input').fill(daemon.token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('[data-testid="link-state"][data-state="open"]').waitFor();
    await context.close();
  });

  it('a page from another origin cannot open the WebSocket, even with the token', async () => {
    // A real page on another origin (another loopback port), as a malicious site or a rebinding attempt would be.
    const { createServer } = await import('node:http');
    const evil = createServer((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>evil</body></html>'),
    );
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const evilPort = (evil.address() as { port: number }).port;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    const port = new URL(daemon.webUrl!).port;
    const result = await page.evaluate(
      ([p, t]) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${p}/rpc`, ['shadowbox.v1', `shadowbox.token.${t}`]);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('error');
        }),
      [port, daemon.token],
    );
    expect(result).toBe('error');
    // And it cannot read /web/auth either (no CORS), so it cannot probe the token.
    const probe = await page.evaluate(
      ([p, t]) =>
        fetch(`http://127.0.0.1:${p}/web/auth`, { headers: { Authorization: `Bearer ${t}` } }).then(
          (r) => `status ${r.status}`,
          () => 'blocked',
        ),
      [port, daemon.token],
    );
    expect(probe).toBe('blocked');
    await context.close();
    evil.close();
    // The daemon logged the refusals without the token.
    const log = await readFile(path.join(daemon.stateDir, 'daemon.log'), 'utf8').catch(() => '');
    expect(log + daemon.stderr()).toContain('bad_origin');
    expect(log + daemon.stderr()).not.toContain(daemon.token);
  });

  it('creates a session on a workspace, lists it, and a second tab sees the first one drive', async () => {
    const a = await openPage(browser, daemon.pageUrl);
    await a.getByTestId('workspace').fill(workspace);
    await a.getByTestId('create').click();
    await a.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
    const sessionId = new URL(a.url()).hash.replace('#session=', '');
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    await a.locator(`[data-testid="session-item"][data-session="${sessionId}"]`).waitFor();

    const b = await openPage(browser, daemon.pageUrl);
    await b.locator(`[data-testid="session-item"][data-session="${sessionId}"] button`).click();
    await b.getByTestId('role').filter({ hasText: 'watching' }).waitFor();
    expect(await b.getByTestId('prompt').isDisabled()).toBe(true);
    await a.getByTestId('others').filter({ hasText: '1 other client' }).waitFor();

    // Hand-over: b takes the driver role, a sees it live.
    await b.getByTestId('take-driver').click();
    await b.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
    await a.getByTestId('role').filter({ hasText: 'watching' }).waitFor();
    expect(await a.getByTestId('prompt').isDisabled()).toBe(true);
    await screenshot(b, 'two-tabs');

    // b leaves: a sees one client fewer.
    await b.context().close();
    await a.getByTestId('others').filter({ hasText: 'only you' }).waitFor();
    await a.context().close();
  });
});

describe('web client: daemon restart', () => {
  it('reconnects by itself after a restart (same port and token), resumes the session view, and asks for a fresh link once the token is rotated', async () => {
    const browser = await launchBrowser();
    const workspace = await makeWorkspace({ 'a.txt': 'a\n' });
    // Default port choice ("any"): the daemon remembers its port in the state dir and takes it again.
    let daemon = await startWebDaemon();
    const stateDir = daemon.stateDir;
    const firstUrl = daemon.webUrl;
    try {
      const page = await openPage(browser, daemon.pageUrl);
      await page.getByTestId('workspace').fill(workspace);
      await page.getByTestId('create').click();
      await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
      const sessionUrl = page.url();
      const itemsBefore = await page.locator('[data-testid="transcript"] .item').count();

      await daemon.stop();
      await page.locator('[data-testid="link-state"][data-state="waiting"]').waitFor({ timeout: 10_000 });
      await screenshot(page, 'daemon-down');

      daemon = await startWebDaemon({ stateDir });
      expect(daemon.webUrl).toBe(firstUrl);
      // Same port, same token (kept 0600 in the state dir): the page reconnects without any help.
      await page.locator('[data-testid="link-state"][data-state="open"]').waitFor({ timeout: 15_000 });
      // Same session, history not replayed twice, and this tab drives again (the old driver is gone).
      await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
      expect(page.url()).toBe(sessionUrl);
      expect(await page.locator('[data-testid="transcript"] .item').count()).toBeGreaterThanOrEqual(itemsBefore);
      const texts = await page.locator('[data-testid="transcript"] .item').allInnerTexts();
      expect(texts.filter((t) => t.startsWith('session created')).length).toBe(1);

      // Rotating the token (delete ws.token, restart): the old link stops working and the page says so.
      await daemon.stop();
      const { rm } = await import('node:fs/promises');
      await rm(path.join(stateDir, 'ws.token'));
      daemon = await startWebDaemon({ stateDir });
      await page.locator('[data-testid="link-state"][data-state="unauthorized"]').waitFor({ timeout: 15_000 });
      await page.getByTestId('token-input').fill(daemon.token);
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.locator('[data-testid="link-state"][data-state="open"]').waitFor();
      await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
      expect(page.url()).toBe(sessionUrl);
    } finally {
      await browser.close();
      await daemon.stop();
      await daemon.cleanup();
      const { rm } = await import('node:fs/promises');
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
