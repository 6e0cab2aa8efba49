import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../state/index.js';
import { makeWorkspace } from './test-support.js';
import { watchPaths, type PathsWatcher } from './watch.js';

let ws: ReturnType<typeof makeWorkspace> | undefined;
let watcher: PathsWatcher | undefined;
afterEach(async () => {
  watcher?.close();
  watcher = undefined;
  await ws?.cleanup();
  ws = undefined;
});

/** Collects batches; `next()` waits for the next one. */
function batches() {
  const got: string[][] = [];
  let wake: (() => void) | undefined;
  return {
    onChange: (paths: string[]) => {
      got.push(paths);
      wake?.();
    },
    async next(): Promise<string[]> {
      while (got.length === 0) await new Promise<void>((r) => (wake = r));
      return got.shift()!;
    },
  };
}

describe('watchPaths: only the folders of the changed paths', () => {
  it('watches the folders holding the paths (the deepest existing one for a new folder), not the tree', () => {
    const files: Record<string, string> = {};
    for (let d = 0; d < 40; d++) for (let f = 0; f < 50; f++) files[`src/d${d}/f${f}.ts`] = 'x\n';
    ws = makeWorkspace(files, { git: false });
    watcher = watchPaths(ws.root, () => undefined, silentLogger);
    watcher.set(['src/d3/f1.ts', 'src/d3/f2.ts', 'new/deep/n.ts', 'top.txt']);
    expect(watcher.folders()).toEqual(['', 'src/d3']);
    watcher.set(['src/d7/f0.ts']);
    expect(watcher.folders()).toEqual(['src/d7']);
    watcher.set([]);
    expect(watcher.folders()).toEqual([]);
  });

  it('reports a change to a watched path, not to its neighbours', async () => {
    ws = makeWorkspace({ 'src/a.ts': 'a\n', 'src/b.ts': 'b\n', 'other/c.ts': 'c\n' }, { git: false });
    const b = batches();
    watcher = watchPaths(ws.root, b.onChange, silentLogger, 50);
    watcher.set(['src/a.ts']);
    // The neighbours change first: had they been reported, they would be in the same batch as a.ts.
    writeFileSync(path.join(ws.root, 'src/b.ts'), 'b2\n');
    writeFileSync(path.join(ws.root, 'other/c.ts'), 'c2\n');
    writeFileSync(path.join(ws.root, 'src/a.ts'), 'a2\n');
    expect(await b.next()).toEqual(['src/a.ts']);
    rmSync(path.join(ws.root, 'src/a.ts'));
    expect(await b.next()).toEqual(['src/a.ts']);
  });

  it('a folder the person creates on the way to a new path reports it, and the watch moves into it', async () => {
    ws = makeWorkspace({ 'keep.txt': 'k\n' }, { git: false });
    const b = batches();
    watcher = watchPaths(ws.root, b.onChange, silentLogger, 50);
    watcher.set(['new/deep/n.ts']);
    expect(watcher.folders()).toEqual(['']);
    mkdirSync(path.join(ws.root, 'new', 'deep'), { recursive: true });
    expect(await b.next()).toEqual(['new/deep/n.ts']);
    expect(watcher.folders()).toEqual(['new/deep']);
    writeFileSync(path.join(ws.root, 'new/deep/n.ts'), 'person\n');
    expect(await b.next()).toEqual(['new/deep/n.ts']);
  });
});

describe('ShadowService.watch', () => {
  it('after a checkpoint, reports the person editing a file the agent changed, and only that', async () => {
    ws = makeWorkspace({ 'src/a.ts': 'a\n', 'src/b.ts': 'b\n' });
    const svc = ws.open();
    const view = await svc.view('s1', ws.root);
    await view.writeFile('src/a.ts', 'agent\n');
    await svc.checkpoint('s1', ws.root, 't1', 'edit a');
    const b = batches();
    const stop = svc.watch(ws.root, b.onChange);
    try {
      // The watch starts asynchronously: edit until the first batch arrives, then check what it held.
      let n = 0;
      const first = b.next();
      while ((await Promise.race([first.then(() => true), new Promise((r) => setTimeout(r, 100, false))])) === false) {
        writeFileSync(path.join(ws.root, 'src/b.ts'), `b${n}\n`);
        writeFileSync(path.join(ws.root, 'src/a.ts'), `person ${n++}\n`);
      }
      expect(await first).toEqual(['src/a.ts']);
    } finally {
      stop();
    }
  });
});
