// Issue 19's web page in Debian's Chromium against a real daemon: a layout that works at 1280, 900 and
// 390 px (screenshots at each width; SHADOWBOX_DOCS_SCREENSHOTS=1 also writes the ones docs/web.md shows),
// the model chosen when starting a session, highlighted code with a copy button, side-by-side diffs, a hunk
// split at unchanged lines, permission cards that show what is being approved, and readable audit rows.
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PolicySetRules } from '@shadowbox/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { launchBrowser, makeWorkspace, screenshot, startWebDaemon } from './harness.js';

const LINES = Array.from({ length: 30 }, (_, i) => `x${i + 1} = ${i + 1}`).join('\n') + '\n';
// Two fixes six lines apart: one hunk, two runs of changes.
const TWO_FIXES = LINES.replace('x10 = 10\n', 'x10 = 100\n').replace('x16 = 16\n', 'x16 = 160\n');
const docs = process.env.SHADOWBOX_DOCS_SCREENSHOTS === '1';

async function shot(page: Page, name: string): Promise<void> {
  const file = await screenshot(page, name);
  if (docs) await copyFile(file, path.join(repoRoot, 'docs', `${name}.png`));
}

const contexts: BrowserContext[] = [];

async function pageAt(browser: Browser, url: string, width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  contexts.push(context);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('link-state').and(page.locator('[data-state="open"]')).waitFor({ timeout: 15_000 });
  return page;
}

/** Nothing is wider than the window: no sideways scrolling at this width. */
async function noHorizontalOverflow(page: Page): Promise<void> {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll).toBeLessThanOrEqual(inner);
}

