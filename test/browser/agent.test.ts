import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PolicySetRules, SessionAttach, SessionPrompt, ToolsCall } from '@shadowbox/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { launchBrowser, makeWorkspace, openPage, screenshot, startWebDaemon } from './harness.js';

const ORIGINAL = Array.from({ length: 30 }, (_, i) => `line${i + 1}`).join('\n') + '\n';

/** Clicks a permission answer on the open question and waits until the daemon resolved it. */
async function answer(page: Page, option: string): Promise<void> {
  const open = page.locator('[data-testid="permission"][data-outcome=""]').first();
  await open.waitFor({ timeout: 15_000 });
  await open.locator(`button[data-option="${option}"]`).click();
  await page.locator(`[data-testid="permission"][data-outcome="${option}"]`).last().waitFor();
}

// The real daemon with the OpenAI provider pointed at the scripted model server, the real tools,
// policy and shadow workspace; the page in Debian's Chromium does everything a person would.
describe('web client: agent turn, permissions, review', () => {
  let browser: Browser;
  let model: ModelServer;
  let daemon: TestDaemon & { pageUrl: string };
  let workspace: string;
  let page: Page;

  beforeAll(async () => {
    model = await startModelServer();
    workspace = await makeWorkspace({ 'notes.txt': ORIGINAL });
    [browser, daemon] = await Promise.all([
      launchBrowser(),
      startWebDaemon({
        env: openaiEnv(model),
      }),
    ]);
    // "Always ask" for edits in this project, so every edit shows a permission dialog.
    const admin = await daemon.connect('test-admin');
    await admin.request(PolicySetRules, { workspace, add: [{ action: 'ask', kind: 'edit' }], remove: [] });
    // The link from `shadowbox web` carries the workspace; the page offers it for a new session.
    page = await openPage(browser, `${daemon.pageUrl}&workspace=${encodeURIComponent(workspace)}`);
    expect(await page.getByTestId('workspace').inputValue()).toBe(workspace);
    await page.getByTestId('create').click();
    await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await daemon?.cleanup();
    await model?.close();
  });

  it('multi-turn with tool calls: permission approved twice and denied once, streamed text, tool cards', async () => {
    model.push(
      {
        text: ['I will ', 'read the ', 'file first.'],
        toolCalls: [{ id: 'c1', name: 'read_file', arguments: { path: 'notes.txt' } }],
      },
      {
        text: ['Changing line 2.'],
        toolCalls: [
          {
            id: 'c2',
            name: 'edit_file',
            arguments: { path: 'notes.txt', old_string: 'line2\n', new_string: 'LINE TWO\n' },
          },
        ],
      },
      {
        text: ['And line 28.'],
        toolCalls: [
          {
            id: 'c3',
            name: 'edit_file',
            arguments: { path: 'notes.txt', old_string: 'line28\n', new_string: 'LINE 28\n' },
          },
        ],
      },
      {
        text: ['Also a new file.'],
        toolCalls: [{ id: 'c4', name: 'write_file', arguments: { path: 'extra.txt', content: 'x\n' } }],
      },
      { text: ['Done: ', 'two **edits** are ', 'waiting for review.'], delayMs: 5 },
    );
    await page.getByTestId('prompt').fill('Uppercase lines 2 and 28 of notes.txt');
    await page.getByTestId('prompt').press('Enter');

    await page.locator('[data-testid="permission"][data-outcome=""]').waitFor();
    await screenshot(page, 'permission-dialog');
    await answer(page, 'allow_once');
    await answer(page, 'allow_once');
    await answer(page, 'deny');
    await page.locator('[data-testid="assistant-message"]').filter({ hasText: 'waiting for review' }).waitFor();
    await page.locator('[data-testid="session-state"]').filter({ hasText: 'idle' }).waitFor();

    // The model saw four tool results: read ok, two edits ok, the write denied.
    expect(model.requests).toHaveLength(5);
    const last = JSON.stringify(model.requests[4].body);
    expect(last).toMatch(/denied|deny/i);
    const cards = page.getByTestId('tool-card');
    expect(await cards.count()).toBe(4);
    expect(
      await cards.evaluateAll((els) =>
        els.map((e) => `${(e as HTMLElement).dataset.tool}:${(e as HTMLElement).dataset.status}`),
      ),
    ).toEqual(['read_file:completed', 'edit_file:completed', 'edit_file:completed', 'write_file:failed']);
    // Markdown rendered: **edits** became <strong>.
    expect(await page.locator('[data-testid="assistant-message"] strong').last().innerText()).toBe('edits');
    // Nothing touched the real file yet.
    expect(await readFile(path.join(workspace, 'notes.txt'), 'utf8')).toBe(ORIGINAL);
  });

  it('review: accepting one hunk writes exactly that hunk; reject drops the other; undo restores', async () => {
    const file = page.locator('[data-testid="review-file"][data-path="notes.txt"]');
    await file.waitFor();
    const hunks = file.getByTestId('hunk');
    await expect.poll(() => hunks.count()).toBe(2);
    await screenshot(page, 'review');
    await hunks.filter({ hasText: 'LINE TWO' }).getByTestId('accept-hunk').click();
    await expect
      .poll(() => readFile(path.join(workspace, 'notes.txt'), 'utf8'))
      .toBe(ORIGINAL.replace('line2\n', 'LINE TWO\n'));
    await expect.poll(() => hunks.count()).toBe(1);
    expect(await hunks.first().innerText()).toContain('LINE 28');

    await hunks.first().getByTestId('reject-hunk').click();
    await page.getByTestId('review-count').filter({ hasText: 'No pending changes' }).waitFor();
    expect(await readFile(path.join(workspace, 'notes.txt'), 'utf8')).toBe(ORIGINAL.replace('line2\n', 'LINE TWO\n'));

    await page.getByTestId('undo').click();
    await expect.poll(() => readFile(path.join(workspace, 'notes.txt'), 'utf8')).toBe(ORIGINAL);
  });

  it('shows a conflict when the person changed the same lines, and can overwrite on request; the audit tab verifies', async () => {
    model.push(
      {
        text: ['Line 5 too.'],
        toolCalls: [
          {
            id: 'c5',
            name: 'edit_file',
            arguments: { path: 'notes.txt', old_string: 'line5\n', new_string: 'LINE FIVE\n' },
          },
        ],
      },
      { text: ['ok'] },
    );
    await page.getByTestId('prompt').fill('uppercase line 5');
    await page.getByTestId('send').click();
    await answer(page, 'allow_once');
    await page.locator('[data-testid="session-state"]').filter({ hasText: 'idle' }).waitFor();
    const file = path.join(workspace, 'notes.txt');
    const { writeFile } = await import('node:fs/promises');
    const mine = ORIGINAL.replace('line5\n', 'person five\n');
    await writeFile(file, mine);
    const entry = page.locator('[data-testid="review-file"][data-path="notes.txt"]');
    await entry.getByTestId('accept-file').click();
    const conflicts = page.getByTestId('conflicts');
    await conflicts.waitFor();
    expect(await conflicts.innerText()).toContain('person five');
    expect(await readFile(file, 'utf8')).toBe(mine);
    await screenshot(page, 'conflict');
    await conflicts.getByRole('button', { name: 'Overwrite with the agent version' }).click();
    await expect.poll(() => readFile(file, 'utf8')).toContain('LINE FIVE');

    await page.getByTestId('tab-audit').click();
    await expect.poll(() => page.getByTestId('audit-row').count()).toBeGreaterThan(3);
    // Readable rows, not raw JSON: what happened to which file.
    const accepts = page.locator('[data-testid="audit-row"][data-type="shadow.accept"]');
    await expect.poll(() => accepts.first().innerText()).toMatch(/accepted 1 file\s*notes\.txt \((written|merged)\)/);
    expect(await page.getByTestId('audit-table').innerText()).not.toContain('{"');
    await page.getByTestId('audit-verify').click();
    await page.getByTestId('audit-verdict').filter({ hasText: 'chain intact' }).waitFor();
    await page.getByRole('button', { name: 'Review' }).click();
  });

  it('hostile model output stays inert', async () => {
    model.push({
      text: [
        'Here:\n\n<script>window.__pwned = 1</script>\n\n<img src=x onerror="window.__pwned = 2">\n\n',
        '[click me](javascript:window.__pwned=3) <iframe src="about:blank" onload="window.__pwned=4"></iframe>\n\n',
        '<a href="https://example.org" onclick="window.__pwned=5">site</a> <form action="https://evil"><input name=q></form>\n\n',
        '```html\n<b>not bold</b>\n```\n',
      ],
    });
    await page.getByTestId('prompt').fill('show me something');
    await page.getByTestId('send').click();
    const msg = page.locator('[data-testid="assistant-message"]').filter({ hasText: 'Here:' });
    await msg.waitFor();
    await page.locator('[data-testid="session-state"]').filter({ hasText: 'idle' }).waitFor();
    await page
      .locator('[data-testid="assistant-message"]')
      .filter({ hasText: 'click me' })
      .locator('a')
      .first()
      .waitFor();
    // Clicking what was a javascript: link does nothing (its href is gone); no network needed.
    await msg.locator('a', { hasText: 'click me' }).click();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await msg.locator('script, img, iframe, form, input, [onclick], [onerror], [style]').count()).toBe(0);
    expect(await msg.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await msg.locator('pre code').innerText()).toContain('<b>not bold</b>');
    await screenshot(page, 'hostile-markdown');
  });

  it('shows a turn driven by another client live, and cancel stops a hanging turn', async () => {
    const sessionId = new URL(page.url()).hash.replace('#session=', '');
    const terminal = await daemon.connect('shadowbox-terminal');
    await terminal.request(SessionAttach, { sessionId, fromSeq: 0, driver: true });
    await page.getByTestId('role').filter({ hasText: 'watching' }).waitFor();
    model.push({ text: ['From the ', 'terminal.'] });
    await terminal.request(SessionPrompt, { sessionId, text: 'hello from the terminal' });
    await page.locator('[data-testid="user-message"]').filter({ hasText: 'hello from the terminal' }).waitFor();
    await page.locator('[data-testid="assistant-message"]').filter({ hasText: 'From the terminal.' }).waitFor();

    await page.getByTestId('take-driver').click();
    await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
    model.push({ text: ['Thinking forever'], hang: true });
    await page.getByTestId('prompt').fill('never ends');
    await page.getByTestId('send').click();
    await page.locator('[data-testid="assistant-message"]').filter({ hasText: 'Thinking forever' }).waitFor();
    await page.getByTestId('cancel').click();
    await page.locator('[data-testid="notice"]').filter({ hasText: 'turn cancelled' }).waitFor();
    await page.locator('[data-testid="session-state"]').filter({ hasText: 'idle' }).waitFor();
    await screenshot(page, 'session');
  });

  it("shows another client's direct tools/call as a tool card marked with who ran it, refusals failed with their reason", async () => {
    const sessionId = new URL(page.url()).hash.replace('#session=', '');
    const cli = await daemon.connect('shadowbox-exec');
    await cli.request(SessionAttach, { sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
    // This project asks for edits: the page (a permission-capable client) is asked and allows it.
    const call = cli.request(ToolsCall, {
      sessionId,
      tool: 'write_file',
      input: { path: 'direct.txt', content: 'from the cli\n' },
    });
    await answer(page, 'allow_once');
    const r = await call;
    expect(r.isError).toBe(false);
    const card = page.locator(`[data-testid="tool-card"][data-id="${r.callId}"]`);
    await card.and(page.locator('[data-status="completed"]')).waitFor();
    expect(await card.getAttribute('data-origin')).toBe('client');
    expect(await card.getByTestId('tool-by').innerText()).toBe('run by shadowbox-exec (test)');
    expect(await card.textContent()).toContain('changed: direct.txt');

    const bad = await cli.request(ToolsCall, { sessionId, tool: 'no_such_tool', input: {} });
    const failed = page.locator(`[data-testid="tool-card"][data-id="${bad.callId}"]`);
    await failed.and(page.locator('[data-status="failed"]')).waitFor();
    expect(await failed.innerText()).toContain('unknown_tool');
    await screenshot(page, 'direct-call');
    cli.dispose();
  });
});
