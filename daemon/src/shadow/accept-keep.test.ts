// Issue 20 (accept ≤ 2× `git apply`): a file an accept replaces keeps a second name — a hard link in a
// private folder of the state dir — through the rename over it, so ext4 frees its blocks when that name goes
// after the answer, not inside the rename. The workspace holds exactly the accepted files when the answer
// comes (no name of ours in it), a refused link changes nothing, and names a crash left go at the next open.
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { silentLogger, workspaceStateDir } from '../state/index.js';
import { noSpaceError } from './fault.js';
import type { AcceptRecord } from './journal.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const t = () => ({ sessionId: 's1', workspace: ws.root });
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const temps = () =>
  readdirSync(ws.root, { recursive: true })
    .map(String)
    .filter((n) => n.includes('.sbx-'));
const sessionDir = () => path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow', 'sessions', 's1');
const keepDir = () => path.join(sessionDir(), 'keep');
const kept = () => {
  try {
    return readdirSync(keepDir()).map((n) => readFileSync(path.join(keepDir(), n), 'utf8'));
  } catch {
    return [];
  }
};
const journals = (): AcceptRecord[] => {
  const dir = path.join(sessionDir(), 'accepts');
  return readdirSync(dir).map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as AcceptRecord);
};

describe('accept keeps a replaced file under a second name in the state dir until after the answer', () => {
  it('the old bytes sit in the keep folder while the accept renames; the answer finds the workspace exact', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n', 'sub/b.txt': 'old b\n' }, { git: false });
    const seen: string[][] = [];
    const svc = ws.open({ onAcceptStep: () => void seen.push(kept().sort()) });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('sub/b.txt', 'new b\n');
    await v.writeFile('c.txt', 'new c\n');
    const inode = statSync(path.join(ws.root, 'a.txt')).ino;
    const r = await svc.accept(t(), ALL, 'me');
    // At the answer: the accepted files and nothing else of ours in the workspace.
    expect(temps()).toEqual([]);
    expect([read('a.txt'), read('sub/b.txt'), read('c.txt')]).toEqual(['new a\n', 'new b\n', 'new c\n']);
    expect(r.applied.map((a) => a.path).sort()).toEqual(['a.txt', 'c.txt', 'sub/b.txt']);
    // While it renamed (items in path order: a.txt, c.txt, sub/b.txt), the replaced files were kept, the new one not.
    expect(seen).toEqual([['old a\n'], ['old a\n'], ['old a\n', 'old b\n']]);
    expect(statSync(path.join(ws.root, 'a.txt')).ino).not.toBe(inode);
    // The session's next call waits for the work after the answer: the kept names are gone, the journal says done.
    await svc.status(t());
    expect(kept()).toEqual([]);
    expect(journals().map((j) => j.state)).toEqual(['done']);
    // Undo puts the exact old bytes back (the after state it checks against is the staged file's own).
    await svc.undo(t(), 'me');
    expect([read('a.txt'), read('sub/b.txt')]).toEqual(['old a\n', 'old b\n']);
    expect(temps()).toEqual([]);
  });

  it('a link that cannot be made (EPERM, another file system) changes nothing: the rename replaces the file', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    let refused = 0;
    const svc = ws.open({
      faults: {
        before: (op) => {
          if (op !== 'real.link') return;
          refused++;
          throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
        },
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await svc.accept(t(), ALL, 'me');
    await svc.status(t());
    expect(refused).toBe(1);
    expect(read('a.txt')).toBe('new a\n');
    expect(temps()).toEqual([]);
    expect(kept()).toEqual([]);
    expect(journals().map((j) => j.state)).toEqual(['done']);
    await svc.undo(t(), 'me');
    expect(read('a.txt')).toBe('old a\n');
  });

  it('the after state is the written file itself: a same-size edit by the person right after the answer refuses undo', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n', 'b.txt': 'old b\n' }, { git: false });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('b.txt', 'new b\n');
    const acc = await svc.accept(t(), ALL, 'me');
    // Before the work after the answer has run: the same size, other bytes, in place (same inode), with an
    // mtime other than the written file's (set, so the test does not rest on the clock's tick: an edit that
    // keeps size, inode and mtime is not told apart from the accept's own bytes — docs/shadow-workspace.md).
    const a = path.join(ws.root, 'a.txt');
    const written = statSync(a).mtime;
    writeFileSync(a, 'MINE!\n');
    utimesSync(a, written, new Date(written.getTime() + 2000));
    const e = await svc.undo(t(), 'me').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.UndoRefused, 'changed_since_accept')).toBe(true);
    expect((e as { data?: unknown }).data).toMatchObject({ acceptId: acc.acceptId, paths: ['a.txt'] });
    expect([read('a.txt'), read('b.txt')]).toEqual(['MINE!\n', 'new b\n']);
  });

  it('a failed applied write drops the kept names before the roll-back writes anything (their room is its room)', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n', 'b.txt': 'old b\n' }, { git: false });
    let journalWrites = 0;
    let failedApplied = false;
    const keptAtRollBack: string[][] = [];
    const svc = ws.open({
      faults: {
        before: (op, file) => {
          if (op === 'journal.write' && ++journalWrites === 2) {
            failedApplied = true;
            throw noSpaceError(file);
          }
          if (op === 'real.stage' && failedApplied) keptAtRollBack.push(kept());
        },
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('b.txt', 'new b\n');
    const e = await svc.accept(t(), ALL, 'me').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.DiskFull)).toBe(true);
    // Both files were put back through a staged temp, each with the keep folder already empty.
    expect(keptAtRollBack).toEqual([[], []]);
    expect([read('a.txt'), read('b.txt')]).toEqual(['old a\n', 'old b\n']);
    expect(temps()).toEqual([]);
  });

  it('a roll-back that cannot put a file back leaves the journal pending and says so; the next call finishes it', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    const warnings: string[] = [];
    let journalWrites = 0;
    let stages = 0;
    const svc = ws.open({
      logger: { ...silentLogger, warn: (m: string) => void warnings.push(m) },
      faults: {
        before: (op, file) => {
          if (op === 'journal.write' && ++journalWrites === 2) throw noSpaceError(file);
          // The roll-back's own stage of the old bytes fails once, with an error that is not a full disk.
          if (op === 'real.stage' && ++stages === 2)
            throw Object.assign(new Error(`EBADF: bad file descriptor, close`), { code: 'EBADF' });
        },
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    const e = await svc.accept(t(), ALL, 'me').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.DiskFull)).toBe(true);
    expect(read('a.txt')).toBe('new a\n');
    expect(journals().map((j) => j.state)).toEqual(['pending']);
    expect(warnings.some((w) => w.includes('roll-back did not finish'))).toBe(true);
    // The session's next call rolls it back (the person's file was never theirs to lose).
    expect((await svc.status(t())).files.map((f) => f.path)).toEqual(['a.txt']);
    expect(read('a.txt')).toBe('old a\n');
    expect(journals().map((j) => j.state)).toEqual(['rolled_back']);
  });

  it('an audit append that fails after applied still gets the work after the accept done (journal done, names gone)', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n', 'b.txt': 'old b\n' }, { git: false });
    let fail = true;
    const svc = ws.open({
      audit: {
        append: async (e) => {
          if (fail && e.type === 'shadow.accept') {
            fail = false;
            throw new Error('audit: disk full');
          }
          return ws.audit.append(e);
        },
        seal: ws.audit.seal,
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('b.txt', 'new b\n');
    await expect(svc.accept(t(), ALL, 'me')).rejects.toThrow('audit: disk full');
    // The accept happened (applied is on disk); its layer save, `done` and the kept names' removal ran too.
    expect([read('a.txt'), read('b.txt')]).toEqual(['new a\n', 'new b\n']);
    expect(journals().map((j) => j.state)).toEqual(['done']);
    expect(kept()).toEqual([]);
    expect((await svc.status(t())).files).toEqual([]);
    await svc.undo(t(), 'me');
    expect([read('a.txt'), read('b.txt')]).toEqual(['old a\n', 'old b\n']);
  });

  it('names a crash left in the keep folder go when the session opens again', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    let svc = ws.open();
    await (await svc.view('s1', ws.root)).writeFile('a.txt', 'new a\n');
    await svc.close();
    mkdirSync(keepDir(), { recursive: true });
    linkSync(path.join(ws.root, 'a.txt'), path.join(keepDir(), 'left-by-a-crash'));
    writeFileSync(path.join(keepDir(), 'another'), 'x');
    const warnings: string[] = [];
    svc = ws.open({ logger: { ...silentLogger, warn: (m: string) => void warnings.push(m) } });
    expect((await svc.status(t())).files.map((f) => f.path)).toEqual(['a.txt']);
    expect(kept()).toEqual([]);
    expect(warnings.filter((w) => w.includes('kept name'))).toEqual([
      'shadow: session s1: removing 2 kept name(s) an interrupted accept left',
    ]);
    expect(read('a.txt')).toBe('old a\n');
  });
});
