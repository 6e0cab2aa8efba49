// Review s14 of 752aef6 (rg given whole folders): where a folder given to rg is not the same as its listed files.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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
const hint = /\n\[searched in process: ripgrep \(rg\) is not installed[^\n]*$/;

beforeEach(() => {
  ws = makeWorkspace({ 'w/a/one.txt': 'needle one\n', 'w/a/two.txt': 'hay\n' });
  workers = createGrepWorkers({ idleMs: 100 });
});
afterEach(async () => {
  await ws.cleanup();
});

function grepper(view: WorkspaceView, withRg: string | null) {
  return toolCaller(createGrepTool({ workers, rg: withRg }) as Tool, view);
}

/** rg started through a script that first runs `before` (a change made after the walk) and logs rg's output. */
function rgAfter(before: string): { rg: string; output: () => string } {
  const log = path.join(ws.top, 'rg-out.log');
  writeFileSync(log, '');
  const wrapper = path.join(ws.top, 'rg-after');
  writeFileSync(wrapper, `#!/bin/sh\n${before}\n'${rg}' "$@" | tee -a '${log}'\n`, { mode: 0o755 });
  return { rg: wrapper, output: () => readFileSync(log, 'utf8') };
}

describe.skipIf(!rg)('rg given whole folders (review s14)', () => {
  it('a file whose name is not UTF-8 (the view cannot open it) gives no lines, as in process', async () => {
    // Node lists the name with U+FFFD for the byte; the view's path names no file on disk.
    writeFileSync(Buffer.from(`${ws.root}/w/a/bad\xff.txt`, 'latin1'), 'needle behind a name the view cannot read\n');
    const view = await ws.open().view('s1', ws.root);
    const c = { pattern: 'needle', path: 'w' };
    const a = await grepper(view, rg)(c);
    const b = await grepper(view, null)(c);
    expect(b.content).not.toContain('cannot read');
    expect(a.content).toBe(String(b.content).replace(hint, ''));
  });

  it('a huge file made in a given folder after the walk costs about one size check, not a read to its end', async () => {
    // A 1 TiB sparse file, made between the walk and rg's start: no size check knows it, and rg reading it to its end
    // would take minutes. The run is stopped at its size check and its files go again by name.
    const big = path.join(ws.root, 'w', 'a', 'zz-big.txt');
    // rg is exec'd (killing the script kills rg).
    const after = path.join(ws.top, 'rg-after-exec');
    writeFileSync(after, `#!/bin/sh\n[ -e '${big}' ] || truncate -s 1T '${big}'\nexec '${rg}' "$@"\n`, { mode: 0o755 });
    const view = await ws.open().view('s1', ws.root);
    const r = await toolCaller(
      createGrepTool({ workers, rg: after, budgetMs: 15_000 }) as Tool,
      view,
    )({
      pattern: 'needle',
      path: 'w',
    });
    expect(r.content).toBe('w/a/one.txt:1: needle one');
    expect(r.data).not.toHaveProperty('stopped');
  }, 30_000);

  it('a binary note for a file made in a given folder after the walk sends none of the run to the in-process search', async () => {
    const made = path.join(ws.root, 'w', 'a', 'zz-new.bin');
    const { rg: after } = rgAfter(`[ -e '${made}' ] || printf 'needle\\000\\n' > '${made}'`);
    const view = await ws.open().view('s1', ws.root);
    // Workers kept a minute: one is alive after the call only if the in-process search ran.
    workers = createGrepWorkers({ idleMs: 60_000 });
    const r = await grepper(view, after)({ pattern: 'needle', path: 'w' });
    expect(r.content).toBe('w/a/one.txt:1: needle one');
    expect(workers.live()).toBe(0);
  });

  it('grep of a path that is a link to a folder in the workspace gives the lines the in-process search gives', async () => {
    symlinkSync('w/a', path.join(ws.root, 'la'));
    mkdirSync(path.join(ws.root, 'w', 'b'));
    symlinkSync('../a', path.join(ws.root, 'w', 'b', 'up'));
    const view = await ws.open().view('s1', ws.root);
    for (const p of ['la', 'w/b/up']) {
      const c = { pattern: 'needle', path: p };
      const b = await grepper(view, null)(c);
      expect(b.content).toContain('needle one');
      const a = await grepper(view, rg)(c);
      expect(a.content).toBe(String(b.content).replace(hint, ''));
    }
  });
});
