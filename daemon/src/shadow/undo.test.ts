import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import type { ReviewTarget, ShadowService } from './index.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

// The browser test's file: 30 lines; the agent changes line 2 and line 28 (two hunks far apart).
const ORIGINAL = Array.from({ length: 30 }, (_, i) => `line${i + 1}`).join('\n') + '\n';
const TWO = ORIGINAL.replace('line2\n', 'LINE TWO\n');
const BOTH = TWO.replace('line28\n', 'LINE 28\n');
const ALL = { paths: [], hunks: [], force: false };
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

/** Sets up the browser scenario: the agent read notes.txt, then edited line 2 and line 28 in two writes. */
async function twoHunks(): Promise<{ svc: ShadowService; t: ReviewTarget; two: string; l28: string }> {
  ws = makeWorkspace({ 'notes.txt': ORIGINAL });
  const svc = ws.open();
  const v = await svc.view('s1', ws.root);
  const seen = Buffer.from(await v.readFile('notes.txt')).toString();
  await v.writeFile('notes.txt', seen.replace('line2\n', 'LINE TWO\n'));
  await v.writeFile(
    'notes.txt',
    Buffer.from(await v.readFile('notes.txt'))
      .toString()
      .replace('line28\n', 'LINE 28\n'),
  );
  const t = { sessionId: 's1', workspace: ws.root };
  const hunks = (await svc.diff(t)).files[0].hunks;
  expect(hunks).toHaveLength(2);
  const two = hunks.find((h) => h.lines.includes('+LINE TWO'))!.id;
  const l28 = hunks.find((h) => h.lines.includes('+LINE 28'))!.id;
  return { svc, t, two, l28 };
}

/** What review shows: per file its change, stale mark and the added lines of each hunk. */
async function pending(svc: ShadowService, t: ReviewTarget) {
  const d = await svc.diff(t);
  const st = await svc.status(t);
  expect(st.files.map((f) => [f.path, f.stale])).toEqual(d.files.map((f) => [f.path, f.stale]));
  return d.files.map((f) => ({
    path: f.path,
    stale: f.stale,
    added: f.hunks.flatMap((h) => h.lines.filter((l) => l.startsWith('+'))),
  }));
}

