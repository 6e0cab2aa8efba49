import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');

describe('export', () => {
  it("creates a branch in the person's repo on top of HEAD without touching HEAD, index or working tree", async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'keep.txt': 'K\n', 'sub/b.txt': 'B\n' });
    writeFileSync(path.join(ws.root, 'untracked.txt'), 'U\n');
    writeFileSync(path.join(ws.root, 'keep.txt'), 'K staged\n');
    git(ws.root, 'add', 'keep.txt');
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await svc.checkpoint('s1', ws.root, 't1', 'turn one');
    await v.remove('sub/b.txt');
    await v.writeFile('n.txt', 'N\n');
    await svc.checkpoint('s1', ws.root, 't2', 'turn two');
    // The person commits meanwhile: export replays on their new HEAD.
    writeFileSync(path.join(ws.root, 'later.txt'), 'L\n');
    git(ws.root, 'add', 'later.txt');
    git(ws.root, 'commit', '-qm', 'person commit');
    const head = git(ws.root, 'rev-parse', 'HEAD').trim();
    const status = git(ws.root, 'status', '--porcelain');
    const index = readFileSync(path.join(ws.root, '.git/index'));
    const t = { sessionId: 's1', workspace: ws.root };
    const r = await svc.exportBranch(t, 'agent/work');
    expect(r.commits).toBe(2);
    expect(git(ws.root, 'rev-parse', 'agent/work').trim()).toBe(r.commit);
    expect(git(ws.root, 'log', '--format=%s', `${head}..agent/work`).trim().split('\n')).toEqual([
      'turn two',
      'turn one',
    ]);
    expect(git(ws.root, 'show', 'agent/work:a.txt')).toBe('A2\n');
    expect(git(ws.root, 'show', 'agent/work:later.txt')).toBe('L\n');
    expect(git(ws.root, 'ls-tree', '-r', '--name-only', 'agent/work').trim().split('\n').sort()).toEqual([
      'a.txt',
      'keep.txt',
      'later.txt',
      'n.txt',
    ]);
    expect(git(ws.root, 'fsck', '--no-dangling').trim()).toBe('');
    expect(git(ws.root, 'rev-parse', 'HEAD').trim()).toBe(head);
    expect(git(ws.root, 'status', '--porcelain')).toBe(status);
    expect(readFileSync(path.join(ws.root, '.git/index')).equals(index)).toBe(true);
    expect(git(ws.root, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/main');
    const again = await svc.exportBranch(t, 'agent/work').catch((e: unknown) => e);
    expect(isShadowboxError(again, ErrorCodes.ShadowFailed, 'branch_exists')).toBe(true);
    const bad = await svc.exportBranch(t, 'bad..name').catch((e: unknown) => e);
    expect(isShadowboxError(bad, ErrorCodes.ShadowFailed, 'invalid_branch')).toBe(true);
  });
});

const lines = (n: number, change: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => `${change[i + 1] ?? `line ${i + 1}`}\n`).join('');

