// The walk grep, glob and list_dir share: .gitignore rules by name and by path, and walkBatches' runs
// giving walk()'s order. Over the real layered view of a temp workspace.
import { afterEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import { byNameOnly, walk, walkBatches } from './walk.js';

let ws: ReturnType<typeof makeWorkspace> | null = null;
afterEach(async () => {
  await ws?.cleanup();
  ws = null;
});

const tree = {
  '.gitignore': 'dist/\n*.log\n!keep.log\n',
  'a/dist/x.ts': 'x',
  'a/dist.ts': 'x',
  'a/b.log': 'x',
  'a/keep.log': 'x',
  'a/x.log/y.ts': 'x',
  'b/dist': 'a file named dist',
  'b/gen.ts': 'x',
  'b/c/.gitignore': '/gen.ts\n',
  'b/c/gen.ts': 'x',
  'b/c/d/gen.ts': 'x',
  'e/gen.ts': 'x',
};

describe('walk', () => {
  it('gives the event loop a turn while it walks, though small folders are listed synchronously', async () => {
    const many: Record<string, string> = {};
    for (let d = 0; d < 30; d++) many[`d${d}/f.txt`] = 'x';
    ws = makeWorkspace(many, { git: false });
    const view = await ws.open().view('s1', ws.root);
    const walked = async (sliceMs: number) => {
      let turns = 0;
      const tick = () => {
        turns++;
        timer = setImmediate(tick);
      };
      let timer = setImmediate(tick);
      let batches = 0;
      for await (const _ of walkBatches(view, '', { sliceMs })) batches++;
      clearImmediate(timer);
      return { turns, batches };
    };
    // Every listing here is synchronous: without a turn taken on purpose the whole walk runs in one.
    expect((await walked(60_000)).turns).toBe(0);
    const sliced = await walked(0);
    expect(sliced.batches).toBeGreaterThan(30);
    expect(sliced.turns).toBeGreaterThan(20);
  });

  it('applies rules by name at every depth and rules with a path only at their path (the per-name answers are not reused for those)', async () => {
    ws = makeWorkspace(tree, { git: false });
    const view = await ws.open().view('s1', ws.root);
    const seen: Record<string, boolean> = {};
    for await (const e of walk(view, '')) seen[e.path] = e.ignored;
    expect(seen).toMatchObject({
      'a/dist': true,
      'a/dist.ts': false,
      'a/b.log': true,
      'a/keep.log': false,
      'a/x.log': true,
      'b/dist': false, // dist/ names folders only
      'b/gen.ts': false,
      'b/c/gen.ts': true,
      'b/c/d/gen.ts': false,
      'e/gen.ts': false,
    });
    expect(Object.keys(seen)).not.toContain('a/dist/x.ts'); // an ignored folder is not entered
    expect(Object.keys(seen)).not.toContain('a/x.log/y.ts');
  });

  it('a rule with a slash before trailing tabs or no-break spaces is a path rule: git trims only spaces', async () => {
    for (const ws2 of ['\t', '\u00a0', '\u3000']) {
      ws = makeWorkspace(
        { '.gitignore': `foo/${ws2}\n`, [`a/${ws2}`]: 'shown', [`foo/${ws2}`]: 'ignored', 'foo/ok': 'x' },
        { git: false },
      );
      const view = await ws.open().view('s1', ws.root);
      const seen: Record<string, boolean> = {};
      for await (const e of walk(view, '')) seen[e.path] = e.ignored;
      // The answer for `a/<ws>` (met first) must not be reused for `foo/<ws>`.
      expect(seen[`a/${ws2}`]).toBe(false);
      expect(seen[`foo/${ws2}`]).toBe(true);
      expect(seen['foo/ok']).toBe(false);
      await ws.cleanup();
      ws = null;
    }
    expect(byNameOnly('foo/  \n')).toBe(true); // trailing spaces trimmed: the folder foo, by name
    expect(byNameOnly('foo/\t\n')).toBe(false);
  });

  it('walkBatches: the same entries in the same order, each run ending at a folder it enters or at the end of a listing', async () => {
    ws = makeWorkspace(tree, { git: false });
    const view = await ws.open().view('s1', ws.root);
    const flat: string[] = [];
    for await (const e of walk(view, '')) flat.push(e.path);
    const batches: string[][] = [];
    const whole: boolean[] = [];
    for await (const b of walkBatches(view, '')) {
      batches.push(b.map((e) => e.path));
      whole.push(b.whole === true);
    }
    expect(batches.flat()).toEqual(flat);
    // `whole`: the batch is its folder's entire listing (a, b/c/d and e; the others are parts of theirs).
    expect(whole).toEqual([false, true, false, false, false, true, false, false, false, true]);
    expect(batches).toEqual([
      ['.gitignore', 'a'],
      ['a/b.log', 'a/dist', 'a/dist.ts', 'a/keep.log', 'a/x.log'], // a/dist and a/x.log are ignored: not entered
      ['b'],
      ['b/c'],
      ['b/c/.gitignore', 'b/c/d'],
      ['b/c/d/gen.ts'],
      ['b/c/gen.ts'],
      ['b/dist', 'b/gen.ts'],
      ['e'],
      ['e/gen.ts'],
    ]);
  });
});