describe('undo after hunk-level review', () => {
  it('accept one hunk, reject the other, undo: the accepted hunk is pending again, the rejected one stays gone', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    const acc = await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    expect(read('notes.txt')).toBe(TWO);
    expect((await svc.reject(t, { paths: [], hunks: [l28] }, 'tester')).rejected).toEqual([l28]);
    expect(await pending(svc, t)).toEqual([]);
    const u = await svc.undo(t, 'tester');
    expect(u).toEqual({ acceptId: acc.acceptId, restored: ['notes.txt'] });
    expect(read('notes.txt')).toBe(ORIGINAL);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO'] }]);
    // The same hunk id as before the accept: a client can act on it again.
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([two]);
    expect((await svc.status(t)).undoable).toBe(0);
    // The agent's view still shows what it had after the reject.
    const v = await svc.view('s1', ws.root);
    expect(Buffer.from(await v.readFile('notes.txt')).toString()).toBe(TWO);
    // A second undo: nothing left to undo (one accept, already undone), a typed error, nothing changed.
    const again = await errorOf(svc.undo(t, 'tester'));
    expect(isShadowboxError(again, ErrorCodes.NothingToUndo, 'nothing_to_undo')).toBe(true);
    expect(read('notes.txt')).toBe(ORIGINAL);
    // Accepting again writes exactly the line 2 change.
    await svc.accept(t, ALL, 'tester');
    expect(read('notes.txt')).toBe(TWO);
    expect(await pending(svc, t)).toEqual([]);
    // Audit: accept, reject, undo, accept — the undo names the accept and the bytes it put back.
    expect(ws.audit.entries.map((e) => e.type)).toEqual([
      'shadow.accept',
      'shadow.reject',
      'shadow.undo',
      'shadow.accept',
    ]);
    const [a1, rej, und] = ws.audit.entries;
    expect(a1.data.hunks).toEqual([two]);
    expect(rej.data).toEqual({ by: 'tester', rejected: [l28] });
    const before = (a1.data.files as { path: string; before: unknown }[])[0].before;
    expect(und.data).toMatchObject({
      acceptId: acc.acceptId,
      by: 'tester',
      files: [{ path: 'notes.txt', restored: before }],
    });
  });

  it('reject one hunk, accept the other, undo: the same result', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    await svc.reject(t, { paths: [], hunks: [l28] }, 'tester');
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO'] }]);
    await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    expect(read('notes.txt')).toBe(TWO);
    expect(await pending(svc, t)).toEqual([]);
    await svc.undo(t, 'tester');
    expect(read('notes.txt')).toBe(ORIGINAL);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO'] }]);
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([two]);
  });

  it('accept the whole file, undo: both hunks pending again, not stale', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    await svc.accept(t, { paths: ['notes.txt'], hunks: [], force: false }, 'tester');
    expect(read('notes.txt')).toBe(BOTH);
    await svc.undo(t, 'tester');
    expect(read('notes.txt')).toBe(ORIGINAL);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO', '+LINE 28'] }]);
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([two, l28]);
  });

  it('accept one hunk, the agent edits again, undo: its later edit stays, the accepted hunk is pending again', async () => {
    const { svc, t, two } = await twoHunks();
    await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    const v = await svc.view('s1', ws.root);
    await v.writeFile('notes.txt', BOTH.replace('line15\n', 'LINE 15\n'));
    await svc.undo(t, 'tester');
    expect(read('notes.txt')).toBe(ORIGINAL);
    expect(await pending(svc, t)).toEqual([
      { path: 'notes.txt', stale: false, added: ['+LINE TWO', '+LINE 15', '+LINE 28'] },
    ]);
  });

  it('accept one hunk, the person edits another part of the file, undo is refused and changes nothing', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    const acc = await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    const mine = TWO.replace('line15\n', 'person 15\n');
    writeFileSync(path.join(ws.root, 'notes.txt'), mine);
    const e = await errorOf(svc.undo(t, 'tester'));
    expect(isShadowboxError(e, ErrorCodes.UndoRefused, 'changed_since_accept')).toBe(true);
    expect((e as { data?: unknown }).data).toMatchObject({ acceptId: acc.acceptId, paths: ['notes.txt'] });
    expect(read('notes.txt')).toBe(mine);
    // Still one undoable accept; the LINE 28 hunk still pending (stale: the person edited the file).
    expect((await svc.status(t)).undoable).toBe(1);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: true, added: ['+LINE 28'] }]);
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([l28]);
    expect(ws.audit.entries.map((x) => x.type)).toEqual(['shadow.accept']);
  });

  it('undo twice undoes the two accepts newest first, then there is nothing to undo', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    const a1 = await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    const a2 = await svc.accept(t, { paths: [], hunks: [l28], force: false }, 'tester');
    expect(read('notes.txt')).toBe(BOTH);
    expect((await svc.status(t)).undoable).toBe(2);
    expect((await svc.undo(t, 'tester')).acceptId).toBe(a2.acceptId);
    expect(read('notes.txt')).toBe(TWO);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE 28'] }]);
    expect((await svc.undo(t, 'tester')).acceptId).toBe(a1.acceptId);
    expect(read('notes.txt')).toBe(ORIGINAL);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO', '+LINE 28'] }]);
    expect(isShadowboxError(await errorOf(svc.undo(t, 'tester')), ErrorCodes.NothingToUndo)).toBe(true);
    expect(ws.audit.entries.map((x) => x.type)).toEqual([
      'shadow.accept',
      'shadow.accept',
      'shadow.undo',
      'shadow.undo',
    ]);
    expect(ws.audit.entries.slice(2).map((x) => x.data.acceptId)).toEqual([a2.acceptId, a1.acceptId]);
  });

  it('undo of a forced accept is reviewed as before it: stale, and a conflict again without force', async () => {
    const { svc, t } = await twoHunks();
    const mine = ORIGINAL.replace('line2\n', 'person two\n');
    writeFileSync(path.join(ws.root, 'notes.txt'), mine);
    expect((await svc.accept(t, ALL, 'tester')).conflicts.map((c) => c.path)).toEqual(['notes.txt']);
    await svc.accept(t, { ...ALL, force: true }, 'tester');
    expect(read('notes.txt')).toBe(BOTH);
    await svc.undo(t, 'tester');
    expect(read('notes.txt')).toBe(mine);
    expect(await pending(svc, t)).toEqual([{ path: 'notes.txt', stale: true, added: ['+LINE TWO', '+LINE 28'] }]);
    const r = await svc.accept(t, ALL, 'tester');
    expect(r.conflicts.map((c) => c.path)).toEqual(['notes.txt']);
    expect(read('notes.txt')).toBe(mine);
  });

  it('the state after undo survives a restart', async () => {
    const { svc, t, two, l28 } = await twoHunks();
    await svc.accept(t, { paths: [], hunks: [two], force: false }, 'tester');
    await svc.reject(t, { paths: [], hunks: [l28] }, 'tester');
    await svc.undo(t, 'tester');
    await svc.close();
    const again = ws.open();
    expect(await pending(again, t)).toEqual([{ path: 'notes.txt', stale: false, added: ['+LINE TWO'] }]);
  });
});

