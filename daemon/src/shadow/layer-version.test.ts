// WorkspaceView.layerVersion: grep skips asking isReal again after an rg run while it has not moved, so it must
// move with every change of what isReal answers — in the same step — and may stay put for reads.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { type FaultOp, noSpaceError } from './fault.js';
import { makeWorkspace } from './test-support.js';
import type { WorkspaceView } from './view.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const PATHS = ['a.txt', 'src/b.ts', 'src/c.ts', 'n.txt', 'l', 'src'];

/** What isReal says of PATHS now, with the version it was read at. */
const look = (v: WorkspaceView) => ({ version: v.layerVersion!(), real: PATHS.map((p) => v.isReal!(p)).join() });

/**
 * Runs `change` while looking at the view at every turn of the event loop: whenever two looks saw the same
 * version, they saw the same isReal answers. Returns the first and the last look.
 */
async function watched(v: WorkspaceView, change: () => Promise<unknown>) {
  const looks = [look(v)];
  let done = false;
  const running = change()
    .then(
      () => 'ok',
      (e: unknown) => e,
    )
    .finally(() => (done = true));
  while (!done) {
    await tick();
    looks.push(look(v));
  }
  const outcome = await running;
  looks.push(look(v));
  for (let i = 1; i < looks.length; i++)
    if (looks[i].version === looks[i - 1].version) expect(looks[i].real).toBe(looks[i - 1].real);
  return { first: looks[0], last: looks[looks.length - 1], outcome, looks: looks.length };
}

describe('layerVersion', () => {
  it('moves with every write, delete, move, folder, link and reject; reads leave it', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'src/b.ts': 'B\n', 'src/c.ts': 'C\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const v0 = v.layerVersion!();
    await v.readFile('a.txt');
    await v.stat('src/b.ts');
    await v.readdir('src');
    expect(v.layerVersion!()).toBe(v0);

    const steps: Array<[string, () => Promise<unknown>]> = [
      ['write', () => v.writeFile('a.txt', 'A2\n')],
      ['new file', () => v.writeFile('n.txt', 'N\n')],
      ['remove', () => v.remove('src/b.ts')],
      ['rename', () => v.rename('src/c.ts', 'c2.ts')],
      ['mkdir', () => v.mkdir('d')],
      ['symlink', () => v.symlink('l', 'a.txt')],
      ['reject', () => svc.reject({ sessionId: 's1', workspace: ws.root }, { paths: [], hunks: [] }, 'test')],
    ];
    for (const [name, change] of steps) {
      const { first, last, outcome } = await watched(v, change);
      expect(outcome, name).toBe('ok');
      expect(last.version, name).not.toBe(first.version);
    }
    // Everything was rejected: each path is the person's own again.
    expect(look(v).real).toBe('true,true,true,true,true,true');
  });

  it('moves when a write whose save fails on a full disk is put back', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    let full = false;
    const v = await ws
      .open({
        faults: {
          before(op: FaultOp, file: string) {
            if (full && op === 'log.append') throw noSpaceError(file);
          },
        },
      })
      .view('s1', ws.root);
    await v.writeFile('other.txt', 'O\n'); // the layer exists; the next save appends to its log
    full = true;
    const { first, last, outcome } = await watched(v, () => v.writeFile('a.txt', 'A2\n'));
    expect(isShadowboxError(outcome, ErrorCodes.DiskFull), String(outcome)).toBe(true);
    expect(v.isReal!('a.txt')).toBe(true);
    expect(last.version).not.toBe(first.version);
  });

  it("isReal's answers kept per folder follow every change below and above it", async () => {
    ws = makeWorkspace({ 'src/a/b.ts': 'B\n', 'src/a/c.ts': 'C\n', 'src/d.ts': 'D\n', 'top.txt': 'T\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    // src/a/new.ts: a file the person adds later, which no layer entry names.
    const paths = ['src/a/b.ts', 'src/a/c.ts', 'src/d.ts', 'top.txt', 'x/b.ts', 'src/a/new.ts'];
    const real = () => paths.map((p) => v.isReal!(p)).join();
    expect(real()).toBe('true,true,true,true,true,true'); // every folder's answer is kept now
    await v.writeFile('src/a/c.ts', 'C2\n');
    expect(real()).toBe('true,false,true,true,true,true');
    await v.rename('src/a', 'x'); // the folder moved: what was below it is no longer the person's
    expect(real()).toBe('false,false,true,true,false,false');
    await svc.reject({ sessionId: 's1', workspace: ws.root }, { paths: [], hunks: [] }, 'test');
    expect(real()).toBe('true,true,true,true,true,true');
    await v.remove('src');
    await v.writeFile('src', 'now a file\n'); // a folder replaced by a file hides all below it
    writeFileSync(path.join(ws.root, 'src', 'a', 'new.ts'), 'N\n');
    expect(real()).toBe('false,false,false,true,true,false');
    await svc.reject({ sessionId: 's1', workspace: ws.root }, { paths: [], hunks: [] }, 'test');
    await v.mkdir('x');
    await v.symlink('x/b.ts', '../top.txt');
    expect(real()).toBe('true,true,true,true,false,true');
  });
});