describe('export ends at the review state', () => {
  it('a rejected file is as HEAD has it; rejected hunks, pending edits, accepts and undos are as they are now', async () => {
    ws = makeWorkspace({
      'a.txt': 'A\n',
      'b.txt': 'B\n',
      'c.txt': lines(40),
      'f.txt': 'F\n',
      'g.txt': 'G\n',
      'u.txt': 'U\n',
    });
    // The person's uncommitted edit, which the agent reads and builds on.
    writeFileSync(path.join(ws.root, 'a.txt'), 'A person\n');
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.readFile('a.txt');
    await v.writeFile('a.txt', 'A person\nA agent\n');
    await v.writeFile('b.txt', 'B2\n');
    await v.writeFile('c.txt', lines(40, { 3: 'three', 30: 'thirty' }));
    await v.writeFile('d.txt', 'new\n');
    await v.remove('f.txt');
    await v.writeFile('g.txt', 'G2\n');
    await v.writeFile('u.txt', 'U2\n');
    await svc.checkpoint('s1', ws.root, 't1', 'turn one');
    await v.writeFile('e.txt', 'after the last turn\n');
    const t = { sessionId: 's1', workspace: ws.root };
    const thirty = (await svc.diff(t, ['c.txt'])).files[0].hunks.find((h) => h.lines.includes('+thirty'))!.id;
    await svc.reject(t, { paths: ['a.txt', 'd.txt', 'f.txt'], hunks: [thirty] }, 'person');
    await svc.accept(t, { paths: ['g.txt'], hunks: [], force: false }, 'person');
    await svc.accept(t, { paths: ['u.txt'], hunks: [], force: false }, 'person');
    await svc.undo(t, 'person');
    const head = git(ws.root, 'rev-parse', 'HEAD').trim();
    const r = await svc.exportBranch(t, 'agent/work');
    expect(r.commits).toBe(2);
    expect(git(ws.root, 'log', '--format=%s', `${head}..agent/work`).trim().split('\n')).toEqual([
      'shadowbox: review state at export',
      'turn one',
    ]);
    const show = (p: string) => git(ws.root, 'show', `agent/work:${p}`);
    // Rejected: exactly HEAD's bytes (not the agent's, not the person's uncommitted edit); a rejected new file is absent.
    expect(show('a.txt')).toBe('A\n');
    expect(show('f.txt')).toBe('F\n');
    expect(git(ws.root, 'ls-tree', '--name-only', 'agent/work', 'd.txt').trim()).toBe('');
    expect(git(ws.root, 'diff', '--stat', head, 'agent/work', '--', 'a.txt', 'd.txt', 'f.txt').trim()).toBe('');
    // The rest: kept, partially rejected, added after the last turn, accepted, accepted then undone (pending again).
    expect(show('b.txt')).toBe('B2\n');
    expect(show('c.txt')).toBe(lines(40, { 3: 'three' }));
    expect(show('e.txt')).toBe('after the last turn\n');
    expect(show('g.txt')).toBe('G2\n');
    expect(show('u.txt')).toBe('U2\n');
    const msg = git(ws.root, 'log', '-1', '--format=%B', 'agent/work');
    expect(msg).toContain('Reverted: a.txt, d.txt, f.txt\nChanged: c.txt, e.txt');
    expect(msg).toContain('Shadowbox-Session: s1');
    expect(git(ws.root, 'fsck', '--no-dangling').trim()).toBe('');
    // Nothing of the person's changed: their uncommitted edit is still in the working tree.
    expect(git(ws.root, 'rev-parse', 'HEAD').trim()).toBe(head);
    expect(read('a.txt')).toBe('A person\n');
  });

  it('without a later review change no extra commit is made; with only pending edits one commit is', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    const t = { sessionId: 's1', workspace: ws.root };
    const none = await svc.exportBranch(t, 'none').catch((e: unknown) => e);
    expect(isShadowboxError(none, ErrorCodes.ShadowFailed, 'nothing_to_export'), String(none)).toBe(true);
    await v.writeFile('a.txt', 'A2\n');
    const r = await svc.exportBranch(t, 'pending-only');
    expect(r.commits).toBe(1);
    expect(git(ws.root, 'show', 'pending-only:a.txt')).toBe('A2\n');
    await svc.checkpoint('s1', ws.root, 't1', 'turn one');
    const r2 = await svc.exportBranch(t, 'clean');
    expect(r2.commits).toBe(1);
    expect(git(ws.root, 'log', '-1', '--format=%s', 'clean').trim()).toBe('turn one');
  });

  it("a workspace inside a larger repository: the reverted file is HEAD's, under its prefix", async () => {
    ws = makeWorkspace({ 'top.txt': 'T\n', 'pkg/a.txt': 'A\n', 'pkg/b.txt': 'B\n' });
    const sub = path.join(ws.root, 'pkg');
    const svc = ws.open();
    const v = await svc.view('s1', sub);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('b.txt', 'B2\n');
    await svc.checkpoint('s1', sub, 't1', 'turn one');
    const t = { sessionId: 's1', workspace: sub };
    await svc.reject(t, { paths: ['a.txt'], hunks: [] }, 'person');
    await svc.exportBranch(t, 'agent/work');
    expect(git(ws.root, 'show', 'agent/work:pkg/a.txt')).toBe('A\n');
    expect(git(ws.root, 'show', 'agent/work:pkg/b.txt')).toBe('B2\n');
    expect(git(ws.root, 'ls-tree', '-r', '--name-only', 'agent/work').trim().split('\n')).toEqual([
      'pkg/a.txt',
      'pkg/b.txt',
      'top.txt',
    ]);
    expect(git(ws.root, 'log', '-1', '--format=%B', 'agent/work')).toContain('Reverted: a.txt');
  });

  it('in a directory that is not a git repository the shadow branch ends at the review state too', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'b.txt': 'B\n' }, { git: false });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('b.txt', 'B2\n');
    await svc.checkpoint('s1', ws.root, 't1', 'turn one');
    const t = { sessionId: 's1', workspace: ws.root };
    await svc.reject(t, { paths: ['a.txt'], hunks: [] }, 'person');
    const r = await svc.exportBranch(t, 'agent/work');
    const wsId = readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    const shadowGit = path.join(ws.stateDir, 'workspaces', wsId, 'shadow.git');
    expect(git(ws.root, '--git-dir', shadowGit, 'rev-parse', 'agent/work').trim()).toBe(r.commit);
    expect(git(ws.root, '--git-dir', shadowGit, 'show', 'agent/work:a.txt')).toBe('A\n');
    expect(git(ws.root, '--git-dir', shadowGit, 'show', 'agent/work:b.txt')).toBe('B2\n');
    expect(git(ws.root, '--git-dir', shadowGit, 'fsck', '--strict', '--no-dangling').trim()).toBe('');
  });
});