describe('undo and directories', () => {
  it('removes directories the accept created once their last file is gone, and only those', async () => {
    ws = makeWorkspace({ 'keep/old.txt': 'old\n' });
    mkdirSync(path.join(ws.root, 'empty-before'));
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('new/deep/er/f.txt', 'f\n');
    await v.writeFile('keep/sub/g.txt', 'g\n');
    await v.writeFile('empty-before/h.txt', 'h\n');
    await v.mkdir('fresh-empty');
    const t = { sessionId: 's1', workspace: ws.root };
    await svc.accept(t, ALL, 'tester');
    expect(read('new/deep/er/f.txt')).toBe('f\n');
    expect(existsSync(path.join(ws.root, 'fresh-empty'))).toBe(true);
    await svc.undo(t, 'tester');
    expect(existsSync(path.join(ws.root, 'new'))).toBe(false);
    expect(existsSync(path.join(ws.root, 'keep/sub'))).toBe(false);
    expect(existsSync(path.join(ws.root, 'fresh-empty'))).toBe(false);
    expect(read('keep/old.txt')).toBe('old\n');
    // A directory that existed before the accept stays, even when empty again.
    expect(existsSync(path.join(ws.root, 'empty-before'))).toBe(true);
    expect(existsSync(path.join(ws.root, 'empty-before/h.txt'))).toBe(false);
    // Everything is pending again.
    expect((await svc.status(t)).files.map((f) => [f.path, f.change, f.stale])).toEqual([
      ['empty-before/h.txt', 'added', false],
      ['fresh-empty/', 'added', false],
      ['keep/sub/g.txt', 'added', false],
      ['new/deep/er/f.txt', 'added', false],
    ]);
    // Accept and undo again: the same result.
    await svc.accept(t, ALL, 'tester');
    await svc.undo(t, 'tester');
    expect(existsSync(path.join(ws.root, 'new'))).toBe(false);
  });

  it('keeps a created directory the person put a file into, removing only the empty ones below it', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('new/deep/f.txt', 'f\n');
    const t = { sessionId: 's1', workspace: ws.root };
    await svc.accept(t, ALL, 'tester');
    writeFileSync(path.join(ws.root, 'new/mine.txt'), 'mine\n');
    await svc.undo(t, 'tester');
    expect(existsSync(path.join(ws.root, 'new/deep'))).toBe(false);
    expect(read('new/mine.txt')).toBe('mine\n');
    expect((await svc.status(t)).files.map((f) => [f.path, f.stale])).toEqual([['new/deep/f.txt', false]]);
  });

  it('accepts and undoes files over 64 KiB (streamed from the object store) with their bytes and modes exact', async () => {
    const small = '#!/bin/sh\necho old\n';
    ws = makeWorkspace({ 'bin/run.sh': small, 'data/keep.txt': 'keep\n' });
    const svc = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const v = await svc.view('s1', ws.root);
    const big = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join(''));
    expect(big.byteLength).toBeGreaterThan(64 * 1024);
    await v.writeFile('bin/run.sh', big, { mode: 0o755 });
    await v.writeFile('data/new/blob.bin', Buffer.concat([big, big]));
    await svc.accept(t, ALL, 'me');
    expect(readFileSync(path.join(ws.root, 'bin/run.sh')).equals(big)).toBe(true);
    expect(statSync(path.join(ws.root, 'bin/run.sh')).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(ws.root, 'data/new/blob.bin')).equals(Buffer.concat([big, big]))).toBe(true);
    await svc.undo(t, 'me');
    expect(read('bin/run.sh')).toBe(small);
    expect(statSync(path.join(ws.root, 'bin/run.sh')).mode & 0o777).toBe(0o644);
    expect(existsSync(path.join(ws.root, 'data/new'))).toBe(false);
    expect(read('data/keep.txt')).toBe('keep\n');
  });

  it('a failed accept removes the directories it created for staging', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('new/sub/x.txt', 'x\n');
    await v.writeFile('z/y.txt', 'y\n');
    // The person puts a file where the agent's directory z goes: staging z/y.txt fails after new/sub was made.
    writeFileSync(path.join(ws.root, 'z'), 'a file\n');
    const e = await errorOf(svc.accept({ sessionId: 's1', workspace: ws.root }, ALL, 'tester'));
    expect(isShadowboxError(e, ErrorCodes.ShadowFailed, 'write_failed')).toBe(true);
    expect(existsSync(path.join(ws.root, 'new'))).toBe(false);
    expect(read('z')).toBe('a file\n');
  });
});
