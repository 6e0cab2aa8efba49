// `shadowbox lsp` in the real Neovim from Debian (headless, its built-in LSP client, configured by the
// init.lua below) against a real daemon running a scripted agent turn: progress and a message while the turn
// runs, the diagnostic of the pending hunk, the accept code action editing the buffer (an unsaved edit of
// the person's kept), the save recorded with the daemon, and an accept from the CLI meanwhile clearing the
// diagnostics of a file Neovim never opened.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCreate, SessionPrompt, ShadowStatus } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { makeTempDir, runCli, shadowboxBin, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { findNvim, startNvim, type Nvim } from './nvim.js';

const nvimBin = findNvim();
if (!nvimBin)
  console.warn(
    "\n*** test/lsp/neovim.test.ts SKIPPED: `nvim` is not installed (scripts/setup.sh installs Debian's neovim) ***\n",
  );

// Works on Neovim 0.7 (Debian 12): start_client + buf_attach_client; vim.lsp.start (0.8+) when present.
const initLua = (cmd: string[], root: string) => `
vim.o.swapfile = false
vim.o.hidden = true
vim.o.autoread = true
_G.sbx = { messages = {}, progress = {}, pick = nil, picked = nil }
local progress = vim.lsp.handlers['$/progress']
vim.lsp.handlers['$/progress'] = function(err, result, ctx, config)
  table.insert(_G.sbx.progress, result.value.kind)
  return progress(err, result, ctx, config)
end
vim.lsp.handlers['window/showMessage'] = function(_, result) table.insert(_G.sbx.messages, result) end
-- The code-action menu, answered by title (a person picking from vim.ui.select).
vim.ui.select = function(items, opts, on_choice)
  for i, item in ipairs(items) do
    if opts.format_item(item) == _G.sbx.pick then _G.sbx.picked = _G.sbx.pick; return on_choice(item, i) end
  end
  _G.sbx.picked = false
  on_choice(nil, nil)
end
local config = { name = 'shadowbox', cmd = ${luaList(cmd)}, root_dir = ${JSON.stringify(root)} }
if vim.lsp.start then
  vim.api.nvim_create_autocmd('BufReadPost', { callback = function() vim.lsp.start(config) end })
else
  _G.sbx.client = vim.lsp.start_client(config)
  vim.api.nvim_create_autocmd('BufReadPost', {
    callback = function(args) vim.lsp.buf_attach_client(args.buf, _G.sbx.client) end,
  })
end
`;
const luaList = (xs: string[]) => `{ ${xs.map((x) => JSON.stringify(x)).join(', ')} }`;

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Polls `f` until it returns a truthy value (a generous overall limit; nothing here measures time). */
async function until<T>(f: () => Promise<T>, what: string, ms = 30_000): Promise<Truthy<T>> {
  const t = Date.now();
  let last: T | undefined;
  for (;;) {
    last = await f();
    if (last) return last as Truthy<T>;
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!nvimBin)('shadowbox lsp in headless Neovim', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  let home: string;
  let driver: ShadowboxClient;
  let nvim: Nvim | null = null;
  const A = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n';

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    ws = await makeTempDir('lspws');
    home = await makeTempDir('nvimhome');
    await writeFile(path.join(ws, 'a.txt'), A);
    await writeFile(path.join(ws, 'b.txt'), 'alpha\nbeta\n');
    driver = await d.connect('driver');
  });
  afterAll(async () => {
    if (nvim) await nvim.quit();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    for (const dir of [ws, home]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows a turn and its hunks, accepts into the buffer keeping an unsaved edit, records the save; a CLI accept refreshes the diagnostics', async () => {
    const session = await driver.request(SessionCreate, { workspace: ws });
    await mkdir(path.join(home, 'config'), { recursive: true });
    const init = path.join(home, 'init.lua');
    await writeFile(init, initLua([process.execPath, shadowboxBin, 'lsp'], ws));
    nvim = await startNvim({ init, cwd: ws, files: ['a.txt'], env: d.env, home });
    const nv = nvim;
    await until(
      () =>
        nv.lua<boolean>(
          'local c = vim.lsp.buf_get_clients(0); return next(c) ~= nil and c[next(c)].initialized == true',
        ),
      'the language server attached to a.txt',
    );

    // The agent's turn: one edit in a.txt (open), one in b.txt (never opened).
    model.push(
      {
        toolCalls: [
          { name: 'edit_file', arguments: { path: 'a.txt', old_string: 'three', new_string: 'THREE' } },
          { name: 'edit_file', arguments: { path: 'b.txt', old_string: 'beta', new_string: 'BETA' } },
        ],
      },
      { text: ['Done.'] },
    );
    expect((await driver.request(SessionPrompt, { sessionId: session.sessionId, text: 'shout' })).stopReason).toBe(
      'end_turn',
    );

    const diagsOf = (file: string) =>
      nv.lua<Array<{ lnum: number; message: string; source: string; severity: number }>>(
        `local out = {}
         for _, d in ipairs(vim.diagnostic.get()) do
           if vim.api.nvim_buf_get_name(d.bufnr) == ... then
             table.insert(out, { lnum = d.lnum, message = d.message, source = d.source, severity = d.severity })
           end
         end
         return out`,
        [path.join(ws, file)],
      );
    const a = await until(
      async () => (await diagsOf('a.txt')).length === 1 && diagsOf('a.txt'),
      'the a.txt diagnostic',
    );
    expect(a).toEqual([
      { lnum: 2, message: 'agent replaces 1 line with 1 line: "three" → "THREE"', source: 'shadowbox', severity: 3 },
    ]);
    const b = await until(
      async () => (await diagsOf('b.txt')).length === 1 && diagsOf('b.txt'),
      'the b.txt diagnostic (never opened)',
    );
    expect(b[0]).toMatchObject({ lnum: 1, source: 'shadowbox' });
    const message = await until(
      () =>
        nv.lua<string | null>(
          "for _, m in ipairs(_G.sbx.messages) do if m.message:find('pending') then return m.message end end return nil",
        ),
      'the end-of-turn message',
    );
    expect(message).toContain('2 changes pending in 2 files');
    const kinds = await until(async () => {
      const k = await nv.lua<string[]>('return _G.sbx.progress');
      return k.includes('end') && k;
    }, 'progress begin … end');
    expect(kinds[0]).toBe('begin');

    // The person edits line 1 (unsaved), then accepts the agent's change on line 3 with the code action.
    await nv.lua(`vim.api.nvim_buf_set_lines(0, 0, 1, false, { 'ONE (mine)' })
      vim.api.nvim_win_set_cursor(0, { 3, 0 })
      _G.sbx.pick = 'Accept agent change'
      vim.lsp.buf.code_action()`);
    const lines = () => nv.lua<string[]>('return vim.api.nvim_buf_get_lines(0, 0, -1, false)');
    await until(async () => (await lines())[2] === 'THREE', 'THREE in the buffer');
    expect(await nv.lua('return _G.sbx.picked')).toBe('Accept agent change');
    expect(await lines()).toEqual(['ONE (mine)', 'two', 'THREE', 'four', 'five', 'six', 'seven', 'eight']);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe(A);

    // Saving writes both; the daemon records the accept, and a.txt is no longer pending.
    await nv.lua("vim.cmd('write')");
    await until(
      async () =>
        !(await driver.request(ShadowStatus, { sessionId: session.sessionId })).files.some((f) => f.path === 'a.txt'),
      'a.txt recorded as accepted',
    );
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe(
      A.replace('one', 'ONE (mine)').replace('three', 'THREE'),
    );
    await until(async () => (await diagsOf('a.txt')).length === 0, 'the a.txt diagnostic gone');

    // Another client (the CLI) accepts b.txt meanwhile: Neovim's diagnostics follow.
    const cli = await runCli(['accept', 'b.txt', '--session', session.sessionId], d.env, { cwd: ws });
    expect(cli.code, cli.stderr).toBe(0);
    await until(async () => (await diagsOf('b.txt')).length === 0, 'the b.txt diagnostic gone after the CLI accept');
    expect(await readFile(path.join(ws, 'b.txt'), 'utf8')).toBe('alpha\nBETA\n');

    expect(await nv.quit()).toBe(0);
    nvim = null;
  });
});
