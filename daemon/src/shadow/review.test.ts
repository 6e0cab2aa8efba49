import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const lines = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `line ${i + 1}${tag}`).join('\n') + '\n';
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const ALL = { paths: [], hunks: [], force: false };
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('checkpoints', () => {
  it("commits each turn with plumbing into the shadow repo, leaving the person's repo alone", async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'b.txt': 'B\n' });
    const headBefore = git(ws.root, 'rev-parse', 'HEAD');
    const statusBefore = git(ws.root, 'status', '--porcelain');
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    expect(await svc.checkpoint('s1', ws.root, 't0', 'nothing')).toBeNull();
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('c.txt', 'C\n');
    const c1 = await svc.checkpoint('s1', ws.root, 't1', 'edit a, add c');
    expect(c1?.files).toEqual(['a.txt', 'c.txt']);
    await v.remove('b.txt');
    const c2 = await svc.checkpoint('s1', ws.root, 't2', 'remove b');
    expect(await svc.checkpoint('s1', ws.root, 't3', 'again')).toBeNull();
    const repo = (await import('node:fs')).readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    const gitDir = path.join(ws.stateDir, 'workspaces', repo, 'shadow.git');
    const log = git(ws.root, '--git-dir', gitDir, 'log', '--format=%s', 'refs/shadowbox/sessions/s1');
    // History holds only touched paths: b.txt enters as "real files" before the turn that removes it.
    expect(log.trim().split('\n')).toEqual([
      'remove b',
      'shadowbox: real files before turn t2',
      'edit a, add c',
      'shadowbox: real files before turn t1',
    ]);
    expect(git(ws.root, '--git-dir', gitDir, 'show', `${c1!.commit}:a.txt`)).toBe('A2\n');
    expect(git(ws.root, '--git-dir', gitDir, 'diff', '--name-status', `${c2!.commit}^`, `${c2!.commit}`).trim()).toBe(
      'D\tb.txt',
    );
    expect(git(ws.root, '--git-dir', gitDir, 'log', '-1', '--format=%B', c1!.commit)).toContain(
      'Shadowbox-Session: s1',
    );
    // The turn commit holds exactly the agent's change.
    expect(
      git(ws.root, '--git-dir', gitDir, 'diff', '--name-status', `${c1!.commit}^`, c1!.commit).trim().split('\n'),
    ).toEqual(['M\ta.txt', 'A\tc.txt']);
    expect(git(ws.root, '--git-dir', gitDir, 'fsck', '--strict', '--no-dangling').trim()).toBe('');
    expect(git(ws.root, '--git-dir', gitDir, 'ls-tree', '-r', '--name-only', c1!.commit).trim().split('\n')).toEqual([
      'a.txt',
      'c.txt',
    ]);
    expect(git(ws.root, 'rev-parse', 'HEAD')).toBe(headBefore);
    expect(git(ws.root, 'status', '--porcelain')).toBe(statusBefore);
    expect(git(ws.root, 'branch', '--list').trim()).toBe('* main');
    const st = await svc.status({ sessionId: 's1', workspace: ws.root });
    expect(st.commits.map((c) => c.summary)).toEqual(['edit a, add c', 'remove b']);
  });

  it('writes trees git accepts for nested paths and tricky name order', async () => {
    ws = makeWorkspace({ 'x.txt': 'x\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    for (const p of ['sub/x.txt', 'sub-y.txt', 'sub.txt', 'sub/deep/z.txt', 'a b/é.txt']) await v.writeFile(p, p);
    await v.writeFile('run.sh', 'echo\n', { mode: 0o755 });
    const c = await svc.checkpoint('s1', ws.root, 't1', 'nested');
    const repo = (await import('node:fs')).readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    const gitDir = path.join(ws.stateDir, 'workspaces', repo, 'shadow.git');
    expect(git(ws.root, '--git-dir', gitDir, 'fsck', '--strict', '--no-dangling').trim()).toBe('');
    expect(git(ws.root, '--git-dir', gitDir, 'show', `${c!.commit}:sub/deep/z.txt`)).toBe('sub/deep/z.txt');
    expect(git(ws.root, '--git-dir', gitDir, 'ls-tree', c!.commit, 'run.sh')).toMatch(/^100755 blob/);
  });

  it('writes each checkpoint as one fsck-clean pack, never repeating objects history holds (also after a restart)', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    ws = makeWorkspace({ 'a.txt': 'A\n', 'keep/k.txt': 'K\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('keep/k.txt', 'K2\n');
    await v.writeFile('big.bin', big);
    const c1 = await svc.checkpoint('s1', ws.root, 't1', 'one');
    const repo = (await import('node:fs')).readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    const gitDir = path.join(ws.stateDir, 'workspaces', repo, 'shadow.git');
    const packs = () => (git(ws.root, '--git-dir', gitDir, 'count-objects', '-v').match(/^packs: (\d+)$/m) ?? [])[1];
    const packed = () =>
      new Set(
        git(ws.root, '--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)')
          .trim()
          .split('\n'),
      );
    expect(packs()).toBe('1');
    // The large blob is streamed into a loose object; everything else is in the pack.
    expect(git(ws.root, '--git-dir', gitDir, 'cat-file', '-s', `${c1!.commit}:big.bin`).trim()).toBe(
      String(big.byteLength),
    );
    const keepTree = git(ws.root, '--git-dir', gitDir, 'rev-parse', `${c1!.commit}:keep`).trim();
    await svc.close();
    // A new service (a daemon restart) learns what the packs hold from their indexes.
    const svc2 = ws.open();
    const v2 = await svc2.view('s1', ws.root);
    await v2.writeFile('a.txt', 'A3\n');
    const c2 = await svc2.checkpoint('s1', ws.root, 't2', 'two');
    expect(packs()).toBe('2');
    // Editing a file again in a later turn commits only the change (no second "real files" commit of its base).
    expect(
      git(ws.root, '--git-dir', gitDir, 'log', '--format=%s', 'refs/shadowbox/sessions/s1').trim().split('\n'),
    ).toEqual(['two', 'one', 'shadowbox: real files before turn t1']);
    expect(git(ws.root, '--git-dir', gitDir, 'diff', `${c1!.commit}`, `${c2!.commit}`)).toContain('-A2\n+A3\n');
    const second = readdirSync(path.join(gitDir, 'objects', 'pack'))
      .filter((n) => n.endsWith('.idx'))
      .map((n) => git(ws.root, 'verify-pack', '-v', path.join(gitDir, 'objects', 'pack', n)));
    // Only the new blob, the changed root tree and the commit: the untouched `keep/` tree and old blobs are not repeated.
    expect(
      second.map((out) => out.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).length).sort((a, b) => a - b),
    ).toEqual([3, 10]);
    expect(git(ws.root, '--git-dir', gitDir, 'rev-parse', `${c2!.commit}:keep`).trim()).toBe(keepTree);
    expect(packed().has(keepTree)).toBe(true);
    expect(git(ws.root, '--git-dir', gitDir, 'show', `${c2!.commit}:a.txt`)).toBe('A3\n');
    expect(git(ws.root, '--git-dir', gitDir, 'fsck', '--strict', '--no-dangling', '--full').trim()).toBe('');
  });
});

