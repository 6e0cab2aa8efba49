// The before state an accept journals (what undo puts back) is read from the file as it is when the accept
// runs, never inferred from metadata: a person's same-size in-place edit that keeps the mtime (a coarse
// timestamp tick, touch -r, cp -p, rsync --inplace -t) must come back on undo, not the agent's base.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };

describe('accept before-state', () => {
  it('a same-size edit that keeps the mtime is the before state: undo gives the person their bytes back', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    const svc = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const file = path.join(ws.root, 'a.txt');
    await (await svc.view('s1', ws.root)).writeFile('a.txt', 'new a\n');
    const ns = statSync(file, { bigint: true }).mtimeNs;
    // The person's edit in place (same inode, same size), then its mtime set back to the exact nanosecond.
    const fd = openSync(file, 'r+');
    writeSync(fd, 'MINE!\n', 0);
    closeSync(fd);
    execFileSync('touch', [
      '-m',
      '-d',
      `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
      file,
    ]);
    expect(statSync(file, { bigint: true }).mtimeNs).toBe(ns);
    await svc.accept(t, ALL, 'me');
    expect(readFileSync(file, 'utf8')).toBe('new a\n');
    const u = await svc.undo(t, 'me');
    expect(u.restored).toEqual(['a.txt']);
    expect(readFileSync(file, 'utf8')).toBe('MINE!\n');
    const entry = ws.audit.entries.find((e) => e.type === 'shadow.accept');
    expect(JSON.stringify(entry?.data)).not.toContain('ffc74965dbf325784404cee917e4081ddae39c44'); // git blob "old a\n"
  });
});
