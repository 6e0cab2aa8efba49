// grep while files change under it: rg reads the person's files by path, some time after the walk chose them.
// The races are made deterministic through the view: it changes when grep asks it a given question.
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import type { WorkspaceView } from '../../shadow/index.js';
import type { Tool } from '../index.js';
import { toolCaller } from '../test-support.js';
import { createGrepTool } from './grep.js';
import { findRipgrep } from './grep-rg.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';

const rg = findRipgrep();
let ws: ReturnType<typeof makeWorkspace>;
let workers: GrepWorkers;

const grepper = (view: WorkspaceView, withRg: boolean) =>
  toolCaller(createGrepTool({ workers, rg: withRg ? rg : null, budgetMs: 10_000 }) as Tool, view);

/** `view` with some methods replaced (the rest bound to it). */
function overriding(view: WorkspaceView, over: Partial<WorkspaceView>): WorkspaceView {
  return new Proxy(view, {
    get(target, key: keyof WorkspaceView) {
      if (key in over) return over[key];
      const v = target[key];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const put = (rel: string, data: string) => {
  mkdirSync(path.dirname(path.join(ws.root, rel)), { recursive: true });
  writeFileSync(path.join(ws.root, rel), data);
};

beforeEach(() => {
  ws = makeWorkspace({ 'src/a.ts': 'foo real a\n' }, { git: false });
  workers = createGrepWorkers({ idleMs: 100 });
});
afterEach(async () => {
  await ws.cleanup();
});

describe.skipIf(!rg)('grep with rg while files change', () => {
  it('the shadow writes and deletes files while rg reads them: their lines are the shadow’s, as in process', async () => {
    put('src/b.ts', 'foo real b\n'); // rg finds a line; the shadow's version has another
    put('src/c.ts', 'nothing real\n'); // rg finds none; the shadow's version has one
    put('src/d.ts', 'foo real d\n'); // the shadow deletes it
    put('src/e.ts', 'foo real e\n'); // untouched
    const view = await ws.open().view('s1', ws.root);
    let changed: Promise<void> | undefined;
    const changing = new Set(['src/b.ts', 'src/c.ts', 'src/d.ts']);
    const change = async () => {
      await view.writeFile('src/b.ts', 'foo shadow b\n');
      await view.writeFile('src/c.ts', 'foo shadow c\n');
      await view.remove('src/d.ts');
    };
    // Once the walk has vouched for the last file (src/e.ts), the shadow changes the others: it writes while rg
    // runs (or before it starts); rg reads the person's files all the same. From then on isReal says so at once
    // (and layerVersion has moved, as it does in the same step as isReal's answer), and reads wait for the writes
    // to land.
    const racing = overriding(view, {
      isReal: (rel) => {
        if (rel === 'src/e.ts') changed ??= change();
        return !(changed && changing.has(rel)) && view.isReal!(rel);
      },
      layerVersion: () => view.layerVersion!() + (changed ? 1 : 0),
      stat: async (p) => (await changed, view.stat(p)),
      readFile: async (p) => (await changed, view.readFile(p)),
    });
    const r = await grepper(racing, true)({ pattern: 'foo' });
    expect(changed).toBeDefined();
    expect(r.content).toBe(
      ['src/a.ts:1: foo real a', 'src/b.ts:1: foo shadow b', 'src/c.ts:1: foo shadow c', 'src/e.ts:1: foo real e'].join(
        '\n',
      ),
    );
    expect((await grepper(view, false)({ pattern: 'foo' })).content).toBe(r.content);
  });

  it('a write that lands after the walk chose the file, before rg reads it: the shadow’s lines (layerVersion moved)', async () => {
    put('src/b.ts', 'foo real b\n');
    put('src/d.ts', 'foo real d\n');
    put('src/e.ts', 'foo real e\n');
    put('z/y.ts', 'nothing\n');
    const view = await ws.open().view('s1', ws.root);
    let vouched!: () => void;
    const walked = new Promise<void>((resolve) => (vouched = resolve));
    const before = view.layerVersion!();
    // No answer of the view is faked: the walk lists z/ (after src/) only once the shadow wrote src/b.ts and deleted
    // src/d.ts, which it had vouched for as the person's; the walk ends after that, so rg runs on them after it.
    const racing = overriding(view, {
      isReal: (rel) => {
        if (rel === 'src/e.ts') vouched();
        return view.isReal!(rel);
      },
      readdir: async (p) => {
        if (p === 'z') {
          await walked;
          await view.writeFile('src/b.ts', 'foo shadow b\n');
          await view.remove('src/d.ts');
        }
        return view.readdir(p);
      },
    });
    const r = await grepper(racing, true)({ pattern: 'foo' });
    expect(view.layerVersion!()).not.toBe(before);
    expect(r.data).toMatchObject({ inProcess: 0 }); // every file went to rg
    expect(r.content).toBe(['src/a.ts:1: foo real a', 'src/b.ts:1: foo shadow b', 'src/e.ts:1: foo real e'].join('\n'));
    expect((await grepper(view, false)({ pattern: 'foo' })).content).toBe(r.content);
  });

  it('a view without layerVersion: isReal is asked again after each run, and a file taken over meanwhile is the shadow’s', async () => {
    put('src/b.ts', 'foo real b\n');
    put('src/e.ts', 'foo real e\n');
    const view = await ws.open().view('s1', ws.root);
    let changed: Promise<void> | undefined;
    const racing = overriding(view, {
      isReal: (rel) => {
        if (rel === 'src/e.ts') changed ??= view.writeFile('src/b.ts', 'foo shadow b\n');
        return !(changed && rel === 'src/b.ts') && view.isReal!(rel);
      },
      layerVersion: undefined,
      readFile: async (p) => (await changed, view.readFile(p)),
    });
    const r = await grepper(racing, true)({ pattern: 'foo' });
    expect(r.content).toBe(['src/a.ts:1: foo real a', 'src/b.ts:1: foo shadow b', 'src/e.ts:1: foo real e'].join('\n'));
  });

  it('nothing changed while rg ran: isReal is asked once per file (the walk’s), not again after the run', async () => {
    for (let i = 0; i < 300; i++) put(`many/f${i}.ts`, `foo ${i}\n`);
    const view = await ws.open().view('s1', ws.root);
    const asked = new Map<string, number>();
    const counting = overriding(view, {
      isReal: (rel) => {
        asked.set(rel, (asked.get(rel) ?? 0) + 1);
        return view.isReal!(rel);
      },
    });
    const r = await grepper(counting, true)({ pattern: 'foo', max_matches: 5000 });
    expect(r.data).toMatchObject({ matches: 301, inProcess: 0 });
    expect(asked.size).toBe(301);
    expect([...asked.values()].every((n) => n === 1)).toBe(true);
  });

  it('a file that grows to 1 TiB while rg reads it is dropped from the run, as in process (the sizes are looked at again)', async () => {
    for (let i = 0; i < 300; i++) put(`many/f${i}.ts`, `line ${i}\n`);
    put('many/huge.dat', '');
    truncateSync(path.join(ws.root, 'many/huge.dat'), 2 ** 40);
    const view = await ws.open().view('s1', ws.root);
    // The first time grep asks, the file is still small.
    let asked = false;
    const growing = overriding(view, {
      realSize: (rel) => {
        if (rel !== 'many/huge.dat' || asked) return view.realSize!(rel);
        asked = true;
        return 10;
      },
    });
    const r = await grepper(growing, true)({ pattern: 'nomatch_zz|line 29\\d' });
    expect(asked).toBe(true);
    expect(r.content).not.toMatch(/stopped after/);
    expect(r.content).toBe((await grepper(view, false)({ pattern: 'nomatch_zz|line 29\\d' })).content);
  }, 60_000);
});
