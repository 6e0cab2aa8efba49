// The agent features on the web page, in Debian's Chromium against a real daemon and the scripted model:
// the live plan checklist, the turn footer (time and tokens), instruction files in the header, slash
// commands typed in the composer, a pasted image sent with the prompt, and rewound turns marked.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDaemon } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { launchBrowser, makeWorkspace, openPage, screenshot, startWebDaemon } from './harness.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('send').isEnabled();
  await page.getByTestId('prompt').fill(text);
  await page.getByTestId('send').click();
}

describe('web client: plan, footer, instructions, commands, images, rewind', () => {
  let browser: Browser;
  let model: ModelServer;
  let daemon: TestDaemon & { pageUrl: string };
  let page: Page;

  beforeAll(async () => {
    model = await startModelServer();
    const workspace = await makeWorkspace({ 'AGENTS.md': 'Use tabs.\n', 'a.txt': 'one\n' });
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({ models: { 'openai/test-model': { images: true, prices: { input: 2, output: 10 } } } }),
    );
    [browser, daemon] = await Promise.all([
      launchBrowser(),
      startWebDaemon({
        stateDir,
        env: openaiEnv(model),
      }),
    ]);
    page = await openPage(browser, `${daemon.pageUrl}&workspace=${encodeURIComponent(workspace)}`);
    await page.getByTestId('create').click();
    await page.getByTestId('role').filter({ hasText: 'you drive' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await daemon?.cleanup();
    await model?.close();
  });

  it('shows the plan live, the footer with time and tokens, and the instruction files', async () => {
    model.push(
      {
        toolCalls: [
          {
            name: 'plan',
            arguments: {
              items: [
                { content: 'read a.txt', status: 'done' },
                { content: 'edit a.txt', status: 'in_progress' },
              ],
            },
          },
        ],
        usage: { input: 1000, output: 20, cached: 400 },
      },
      {
        toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'ONE\n' } }],
        usage: { input: 1100, output: 20, cached: 500 },
      },
      { text: ['Edited.'], usage: { input: 1200, output: 10 } },
    );
    await send(page, 'edit a.txt');
    await page
      .locator('[data-testid="plan-item"][data-status="in_progress"]')
      .filter({ hasText: 'edit a.txt' })
      .waitFor();
    const footer = page.getByTestId('turn-footer').last();
    await footer.waitFor();
    // 3,300 in (900 cached) / 50 out; (3300·2 + 50·10)/1e6 = $0.0071
    expect(await footer.textContent()).toMatch(
      /^done · [\d.]+ (ms|s) · 3,300 tokens in \(900 cached\) \/ 50 out · \$0\.0071$/,
    );
    expect(await page.getByTestId('instructions').textContent()).toContain('AGENTS.md');
    await screenshot(page, 'agent-features-plan');
  });

  it('a slash command in the composer runs in the daemon; a pasted image goes with the next prompt', async () => {
    await send(page, '/review');
    await page.getByTestId('notice').filter({ hasText: 'a.txt' }).last().waitFor();
    expect(await page.getByTestId('notice').last().textContent()).toContain('```diff');
    // Paste an image into the composer.
    await page.getByTestId('prompt').focus();
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dot.png', { type: 'image/png' }));
      const ta = document.querySelector('[data-testid="prompt"]')!;
      ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, PNG);
    await page.getByTestId('attachment').filter({ hasText: 'dot.png' }).waitFor();
    model.push({ text: ['A dot.'] });
    await send(page, 'what is this?');
    await page.getByTestId('user-images').filter({ hasText: 'dot.png' }).waitFor();
    await page.getByTestId('turn-footer').nth(1).waitFor();
    expect(JSON.stringify(model.requests.at(-1)!.body)).toContain(`data:image/png;base64,${PNG}`);
    expect(await page.getByTestId('attachment').count()).toBe(0);
  });

  it('/rewind marks the later turns rewound and keeps them visible', async () => {
    await send(page, '/rewind 1');
    await page.locator('.item.rewound[data-testid="user-message"]').filter({ hasText: 'what is this?' }).waitFor();
    expect(await page.locator('.item.rewound[data-testid="user-message"]').count()).toBe(1);
    expect(await page.getByTestId('user-message').count()).toBe(2);
  });
});
