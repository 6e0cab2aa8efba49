// "Stopped at N matches" must be said whenever lines past the first `max_matches` exist: with exactly `max` lines in
// the first files, the search used to stop there and say nothing about a later file's lines (review S2, s6).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import { createToolRuntime } from '../index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from '../test-support.js';
import { createBuiltinTools } from './index.js';
import { findRipgrep } from './grep-rg.js';

const rg = findRipgrep();
const NOTE = '[stopped at 3 matches; narrow the pattern, path or glob]';
let ws: ReturnType<typeof makeWorkspace>;

/** a.txt with three matching lines, 1,500 files without one, then (when `tail`) z.txt with one more. */
function tree(tail: boolean): Record<string, string> {
  const files: Record<string, string> = { 'a.txt': 'foo 1\nfoo 2\nfoo 3\n' };
  for (let i = 0; i < 1500; i++) files[`m/f${String(i).padStart(4, '0')}.txt`] = `nothing here ${i}\n`;
  if (tail) files['z.txt'] = 'foo 4\n';
  return files;
}

async function grep(withRg: boolean, input: Record<string, unknown>) {
  const runtime = createToolRuntime({
    tools: createBuiltinTools({ rg: withRg ? rg : null }),
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const view = await ws.open().view('s', ws.root);
  const agent = runtime.forSession(sessionContext(view).ctx);
  const r = await agent.call({ turnId: 't', callId: 'c1', name: 'grep', input, signal: new AbortController().signal });
  // Without rg, past 1,000 files the output also says rg would be faster.
  return { ...r, lines: r.content.split('\n').filter((l) => !l.startsWith('[searched in process')) };
}

afterEach(async () => {
  await ws.cleanup();
});

for (const withRg of rg ? [false, true] : [false]) {
  describe(`grep max_matches ${withRg ? 'with rg' : 'in process'}`, () => {
    describe('the first file holds exactly max lines and a later one more', () => {
      beforeEach(() => {
        ws = makeWorkspace(tree(true), { git: false });
      });
      it('shows the first max lines and says it stopped', async () => {
        const r = await grep(withRg, { pattern: 'foo', max_matches: 3 });
        expect(r.lines).toEqual(['a.txt:1: foo 1', 'a.txt:2: foo 2', 'a.txt:3: foo 3', NOTE]);
        expect(r.data).toMatchObject({ matches: 3, truncated: true });
      });
    });
    describe('exactly max lines in the whole tree', () => {
      beforeEach(() => {
        ws = makeWorkspace(tree(false), { git: false });
      });
      it('shows them and does not say it stopped', async () => {
        const r = await grep(withRg, { pattern: 'foo', max_matches: 3 });
        expect(r.lines).toEqual(['a.txt:1: foo 1', 'a.txt:2: foo 2', 'a.txt:3: foo 3']);
        expect(r.data).toMatchObject({ matches: 3, truncated: false });
      });
    });
  });
}
