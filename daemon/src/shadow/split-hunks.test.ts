// Splitting a hunk at unchanged lines ("path#id:LINES"): two fixes a few lines apart share one hunk, and
// each can still be accepted or rejected on its own; the rest stays pending and applies later.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { changeBlocks } from '@shadowbox/protocol';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );
// Two fixes six lines apart: within 2×3 context lines of each other, so one hunk.
const twoFixes = lines(30).replace('line 10\n', 'line 10 fixed\n').replace('line 16\n', 'line 16 fixed\n');

async function setup() {
  ws = makeWorkspace({ 'f.txt': lines(30) });
  const svc = ws.open();
  const v = await svc.view('s1', ws.root);
  await v.writeFile('f.txt', twoFixes);
  const t = { sessionId: 's1', workspace: ws.root };
  const [hunk] = (await svc.diff(t)).files[0].hunks;
  return { svc, t, hunk };
}

describe('splitting a hunk at unchanged lines', () => {
  it('two nearby fixes are one hunk of two blocks; accepting one block writes only that fix, the other stays and applies', async () => {
    const { svc, t, hunk } = await setup();
    expect((await svc.diff(t)).files[0].hunks).toHaveLength(1);
    const blocks = changeBlocks(hunk.lines);
    expect(blocks).toHaveLength(2);
    const [first, second] = blocks;
    expect(hunk.lines[first.from - 1]).toBe('-line 10');
    expect(hunk.lines[second.to - 1]).toBe('+line 16 fixed');

    const r = await svc.accept(t, { paths: [], hunks: [`${hunk.id}:${first.from}-${first.to}`], force: false }, 'me');
    expect(r.applied).toEqual([{ path: 'f.txt', action: 'written' }]);
    expect(read('f.txt')).toBe(lines(30).replace('line 10\n', 'line 10 fixed\n'));
    // What is left is exactly the second fix, under a new id.
    const left = (await svc.diff(t)).files[0].hunks;
    expect(left).toHaveLength(1);
    expect(left[0].lines.filter((l) => /^[-+]/.test(l))).toEqual(['-line 16', '+line 16 fixed']);
    await svc.accept(t, { paths: [], hunks: [left[0].id], force: false }, 'me');
    expect(read('f.txt')).toBe(twoFixes);
    expect((await svc.status(t)).files).toEqual([]);
    // The audit entry names what was selected.
    const entry = ws.audit.entries.find((e) => e.type === 'shadow.accept');
    expect((entry?.data as { hunks: string[] }).hunks).toEqual([`${hunk.id}:${first.from}-${first.to}`]);
  });

  it('rejecting one block drops only that fix from the shadow; the other is still accepted', async () => {
    const { svc, t, hunk } = await setup();
    const [, second] = changeBlocks(hunk.lines);
    const r = await svc.reject(t, { paths: [], hunks: [`${hunk.id}:${second.from}-${second.to}`] }, 'me');
    expect(r.rejected).toEqual([`${hunk.id}:${second.from}-${second.to}`]);
    expect(read('f.txt')).toBe(lines(30));
    await svc.accept(t, { paths: [], hunks: [], force: false }, 'me');
    expect(read('f.txt')).toBe(lines(30).replace('line 10\n', 'line 10 fixed\n'));
  });

  it('takes single lines too: only the added line keeps the old one as well (what was selected, nothing more)', async () => {
    const { svc, t, hunk } = await setup();
    const plus = hunk.lines.indexOf('+line 10 fixed') + 1;
    await svc.accept(t, { paths: [], hunks: [`${hunk.id}:${plus}`], force: false }, 'me');
    expect(read('f.txt')).toBe(lines(30).replace('line 10\n', 'line 10\nline 10 fixed\n'));
  });

  it('refuses selections outside the hunk, without a change, or malformed — and writes nothing', async () => {
    const { svc, t, hunk } = await setup();
    const context = hunk.lines.findIndex((l) => l.startsWith(' ')) + 1;
    for (const bad of [`${hunk.id}:0`, `${hunk.id}:${hunk.lines.length + 1}`, `${hunk.id}:${context}`, `${hunk.id}:x`])
      for (const op of [
        () => svc.accept(t, { paths: [], hunks: [bad], force: false }, 'me'),
        () => svc.reject(t, { paths: [], hunks: [bad] }, 'me'),
      ]) {
        const e = await errorOf(op());
        expect(isShadowboxError(e, ErrorCodes.HunkNotFound, 'bad_line_range'), `${bad}: ${String(e)}`).toBe(true);
      }
    expect(read('f.txt')).toBe(lines(30));
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([hunk.id]);
  });

  it('a hunk ending a file without a final newline is taken whole only', async () => {
    ws = makeWorkspace({ 'g.txt': 'a\nb\nc' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('g.txt', 'A\nb\nC');
    const t = { sessionId: 's1', workspace: ws.root };
    const [h] = (await svc.diff(t)).files[0].hunks;
    const e = await errorOf(svc.accept(t, { paths: [], hunks: [`${h.id}:1-2`], force: false }, 'me'));
    expect(isShadowboxError(e, ErrorCodes.HunkNotFound, 'bad_line_range')).toBe(true);
    await svc.accept(t, { paths: [], hunks: [`${h.id}:1-${h.lines.length}`], force: false }, 'me');
    expect(read('g.txt')).toBe('A\nb\nC');
  });
});

describe('pending counts', () => {
  it('counts pending files and undoable accepts per session; a session that never wrote is not opened', async () => {
    ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const svc = ws.open();
    await (await svc.view('s1', ws.root)).writeFile('a.txt', 'A\n');
    await (await svc.view('s2', ws.root)).writeFile('b.txt', 'B\n');
    await svc.accept({ sessionId: 's2', workspace: ws.root }, { paths: [], hunks: [], force: false }, 'me');
    const counts = await svc.pending(ws.root, ['s1', 's2', 'never']);
    expect(counts.map(({ sessionId, files, undoable }) => ({ sessionId, files, undoable }))).toEqual([
      { sessionId: 's1', files: 1, undoable: 0 },
      { sessionId: 's2', files: 0, undoable: 1 },
      { sessionId: 'never', files: 0, undoable: 0 },
    ]);
    expect(counts[1].lastAcceptAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(counts[0].lastAcceptAt).toBeNull();
    const sessionsDir = (await import('node:fs')).readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    expect(existsSync(path.join(ws.stateDir, 'workspaces', sessionsDir, 'shadow', 'sessions', 'never'))).toBe(false);
  });
});