describe('review', () => {
  it('diffs with hunk ids that are stable and survive accepting another hunk', async () => {
    ws = makeWorkspace({ 'f.txt': lines(40) });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile(
      'f.txt',
      lines(40).replace('line 3\n', 'line 3 changed\n').replace('line 30\n', 'line 30 changed\n'),
    );
    const t = { sessionId: 's1', workspace: ws.root };
    const d1 = await svc.diff(t);
    const d2 = await svc.diff(t);
    expect(d1.files[0].hunks.map((h) => h.id)).toEqual(d2.files[0].hunks.map((h) => h.id));
    const [h1, h2] = d1.files[0].hunks;
    expect(h1.id).toMatch(/^f\.txt#[0-9a-f]{10}$/);
    expect(d1.files[0].patch).toContain('+line 30 changed');
    const r = await svc.accept(t, { paths: [], hunks: [h1.id], force: false }, 'tester');
    expect(r.applied).toEqual([{ path: 'f.txt', action: 'written' }]);
    expect(read('f.txt')).toContain('line 3 changed\n');
    expect(read('f.txt')).not.toContain('line 30 changed');
    const d3 = await svc.diff(t);
    expect(d3.files[0].hunks.map((h) => h.id)).toEqual([h2.id]);
    const again = await errorOf(svc.accept(t, { paths: [], hunks: [h1.id], force: false }, 'tester'));
    expect(isShadowboxError(again, ErrorCodes.HunkNotFound, 'unknown_hunk')).toBe(true);
    expect(
      isShadowboxError(
        await errorOf(svc.accept(t, { paths: ['nope.txt'], hunks: [], force: false }, 'x')),
        ErrorCodes.HunkNotFound,
        'not_pending',
      ),
    ).toBe(true);
    await svc.accept(t, { paths: [], hunks: [h2.id], force: false }, 'tester');
    expect(read('f.txt')).toContain('line 30 changed');
    expect((await svc.status(t)).files).toEqual([]);
  });

  it('refuses positions ("f.txt#1"): repeating an accept never takes another hunk', async () => {
    ws = makeWorkspace({ 'f.txt': lines(40) });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile(
      'f.txt',
      lines(40).replace('line 3\n', 'line 3 changed\n').replace('line 30\n', 'line 30 changed\n'),
    );
    const t = { sessionId: 's1', workspace: ws.root };
    const ids = (await svc.diff(t)).files[0].hunks.map((h) => h.id);
    const before = read('f.txt');
    for (const op of [
      () => svc.accept(t, { paths: [], hunks: ['f.txt#1'], force: false }, 'x'),
      () => svc.reject(t, { paths: [], hunks: ['f.txt#2'] }, 'x'),
    ]) {
      const e = await errorOf(op());
      expect(isShadowboxError(e, ErrorCodes.HunkNotFound, 'positional_hunk_id')).toBe(true);
      // The error shows the stable ids to use instead.
      expect((e as { data: { ids: string[] } }).data.ids).toEqual(ids);
      expect((e as Error).message).toContain(`${ids[0]} (1)`);
    }
    expect(read('f.txt')).toBe(before);
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual(ids);
    // The same stable id twice: the first accept applies it, the second is a typed error and writes nothing.
    await svc.accept(t, { paths: [], hunks: [ids[0]], force: false }, 'x');
    const applied = read('f.txt');
    expect(applied).toContain('line 3 changed\n');
    expect(applied).not.toContain('line 30 changed');
    const again = await errorOf(svc.accept(t, { paths: [], hunks: [ids[0]], force: false }, 'x'));
    expect(isShadowboxError(again, ErrorCodes.HunkNotFound, 'unknown_hunk')).toBe(true);
    expect(read('f.txt')).toBe(applied);
    expect((await svc.diff(t)).files[0].hunks.map((h) => h.id)).toEqual([ids[1]]);
  });

  it('a mode-only change (chmod, same bytes) is reviewed, checkpointed, exported, accepted and undone', async () => {
    ws = makeWorkspace({ 'run.sh': 'echo hi\n' });
    chmodSync(path.join(ws.root, 'run.sh'), 0o644);
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('run.sh', await v.readFile('run.sh'), { mode: 0o755 });
    const t = { sessionId: 's1', workspace: ws.root };
    const d = (await svc.diff(t)).files;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      path: 'run.sh',
      change: 'modified',
      oldMode: 0o644,
      newMode: 0o755,
      hunks: [],
      binary: false,
      stale: false,
    });
    expect(await svc.checkpoint('s1', ws.root, 't1', 'make it executable')).toMatchObject({ files: ['run.sh'] });
    await svc.exportBranch(t, 'agent/mode');
    expect(git(ws.root, 'ls-tree', 'agent/mode', 'run.sh')).toMatch(/^100755 blob/);
    const oid = git(ws.root, 'rev-parse', 'HEAD:run.sh').trim();
    expect(git(ws.root, 'rev-parse', 'agent/mode:run.sh').trim()).toBe(oid);
    const r = await svc.accept(t, { paths: ['run.sh'], hunks: [], force: false }, 'tester');
    expect(r.applied).toEqual([{ path: 'run.sh', action: 'mode' }]);
    expect(statSync(path.join(ws.root, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(read('run.sh')).toBe('echo hi\n');
    expect((await svc.status(t)).files).toEqual([]);
    const audited = ws.audit.entries.find((e) => e.type === 'shadow.accept')!.data.files as {
      action: string;
      before: { oid: string; mode: number };
      after: { oid: string; mode: number };
    }[];
    expect(audited).toEqual([
      {
        path: 'run.sh',
        action: 'mode',
        before: { type: 'file', oid, mode: 0o644 },
        after: { type: 'file', oid, mode: 0o755 },
      },
    ]);
    await svc.undo(t, 'tester');
    expect(statSync(path.join(ws.root, 'run.sh')).mode & 0o777).toBe(0o644);
    expect(read('run.sh')).toBe('echo hi\n');
    expect((await svc.diff(t)).files[0]).toMatchObject({ oldMode: 0o644, newMode: 0o755 });
  });

  it('accepts a file atomically with its mode, deletions, renames, new dirs, and audits digests', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'old.txt': 'moved\n', 'gone.txt': 'bye\n', 'run.sh': 'echo\n' });
    chmodSync(path.join(ws.root, 'run.sh'), 0o755);
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('run.sh', 'echo 2\n');
    await v.rename('old.txt', 'sub/new.txt');
    await v.remove('gone.txt');
    await v.mkdir('emptydir');
    const t = { sessionId: 's1', workspace: ws.root };
    const st = await svc.status(t);
    expect(st.files.map((f) => [f.path, f.change, f.oldPath])).toEqual([
      ['a.txt', 'modified', undefined],
      ['emptydir/', 'added', undefined],
      ['gone.txt', 'deleted', undefined],
      ['run.sh', 'modified', undefined],
      ['sub/new.txt', 'renamed', 'old.txt'],
    ]);
    const one = await svc.accept(t, { paths: ['a.txt'], hunks: [], force: false }, 'tester');
    expect(one.applied).toEqual([{ path: 'a.txt', action: 'written' }]);
    expect(read('a.txt')).toBe('A2\n');
    expect(existsSync(path.join(ws.root, 'gone.txt'))).toBe(true);
    const rest = await svc.accept(t, ALL, 'tester');
    expect(rest.applied.map((a) => a.action).sort()).toEqual(['deleted', 'renamed', 'written', 'written']);
    expect(read('sub/new.txt')).toBe('moved\n');
    expect(existsSync(path.join(ws.root, 'old.txt'))).toBe(false);
    expect(existsSync(path.join(ws.root, 'gone.txt'))).toBe(false);
    expect(statSync(path.join(ws.root, 'emptydir')).isDirectory()).toBe(true);
    expect(statSync(path.join(ws.root, 'run.sh')).mode & 0o777).toBe(0o755);
    expect((await svc.status(t)).files).toEqual([]);
    const entries = ws.audit.entries.filter((e) => e.type === 'shadow.accept');
    expect(entries).toHaveLength(2);
    const json = JSON.stringify(entries);
    expect(json).not.toContain('A2');
    expect(json).toMatch(/"oid":"[0-9a-f]{40}"/);
    expect(entries[0].data.by).toBe('tester');
    // The accept left no temp files behind.
    expect((await import('node:fs')).readdirSync(ws.root).filter((n) => n.includes('.sbx-'))).toEqual([]);
  });

  it('merges cleanly when the person edited another part of the file', async () => {
    ws = makeWorkspace({ 'f.txt': lines(30) });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const seen = Buffer.from(await v.readFile('f.txt')).toString();
    // The person edits the top after the agent read the file; the agent edits the bottom of what it read.
    writeFileSync(path.join(ws.root, 'f.txt'), lines(30).replace('line 2\n', 'line 2 by person\n'));
    await v.writeFile('f.txt', seen.replace('line 28\n', 'line 28 by agent\n'));
    const t = { sessionId: 's1', workspace: ws.root };
    expect((await svc.status(t)).files[0].stale).toBe(true);
    const r = await svc.accept(t, ALL, 'tester');
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toEqual([{ path: 'f.txt', action: 'merged' }]);
    expect(read('f.txt')).toContain('line 2 by person\n');
    expect(read('f.txt')).toContain('line 28 by agent\n');
  });

  it('reports a conflict and writes nothing unless forced', async () => {
    ws = makeWorkspace({ 'f.txt': lines(10) });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('f.txt', lines(10).replace('line 5\n', 'line 5 agent\n'));
    writeFileSync(path.join(ws.root, 'f.txt'), lines(10).replace('line 5\n', 'line 5 person\n'));
    const t = { sessionId: 's1', workspace: ws.root };
    const r = await svc.accept(t, ALL, 'tester');
    expect(r.acceptId).toBeNull();
    expect(r.applied).toEqual([]);
    expect(r.conflicts[0].path).toBe('f.txt');
    expect(r.conflicts[0].hunks).toHaveLength(1);
    expect(r.conflicts[0].conflictText).toContain('<<<<<<< yours');
    expect(r.conflicts[0].conflictText).toContain('line 5 agent');
    expect(read('f.txt')).toContain('line 5 person');
    const forced = await svc.accept(t, { ...ALL, force: true }, 'tester');
    expect(forced.applied).toEqual([{ path: 'f.txt', action: 'written' }]);
    expect(read('f.txt')).toContain('line 5 agent');
    // Undo of the forced accept brings back exactly the person's bytes.
    await svc.undo(t, 'tester');
    expect(read('f.txt')).toBe(lines(10).replace('line 5\n', 'line 5 person\n'));
  });

  it('undo restores the exact previous bytes, and refuses when the file changed since', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\r\nno newline at end', 'b.txt': 'B\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const t = { sessionId: 's1', workspace: ws.root };
    expect(isShadowboxError(await errorOf(svc.undo(t, 'x')), ErrorCodes.NothingToUndo)).toBe(true);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('added.txt', 'added\n');
    await svc.accept(t, ALL, 'tester');
    expect((await svc.status(t)).undoable).toBe(1);
    const u = await svc.undo(t, 'tester');
    expect(u.restored.sort()).toEqual(['a.txt', 'added.txt']);
    expect(read('a.txt')).toBe('A\r\nno newline at end');
    expect(existsSync(path.join(ws.root, 'added.txt'))).toBe(false);
    // The changes are pending again.
    expect((await svc.status(t)).files.map((f) => f.path)).toEqual(['a.txt', 'added.txt']);
    await v.writeFile('b.txt', 'B2\n');
    await svc.accept(t, { paths: ['b.txt'], hunks: [], force: false }, 'tester');
    writeFileSync(path.join(ws.root, 'b.txt'), 'person edited\n');
    const e = await errorOf(svc.undo(t, 'tester'));
    expect(isShadowboxError(e, ErrorCodes.UndoRefused, 'changed_since_accept')).toBe(true);
    expect(read('b.txt')).toBe('person edited\n');
    expect(ws.audit.entries.map((x) => x.type)).toEqual(['shadow.accept', 'shadow.undo', 'shadow.accept']);
  });

  it('reject drops files or hunks from the layer without touching real files', async () => {
    ws = makeWorkspace({ 'f.txt': lines(40), 'g.txt': 'G\n', 'd/x.txt': 'X\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile(
      'f.txt',
      lines(40).replace('line 3\n', 'line 3 changed\n').replace('line 30\n', 'line 30 changed\n'),
    );
    await v.writeFile('g.txt', 'G2\n');
    await v.remove('d');
    const t = { sessionId: 's1', workspace: ws.root };
    const [h1, h2] = (await svc.diff(t, ['f.txt'])).files[0].hunks;
    const r = await svc.reject(t, { paths: ['g.txt', 'd/x.txt'], hunks: [h1.id] }, 'tester');
    expect(r.rejected.sort()).toEqual(['d/x.txt', 'g.txt', h1.id].sort());
    expect(Buffer.from(await v.readFile('g.txt')).toString()).toBe('G\n');
    expect(Buffer.from(await v.readFile('d/x.txt')).toString()).toBe('X\n');
    const left = (await svc.diff(t)).files;
    expect(left.map((f) => f.path)).toEqual(['f.txt']);
    expect(left[0].hunks.map((h) => h.id)).toEqual([h2.id]);
    expect(read('g.txt')).toBe('G\n');
    expect(ws.audit.entries.at(-1)!.type).toBe('shadow.reject');
  });

  it('works in a directory that is not a git repository, including export', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' }, { git: false });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    const c = await svc.checkpoint('s1', ws.root, 't1', 'edit');
    expect(c?.files).toEqual(['a.txt']);
    const t = { sessionId: 's1', workspace: ws.root };
    const ex = await svc.exportBranch(t, 'agent-work');
    expect(ex).toEqual({
      branch: 'agent-work',
      commit: c!.commit,
      commits: 1,
      where: 'shadow',
      repository: expect.stringMatching(/shadow\.git$/) as string,
    });
    await svc.accept(t, ALL, 'tester');
    expect(read('a.txt')).toBe('A2\n');
    expect(existsSync(path.join(ws.root, '.git'))).toBe(false);
  });

  it('handles binary files: no hunks, whole-file accept, exact bytes', async () => {
    const bin = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2, 3]);
    ws = makeWorkspace({ 'img.png': bin });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const next = Buffer.concat([bin, Buffer.from([0, 9, 9])]);
    await v.writeFile('img.png', next);
    const t = { sessionId: 's1', workspace: ws.root };
    const d = (await svc.diff(t)).files[0];
    expect(d.binary).toBe(true);
    expect(d.hunks).toEqual([]);
    expect(d.patch).toContain('Binary files');
    expect((await svc.file(t, 'img.png')).binary).toBe(true);
    await svc.accept(t, ALL, 'tester');
    expect(readFileSync(path.join(ws.root, 'img.png')).equals(next)).toBe(true);
  });

  it('shadow/file shows real and shadow text', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('n.txt', 'N\n');
    const t = { sessionId: 's1', workspace: ws.root };
    expect(await svc.file(t, 'a.txt')).toEqual({ path: 'a.txt', real: 'A\n', shadow: 'A2\n', binary: false });
    expect(await svc.file(t, 'n.txt')).toEqual({ path: 'n.txt', real: null, shadow: 'N\n', binary: false });
  });
});
