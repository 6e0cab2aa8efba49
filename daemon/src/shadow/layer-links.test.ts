// Symlinks the agent makes (a sandboxed command's `ln -s` becomes `view.symlink`): reviewed as links,
// followed like real links when read (never to outside), accepted as links — never written through.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { workspaceStateDir } from '../state/index.js';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const t = () => ({ sessionId: 's1', workspace: ws.root });

describe('links the agent makes', () => {
  it('a link inside is followed by reads, listed as a link, reviewed as one, committed as 120000, accepted and undone', async () => {
    ws = makeWorkspace({ 'src/a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.symlink('current', 'src');
    expect(Buffer.from(await v.readFile('current/a.txt')).toString()).toBe('A\n');
    expect((await v.readdir('')).find((e) => e.name === 'current')?.type).toBe('symlink');
    expect(await v.resolve('current/a.txt')).toBe('src/a.txt');
    // Writing through the link edits its target, as on a real file system.
    await v.writeFile('current/b.txt', 'B\n');
    const st = await svc.status(t());
    expect(st.files.map((f) => [f.path, f.change, f.link])).toEqual([
      ['current', 'added', 'src'],
      ['src/b.txt', 'added', undefined],
    ]);
    const d = await svc.diff(t(), ['current']);
    expect(d.files[0].patch).toBe('added current (symlink → src)\n');
    expect(d.files[0].hunks).toEqual([]);
    const cp = await svc.checkpoint('s1', ws.root, 'turn-1', 'link');
    expect(cp?.files.sort()).toEqual(['current', 'src/b.txt']);
    const repo = path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow.git');
    expect(git(ws.root, '--git-dir', repo, 'ls-tree', cp!.commit, 'current')).toMatch(/^120000 blob /);
    await svc.accept(t(), ALL, 'person');
    expect(readlinkSync(path.join(ws.root, 'current'))).toBe('src');
    expect((await svc.status(t())).files).toEqual([]);
    await svc.undo(t(), 'person');
    expect(existsSync(path.join(ws.root, 'current'))).toBe(false);
    expect((await svc.status(t())).files.map((f) => f.path)).toEqual(['current', 'src/b.txt']);
  });

  it('a link to outside: reading through it is refused, writing below it is refused, accept creates only the link', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const outside = path.join(ws.top, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret.txt'), 'SECRET\n');
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.symlink('out', outside);
    await v.symlink('rel', '../outside');
    for (const p of ['out/secret.txt', 'rel/secret.txt']) {
      const read = await v.readFile(p).catch((e: unknown) => e);
      expect(isShadowboxError(read) && read.reason).toBe('symlink_outside');
      const write = await v.writeFile(`${p}.pwn`, 'x').catch((e: unknown) => e);
      expect(isShadowboxError(write) && write.code).toBe(ErrorCodes.PathOutsideWorkspace);
    }
    const r = await svc.accept(t(), ALL, 'person');
    expect(r.applied.map((a) => a.path).sort()).toEqual(['out', 'rel']);
    expect(readlinkSync(path.join(ws.root, 'out'))).toBe(outside);
    expect(readdirSync(outside)).toEqual(['secret.txt']);
  });

  it('a real folder replaced by a link: the folder’s removal and the link are one review, accept writes nothing below the link', async () => {
    ws = makeWorkspace({ 'vendor/keep.txt': 'K\n' });
    const outside = path.join(ws.top, 'outside');
    mkdirSync(outside);
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('vendor');
    await v.symlink('vendor', outside);
    const st = await svc.status(t());
    expect(st.files.map((f) => [f.path, f.change])).toEqual([
      ['vendor', 'added'],
      ['vendor/keep.txt', 'deleted'],
    ]);
    await svc.accept(t(), ALL, 'person');
    expect(lstatSync(path.join(ws.root, 'vendor')).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('accept of a file below a link the person made meanwhile is refused, naming the link', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const outside = path.join(ws.top, 'outside');
    mkdirSync(outside);
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('dir/x.txt', 'x\n');
    symlinkSync(outside, path.join(ws.root, 'dir'));
    const e = await svc.accept(t(), ALL, 'person').catch((x: unknown) => x);
    expect(isShadowboxError(e) && e.code).toBe(ErrorCodes.PathProtected);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('a link over a file the agent read keeps the file as its base (a change from file to link)', async () => {
    ws = makeWorkspace({ 'conf.json': '{}\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('conf.json');
    await v.symlink('conf.json', 'conf.prod.json');
    const d = await svc.diff(t());
    expect(d.files.map((f) => [f.path, f.change, f.link])).toEqual([['conf.json', 'modified', 'conf.prod.json']]);
    expect(d.files[0].patch).toBe('replaced conf.json (a file of 3 bytes) with symlink → conf.prod.json\n');
    await svc.reject(t(), ALL, 'person');
    expect(Buffer.from(await v.readFile('conf.json')).toString()).toBe('{}\n');
  });
});

describe('a real folder replaced by a file or a link', () => {
  it('is accepted (the folder emptied and removed first) and undone (the folder and its files back)', async () => {
    ws = makeWorkspace({ 'out/a.txt': 'A\n', 'out/sub/b.txt': 'B\n', 'keep.txt': 'K\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('out');
    await v.writeFile('out', 'now a file\n');
    await svc.accept(t(), ALL, 'person');
    expect(readFileSync(path.join(ws.root, 'out'), 'utf8')).toBe('now a file\n');
    await svc.undo(t(), 'person');
    expect(readFileSync(path.join(ws.root, 'out/sub/b.txt'), 'utf8')).toBe('B\n');
    expect(readFileSync(path.join(ws.root, 'out/a.txt'), 'utf8')).toBe('A\n');
  });

  it('a file the person put in the folder meanwhile: refused, nothing changed, their file kept', async () => {
    ws = makeWorkspace({ 'out/a.txt': 'A\n' });
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('out');
    await v.writeFile('out', 'now a file\n');
    writeFileSync(path.join(ws.root, 'out/theirs.txt'), 'T\n');
    const e = await svc.accept(t(), ALL, 'person').catch((x: unknown) => x);
    expect(isShadowboxError(e) && e.reason).toBe('directory_not_empty');
    expect(readFileSync(path.join(ws.root, 'out/a.txt'), 'utf8')).toBe('A\n');
    expect(readFileSync(path.join(ws.root, 'out/theirs.txt'), 'utf8')).toBe('T\n');
    expect((await svc.status(t())).files.map((f) => f.path)).toEqual(['out', 'out/a.txt']);
  });
});
