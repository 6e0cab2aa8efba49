// grep with rg given explicit file lists against grep in process, over trees built to make them differ:
// names rg could misread (newlines, backslashes, trailing tabs and no-break spaces, drive-like, deeper than
// the view goes), binary files, files over MAX_TEXT_FILE_BYTES, deny rules. The in-process answer is the
// reference; each case was a way a walk by rg forged or lost lines (review of the s7-grep branch), and
// R4/R5 differed on the lists path itself.
import { mkdirSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import type { WorkspaceView } from '../../shadow/index.js';
import type { Tool } from '../index.js';
import { restrictView } from '../restricted-view.js';
import { toolCaller } from '../test-support.js';
import { createGrepTool } from './grep.js';
import { findRipgrep } from './grep-rg.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';
import { MAX_TEXT_FILE_BYTES } from './text.js';

const rg = findRipgrep();
let ws: ReturnType<typeof makeWorkspace>;
let workers: GrepWorkers;

function grepper(view: WorkspaceView, mode: 'lists' | 'proc', budgetMs?: number) {
  return toolCaller(createGrepTool({ workers, rg: mode === 'proc' ? null : rg, budgetMs }) as Tool, view);
}

/** The output of both modes (the in-process hint about rg's absence left out). */
async function both(view: WorkspaceView, input: Record<string, unknown>, budgetMs?: number) {
  const out = { lists: '', proc: '' };
  for (const m of ['lists', 'proc'] as const) out[m] = String((await grepper(view, m, budgetMs)(input)).content);
  return out;
}

const put = (rel: string, data: string | Buffer) => {
  mkdirSync(path.dirname(path.join(ws.root, rel)), { recursive: true });
  writeFileSync(path.join(ws.root, rel), data);
};

beforeEach(() => {
  ws = makeWorkspace({ '.gitignore': 'cache*\n', 'ok.ts': 'clean\n', 'src/a.ts': 'clean a\n' });
  workers = createGrepWorkers({ idleMs: 100 });
});
afterEach(async () => {
  await ws.cleanup();
});

describe.skipIf(!rg)('grep with rg file lists gives what grep in process gives', () => {
  it('an ignored folder whose name ends in a tab or a no-break space, holding a name with a newline', async () => {
    put('cache\t/z\nok.ts', 'FORGED secret from an ignored folder\n');
    put('src/cache\u00a0/z\nsrc/a.ts', 'FORGED secret from an ignored folder\n');
    const view = await ws.open().view('s1', ws.root);
    for (const input of [{ pattern: 'FORGED' }, { pattern: 'FORGED', path: 'src' }]) {
      const r = await both(view, input);
      expect(r.lists).toBe(r.proc);
      expect(r.lists).toMatch(/^No matches/);
    }
  });

  it('ignore rules with trailing ideographic spaces, a glob against a name with a trailing tab, a link named with a no-break space', async () => {
    put('src/cache', 'foo in a plain file named cache');
    put('src/keep.ts', 'foo keep\n');
    put('src/.gitignore', 'ign\u3000\n');
    put('src/ign\u3000', 'foo ignored\n');
    put('src/ign', 'foo legit\n');
    put('src/a.ts\t', 'not searched: the glob leaves it out\n');
    symlinkSync('a.ts', path.join(ws.root, 'src', 'a.ts\u00a0'));
    const view = await ws.open().view('s1', ws.root);
    for (const input of [
      { pattern: 'foo' },
      { pattern: 'clean', glob: '**/*.ts' },
      { pattern: 'clean a', path: 'src' },
    ]) {
      const r = await both(view, input);
      expect(r.lists).toBe(r.proc);
    }
  });

  it('folders the view cannot list (a backslash, drive-like, deeper than its depth limit) stay unsearched', async () => {
    put('src/a\\b/z\nsrc/a.ts', 'FORGED via backslash folder\n');
    put('C:x/z\nok.ts', 'FORGED via drive-like folder\n');
    put(`${Array.from({ length: 257 }, () => 'd').join('/')}/z\nok.ts`, 'FORGED from below the depth cap\n');
    const view = await ws.open().view('s1', ws.root);
    const r = await both(view, { pattern: 'FORGED' });
    expect(r.lists).toBe(r.proc);
  });

  it('binary files: a NUL in the first 8 KiB skips the file, a later one does not (rg would stop there)', async () => {
    put(
      'bin/late.dat',
      Buffer.concat([Buffer.from('foo 1\n'), Buffer.alloc(9000, 0x61), Buffer.from('\nfoo 2\n\0\nfoo 3\n')]),
    );
    put(
      'bin/late2.dat',
      Buffer.concat([Buffer.from('foo 1\n'), Buffer.alloc(70000, 0x61), Buffer.from('\n\0\nfoo 3\n')]),
    );
    put('bin/early.dat', Buffer.from('foo 1\n\0\nfoo 2\n'));
    const view = await ws.open().view('s1', ws.root);
    const r = await both(view, { pattern: 'foo', path: 'bin' });
    expect(r.lists).toBe(r.proc);
    expect(r.lists).toContain('bin/late.dat:5: foo 3');
    expect(r.lists).not.toContain('early.dat');
  });

  it('rg’s binary note is read by the whole name, also a name that holds the note’s own words', async () => {
    const late = Buffer.concat([Buffer.from('foo 1\n'), Buffer.alloc(9000, 0x61), Buffer.from('\nfoo 2\n\0\nfoo 3\n')]);
    put('bin/x: binary file matches (found y.dat', late);
    put('bin/x.dat', late);
    const view = await ws.open().view('s1', ws.root);
    const r = await both(view, { pattern: 'foo', path: 'bin' });
    expect(r.lists).toBe(r.proc);
    expect(r.lists.split('\n')).toHaveLength(6);
  });

  it('a view that cannot tell a real file’s size is searched in process (no rg)', async () => {
    const view = await ws.open().view('s1', ws.root);
    const noSize = new Proxy(view, {
      get(target, key: keyof WorkspaceView) {
        const v = target[key];
        return key === 'realSize' ? undefined : typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await grepper(noSize, 'lists')({ pattern: 'clean' });
    expect(r.content).toBe('ok.ts:1: clean\nsrc/a.ts:1: clean a');
    expect(r.data).toMatchObject({ files: 3, inProcess: 3 }); // .gitignore too
  });

  it('a file over MAX_TEXT_FILE_BYTES is skipped, and its lines do not stop the search early', async () => {
    const many = Buffer.from('foo big\n'.repeat(50));
    put('big/a-big.txt', Buffer.concat([many, Buffer.alloc(MAX_TEXT_FILE_BYTES, 0x61)]));
    put('big/small.txt', 'foo small\n');
    const view = await ws.open().view('s1', ws.root);
    const r = await both(view, { pattern: 'foo', path: 'big', max_matches: 10 });
    expect(r.lists).toBe(r.proc);
    expect(r.lists).toBe('big/small.txt:1: foo small');
  });

  it('files at and just over the cap, and one over it whose lines stop rg early: as in process', async () => {
    const sized = (n: number) => Buffer.concat([Buffer.from('foo first\n'), Buffer.alloc(n - 10, 0x61)]);
    put('at/cap.txt', sized(MAX_TEXT_FILE_BYTES));
    put('over/cap.txt', sized(MAX_TEXT_FILE_BYTES + 1));
    // rg stops at max_matches + 1 lines, having read a few bytes of the file (its stats say so).
    put('early/a.txt', Buffer.concat([Buffer.from('foo\n'.repeat(10)), Buffer.alloc(MAX_TEXT_FILE_BYTES, 0x61)]));
    put('early/b.txt', 'foo b\n');
    const view = await ws.open().view('s1', ws.root);
    for (const input of [
      { pattern: 'foo', path: 'at' },
      { pattern: 'foo', path: 'over' },
      { pattern: 'foo', path: 'early', max_matches: 3 },
    ]) {
      const r = await both(view, input);
      expect(r.lists).toBe(r.proc);
    }
    expect((await grepper(view, 'lists')({ pattern: 'foo', path: 'at' })).content).toBe('at/cap.txt:1: foo first');
    expect((await grepper(view, 'lists')({ pattern: 'foo', path: 'early', max_matches: 3 })).content).toBe(
      'early/b.txt:1: foo b',
    );
  });

  it('a sparse 1 TiB file (review s8-grep, C1) is skipped as in process, not read by rg to the end of the budget', async () => {
    for (let i = 0; i < 300; i++) put(`many/f${i}.ts`, `line ${i}\n`);
    put('many/huge.dat', '');
    truncateSync(path.join(ws.root, 'many/huge.dat'), 2 ** 40);
    put('huge.log', '');
    truncateSync(path.join(ws.root, 'huge.log'), 2 ** 40);
    const view = await ws.open().view('s1', ws.root);
    // A budget that rg, reading either file, runs out of (it stops and says so; then the outputs differ).
    for (const input of [
      { pattern: 'nomatch_zz' },
      { pattern: 'line 29\\d' },
      { pattern: 'line', max_matches: 5 },
      { pattern: 'x', path: 'huge.log' }, // a run of one file over the cap: killed, and nothing left to run again
    ]) {
      const r = await both(view, input, 10_000);
      expect(r.lists).toBe(r.proc.replace(/\n\[searched in process:[^\]]*\]$/, ''));
      expect(r.lists).not.toMatch(/stopped after/);
    }
  }, 60_000);

  it('a file swapped for a link to a sparse 1 TiB file after the walk vouched for it: the run goes again without it (review s9-grep R9)', async () => {
    for (let i = 0; i < 50; i++) put(`m/f${i}.ts`, `line ${i}\n`);
    put('m/x.ts', 'line x\n');
    const outside = path.join(path.dirname(ws.root), `${path.basename(ws.root)}-huge.dat`);
    writeFileSync(outside, '');
    truncateSync(outside, 2 ** 40);
    try {
      const view = await ws.open().view('s1', ws.root);
      let swapped = false;
      // Another process swaps the file once the walk has asked the view about it (its size is then no regular
      // file's: null, which once counted as 0, so rg read the link's target to the end of the budget).
      const racing = new Proxy(view, {
        get(target, key: keyof WorkspaceView) {
          if (key === 'isReal')
            return (rel: string) => {
              const real = view.isReal!(rel);
              if (rel === 'm/x.ts' && !swapped) {
                swapped = true;
                unlinkSync(path.join(ws.root, 'm/x.ts'));
                symlinkSync(outside, path.join(ws.root, 'm/x.ts'));
              }
              return real;
            };
          const v = target[key];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const r = String((await grepper(racing, 'lists', 10_000)({ pattern: 'nomatch_zz' })).content);
      expect(swapped).toBe(true);
      expect(r).not.toMatch(/stopped after/);
      expect(r).toMatch(/No matches/);
    } finally {
      unlinkSync(outside);
    }
  }, 60_000);

  it('deny rules: nothing denied is shown, whatever the letter case', async () => {
    put('secret/k.txt', 'foo DENIED1\n');
    put('src/Secret/k.txt', 'foo DENIED2\n');
    put('lib/x.pem', 'foo DENIED4\n');
    put('lib/σ/k.txt', 'foo DENIED5\n');
    put('lib/ok.txt', 'foo fine\n');
    put('other/K/k.txt', 'foo DENIED6\n');
    const view = await ws.open().view('s1', ws.root);
    const denied = ['secret/**', 'src/secret/**', '**/*.pem', 'lib/Σ/**', 'other/k/**'].map((g) => ({
      glob: g,
      rule: g,
    }));
    const r = await both(restrictView(view, denied), { pattern: 'foo' });
    expect(r.lists).toBe(r.proc);
    expect(r.lists).not.toMatch(/DENIED/);
    expect(r.lists).toContain('lib/ok.txt:1: foo fine');
  });
});