describe('faults', () => {
  it('a failure while staging changes nothing and leaves no temp files', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('d/new.txt', 'N\n');
    // The person puts a file where the agent's directory goes: staging d/new.txt fails (ENOTDIR).
    writeFileSync(path.join(ws.root, 'd'), 'a file\n');
    const e = await svc.accept({ sessionId: 's1', workspace: ws.root }, ALL, 'tester').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.ShadowFailed, 'write_failed')).toBe(true);
    expect(read('a.txt')).toBe('A\n');
    expect(readdirSync(ws.root).filter((n) => n.includes('.sbx-'))).toEqual([]);
    expect((await svc.status({ sessionId: 's1', workspace: ws.root })).undoable).toBe(0);
  });

  it('kill -9 in the middle of an accept leaves every file old or new, and the next start rolls back and reports it', async () => {
    const dist = fileURLToPath(new URL('../../dist/shadow/index.js', import.meta.url));
    expect(existsSync(dist), 'build the daemon first (npm run build)').toBe(true);
    const N = 300;
    const PAUSE_AFTER = 150;
    const files: Record<string, string> = {};
    for (let i = 0; i < N; i++) files[`f/${i}.txt`] = `old ${i}\n`.repeat(200);
    ws = makeWorkspace(files, { git: false });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    for (let i = 0; i < N; i++) await v.writeFile(`f/${i}.txt`, `new ${i}\n`.repeat(200));
    await svc.close();
    // The child stops after the 151st rename (the test seam) and says so: the kill lands mid-accept, every time.
    const script = `const { createShadowService } = await import(${JSON.stringify(pathToFileURL(dist).href)});
      const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
      const onAcceptStep = (i) => { if (i === ${PAUSE_AFTER}) { process.stdout.write('paused'); return new Promise(() => {}); } };
      const svc = createShadowService({ stateDir: ${JSON.stringify(ws.stateDir)}, audit: { append: async () => {} }, logger, onAcceptStep });
      await svc.accept({ sessionId: 's1', workspace: ${JSON.stringify(ws.root)} }, { paths: [], hunks: [], force: false }, 'child');
      process.stdout.write('done');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const paused = new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => ((out += String(d)), out.includes('paused') && resolve())),
    );
    const exited = new Promise((r) => child.once('exit', r));
    await Promise.race([paused, exited]);
    expect(out).toBe('paused');
    child.kill('SIGKILL');
    await exited;
    const mid = Array.from({ length: N }, (_, i) => read(`f/${i}.txt`));
    mid.forEach((c, i) => expect([`old ${i}\n`.repeat(200), `new ${i}\n`.repeat(200)]).toContain(c));
    // The interrupted path really ran: some files were already new, the rest still old.
    const renamed = mid.filter((c, i) => c === `new ${i}\n`.repeat(200)).length;
    expect(renamed).toBe(PAUSE_AFTER + 1);
    const svc2 = ws.open();
    const st = await svc2.status({ sessionId: 's1', workspace: ws.root });
    // Rolled back to the old bytes, the changes still pending, the recovery audited.
    Array.from({ length: N }, (_, i) => read(`f/${i}.txt`)).forEach((c, i) => expect(c).toBe(`old ${i}\n`.repeat(200)));
    expect(st.files).toHaveLength(N);
    expect(st.undoable).toBe(0);
    const rec = ws.audit.entries.find((e) => e.type === 'shadow.accept.recovered');
    expect(rec?.data).toMatchObject({ outcome: 'rolled_back' });
    expect((rec?.data.paths as string[]).length).toBe(PAUSE_AFTER + 1);
    expect(readdirSync(path.join(ws.root, 'f')).filter((n) => n.includes('.sbx-'))).toEqual([]);
    // And the accept can simply be run again.
    await svc2.accept({ sessionId: 's1', workspace: ws.root }, ALL, 'tester');
    Array.from({ length: N }, (_, i) => read(`f/${i}.txt`)).forEach((c, i) => expect(c).toBe(`new ${i}\n`.repeat(200)));
  }, 60_000);
});

describe('restart and watch', () => {
  it('a new service on the same state dir sees the layer, its history and its undo stack', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'b.txt': 'B\n' });
    const s1 = ws.open();
    const v = await s1.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('b.txt', 'B2\n');
    await s1.checkpoint('s1', ws.root, 't1', 'edit');
    await s1.accept({ sessionId: 's1', workspace: ws.root }, { paths: ['a.txt'], hunks: [], force: false }, 'x');
    await s1.close();
    const s2 = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const st = await s2.status(t);
    expect(st.files.map((f) => f.path)).toEqual(['b.txt']);
    expect(st.commits.map((c) => c.summary)).toEqual(['edit']);
    expect(st.undoable).toBe(1);
    expect(Buffer.from(await (await s2.view('s1', ws.root)).readFile('b.txt')).toString()).toBe('B2\n');
    await s2.undo(t, 'x');
    expect(read('a.txt')).toBe('A\n');
  });

  it("watch reports the person's changes to paths the agent changed, nothing else", async () => {
    ws = makeWorkspace({ '.gitignore': 'build/\n', 'a.txt': 'A\n', 'b.txt': 'B\n' });
    mkdirSync(path.join(ws.root, 'node_modules'));
    mkdirSync(path.join(ws.root, 'build'));
    const svc = ws.open();
    await (await svc.view('s1', ws.root)).writeFile('a.txt', 'agent\n');
    const seen: string[][] = [];
    const stop = svc.watch(ws.root, (p) => seen.push(p));
    // The watch starts asynchronously: the edits are repeated until a batch arrives (a condition, not a delay).
    for (let i = 0; seen.length === 0; i++) {
      writeFileSync(path.join(ws.root, 'node_modules/x.js'), `x${i}`);
      writeFileSync(path.join(ws.root, 'build/out.js'), `x${i}`);
      writeFileSync(path.join(ws.root, 'b.txt'), `B${i}\n`);
      writeFileSync(path.join(ws.root, 'a.txt'), `A changed ${i}\n`);
      await new Promise((r) => setTimeout(r, 100));
    }
    stop();
    expect([...new Set(seen.flat())]).toEqual(['a.txt']);
  });

  it('marks a pending edit stale when the person changes the file', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    const t = { sessionId: 's1', workspace: ws.root };
    expect((await svc.status(t)).files[0].stale).toBe(false);
    writeFileSync(path.join(ws.root, 'a.txt'), 'person\n');
    expect((await svc.status(t)).files[0].stale).toBe(true);
  });
});