describe('web client for a newcomer: widths, model choice, code, diffs, approvals, audit', () => {
  let browser: Browser;
  let model: ModelServer;
  let daemon: TestDaemon & { pageUrl: string };
  let workspace: string;
  let url: string;

  beforeAll(async () => {
    model = await startModelServer();
    workspace = await makeWorkspace({ 'src/tools/calc.py': LINES });
    [browser, daemon] = await Promise.all([
      launchBrowser(),
      startWebDaemon({
        env: openaiEnv(model),
      }),
    ]);
    url = `${daemon.pageUrl}&workspace=${encodeURIComponent(workspace)}`;
  });
  // A page left open by a failed test would keep the driver role: every test starts with none open.
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  });
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await daemon?.cleanup();
    await model?.close();
  });

  it('starts a session with the chosen model; code is highlighted and copied; the turn leaves a footer slot', async () => {
    const page = await pageAt(browser, url, 1280, 800);
    await page.getByTestId('model').fill('openai/other-model');
    await page.getByTestId('create').click();
    await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
    expect(await page.locator('.session-head .meta').innerText()).toContain('openai/other-model');
    model.push(
      {
        text: ['The idea:\n\n```python\ndef total(xs):\n    return sum(xs)  # all of them\n```\n\nApplying it.'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'src/tools/calc.py', content: TWO_FIXES } }],
      },
      { text: ['Two fixes, six lines apart.'] },
    );
    await page.getByTestId('prompt').fill('fix calc');
    await page.getByTestId('send').click();
    await page.getByText('Two fixes, six lines apart.').waitFor();
    expect((model.requests.at(-1)!.body as { model: string }).model).toBe('other-model');
    // Highlighted as Python (highlight.js spans), with a copy button that copies the code's text.
    const block = page.locator('.code-block').first();
    expect(await block.locator('.hljs-keyword').first().innerText()).toBe('def');
    expect(await block.locator('.hljs-comment').innerText()).toBe('# all of them');
    await block.getByTestId('copy-code').click();
    await block.getByTestId('copy-code').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
      'def total(xs):\n    return sum(xs)  # all of them\n',
    );
    // The slot where the turn footer (time, tokens) goes, once the turn has ended.
    await page.locator('[data-slot="turn-footer"]').waitFor({ state: 'attached' });
    expect(await page.locator('[data-slot="turn-footer"]').count()).toBe(1);
  });

  for (const [width, height] of [
    [1280, 800],
    [900, 800],
    [390, 844],
  ] as const) {
    it(`works at ${width} px: every pane reachable, the chat wide enough, file names whole, nothing sideways`, async () => {
      const page = await pageAt(browser, url, width, height);
      if (width < 1200) {
        // The session list is a drawer here.
        await page.getByTestId('drawer-toggle').click();
      }
      await page.getByTestId('session-item').first().locator('button').click();
      await page.getByText('Two fixes, six lines apart.').waitFor();
      const chat = await page.locator('main').boundingBox();
      if (width === 1280) {
        expect(await page.locator('.side-left').isVisible()).toBe(true);
        expect(chat!.width).toBeGreaterThanOrEqual(480);
      }
      if (width === 900) expect(chat!.width).toBeGreaterThanOrEqual(480);
      if (width === 390) {
        expect(chat!.width).toBeGreaterThanOrEqual(380);
        expect(await page.getByTestId('review').isVisible()).toBe(false);
      }
      await noHorizontalOverflow(page);
      await shot(page, `web-${width}`);
      if (width === 390) {
        await page.getByTestId('pane-review').click();
        expect(await page.getByTestId('pane-review').innerText()).toBe('Review (1)');
        await noHorizontalOverflow(page);
      }
      // The review: the whole file name is shown (wrapped if need be, never cut).
      const name = page.locator('[data-testid="review-file"] .path').first();
      await name.waitFor();
      expect(await name.innerText()).toBe('src/tools/calc.py');
      const [scrollW, clientW] = await name.evaluate((el) => [el.scrollWidth, el.clientWidth]);
      expect(scrollW).toBeLessThanOrEqual(clientW);
      if (width === 390) await shot(page, `web-${width}-review`);
    });
  }

  it('side by side and split: one run of a hunk is accepted alone; the other stays pending', async () => {
    const page = await pageAt(browser, url, 1280, 800);
    await page.getByTestId('session-item').first().locator('button').click();
    const hunk = page.getByTestId('hunk').first();
    await hunk.waitFor();
    await page.getByTestId('layout-split').click();
    await page.locator('table.diff-split').first().waitFor();
    // Old on the left, new on the right, on one row.
    const row = page.locator('table.diff-split tr.change').first();
    expect(await row.locator('td.del').innerText()).toBe('x10 = 10');
    expect(await row.locator('td.add').innerText()).toBe('x10 = 100');
    // Python highlighting in the diff: the numbers are number tokens.
    expect(await row.locator('td.add .hljs-number').innerText()).toBe('100');
    await hunk.getByTestId('split-hunk').click();
    expect(await hunk.getByTestId('accept-block').count()).toBe(2);
    await shot(page, 'web-split-hunk');
    await hunk.getByTestId('accept-block').first().click();
    const file = path.join(workspace, 'src/tools/calc.py');
    await expect.poll(() => readFile(file, 'utf8')).toBe(LINES.replace('x10 = 10\n', 'x10 = 100\n'));
    // What is left is the second fix alone.
    await expect.poll(() => page.locator('[data-testid="hunk"] td.add').allInnerTexts()).toEqual(['x16 = 160']);
    await page.getByTestId('layout-unified').click();
  });

  it('a permission card shows what is being approved, and only the answers that take effect', async () => {
    const admin = await daemon.connect('test-admin');
    await admin.request(PolicySetRules, {
      workspace,
      add: [
        { action: 'ask', tool: 'write_file' },
        { action: 'ask', tool: 'python' },
      ],
      remove: [],
    });
    const page = await pageAt(browser, url, 1280, 800);
    await page.getByTestId('session-item').first().locator('button').click();
    await page.getByText('Two fixes, six lines apart.').waitFor();
    model.push(
      {
        text: ['Also x3.'],
        toolCalls: [
          {
            name: 'write_file',
            arguments: { path: 'src/tools/calc.py', content: TWO_FIXES.replace('x3 = 3\n', 'x3 = 30\n') },
          },
        ],
      },
      { text: ['And a check.'], toolCalls: [{ name: 'python', arguments: { code: 'import calc\nprint(calc.x3)' } }] },
      { text: ['Done.'] },
    );
    await page.getByTestId('prompt').fill('x3 too');
    await page.getByTestId('send').click();
    const card = page.locator('[data-testid="permission"][data-outcome=""]').first();
    await card.waitFor();
    // The diff of the write against the file as the agent has it now: only x3 changes.
    const approval = card.getByTestId('approval');
    await expect.poll(() => approval.locator('td.del').allInnerTexts()).toEqual(['x3 = 3']);
    expect(await approval.locator('td.add').allInnerTexts()).toEqual(['x3 = 30']);
    // An "always ask" rule: remembering an allow would do nothing, so it is not offered.
    expect(
      await card.locator('button[data-option]').evaluateAll((b) => b.map((x) => x.getAttribute('data-option'))),
    ).toEqual(['allow_once', 'deny']);
    await shot(page, 'web-permission');
    // At 390 px one pane shows at a time: from the Review tab the Chat tab says a question waits.
    const phone = await pageAt(browser, url, 390, 844);
    await phone.getByTestId('drawer-toggle').click();
    await phone.getByTestId('session-item').first().locator('button').click();
    await phone.getByTestId('pane-review').click();
    const chatTab = phone.getByTestId('pane-chat');
    await expect.poll(() => chatTab.innerText()).toBe('Chat ?');
    expect(await chatTab.getAttribute('class')).toContain('asking');
    expect(await chatTab.isVisible()).toBe(true);
    await card.locator('button[data-option="allow_once"]').click();
    // The code the python call would run, highlighted.
    const code = page.locator('[data-testid="permission"][data-outcome=""]').getByTestId('approval-code');
    await code.waitFor();
    expect(await code.innerText()).toBe('import calc\nprint(calc.x3)');
    expect(await code.locator('.hljs-keyword').first().innerText()).toBe('import');
    await page.locator('[data-testid="permission"][data-outcome=""] button[data-option="deny"]').click();
    await page.getByText('Done.').waitFor();
    // No question left: the tab is plain again.
    await expect.poll(() => chatTab.innerText()).toBe('Chat');
    admin.dispose();
  });

  it('the audit tab reads as rows: what happened to which file, with the raw entry on demand', async () => {
    const page = await pageAt(browser, url, 1280, 800);
    await page.getByTestId('session-item').first().locator('button').click();
    await page.getByTestId('tab-audit').click();
    const accept = page.locator('[data-testid="audit-row"][data-type="shadow.accept"]').first();
    await accept.waitFor();
    expect(await accept.locator('.audit-what').innerText()).toBe('accepted 1 file');
    expect(await accept.locator('.audit-details').innerText()).toContain('src/tools/calc.py (written)');
    const call = page.locator('[data-testid="audit-row"][data-type="tool.call"]').first();
    expect(await call.locator('.audit-what').innerText()).toMatch(/^tool (python|write_file)$/);
    expect(await call.locator('details pre').isVisible()).toBe(false);
    await shot(page, 'web-audit');
  });
});
