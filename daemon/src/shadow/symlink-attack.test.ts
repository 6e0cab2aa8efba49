// Issue 14 §1: accept never writes outside the workspace, inside .git or through a symlink, and the
// view never reads through one — the reproduced attacks, each as it was found.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };

/** A workspace with `vendor/shared` → a folder outside it that holds a secret. */
function linkedVendor() {
  ws = makeWorkspace({ 'vendor/keep.txt': 'K\n', 'a.txt': 'A\n' });
  const outside = path.join(ws.top, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'existing.txt'), 'SECRET\n');
  symlinkSync(outside, path.join(ws.root, 'vendor', 'shared'));
  return { outside, t: { sessionId: 's1', workspace: ws.root } };
}

const temps = (dir: string) => readdirSync(dir, { recursive: true }).filter((n) => String(n).includes('.sbx-'));

describe('accept never writes through a symlink', () => {
  it('vendor/shared → outside: review shows the removal of the link, accept removes the link (not its target) first', async () => {
    const { outside, t } = linkedVendor();
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('vendor');
    await v.writeFile('vendor/shared/pwn.txt', 'pwn\n');
    const st = await svc.status(t);
    expect(st.files.map((f) => [f.path, f.change])).toEqual([
      ['vendor/keep.txt', 'deleted'],
      ['vendor/shared', 'deleted'],
      ['vendor/shared/pwn.txt', 'added'],
    ]);
    expect(st.files.find((f) => f.path === 'vendor/shared')?.symlink).toBe(outside);
    const d = await svc.diff(t, ['vendor/shared']);
    expect(d.files[0].patch).toBe(`deleted vendor/shared (symlink → ${outside})\n`);
    const r = await svc.accept(t, ALL, 'person');
    expect(r.conflicts).toEqual([]);
    // The target folder is as it was: no pwn.txt, no temp file.
    expect(readdirSync(outside)).toEqual(['existing.txt']);
    expect(lstatSync(path.join(ws.root, 'vendor/shared')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(ws.root, 'vendor/shared/pwn.txt'), 'utf8')).toBe('pwn\n');
    expect(temps(ws.root)).toEqual([]);
    // Undo puts the link back (not a folder), and the target is still untouched.
    await svc.undo(t, 'person');
    expect(lstatSync(path.join(ws.root, 'vendor/shared')).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual(['existing.txt']);
    expect(readFileSync(path.join(ws.root, 'vendor/keep.txt'), 'utf8')).toBe('K\n');
  });

  it('accepting only the file below the link is refused, naming the path and the link; nothing is written anywhere', async () => {
    const { outside, t } = linkedVendor();
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('vendor');
    await v.writeFile('vendor/shared/pwn.txt', 'pwn\n');
    const e = await svc.accept(t, { ...ALL, paths: ['vendor/shared/pwn.txt'] }, 'person').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.PathProtected, 'symlink_in_path'), String(e)).toBe(true);
    expect((e as { data: unknown }).data).toMatchObject({ path: 'vendor/shared/pwn.txt', link: 'vendor/shared' });
    expect(readdirSync(outside)).toEqual(['existing.txt']);
    expect(lstatSync(path.join(ws.root, 'vendor/shared')).isSymbolicLink()).toBe(true);
    expect(temps(ws.root)).toEqual([]);
    expect((await svc.status(t)).undoable).toBe(0);
  });

  it('tools/gitdir → ../.git: accept never writes .git/hooks/pre-commit', async () => {
    ws = makeWorkspace({ 'tools/run.sh': 'echo hi\n' });
    symlinkSync('../.git', path.join(ws.root, 'tools', 'gitdir'));
    const hook = path.join(ws.root, '.git/hooks/pre-commit');
    const t = { sessionId: 's1', workspace: ws.root };
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    // Straight through the link: refused at the write (its canonical path is inside .git).
    const direct = await v.writeFile('tools/gitdir/hooks/pre-commit', 'x').catch((x: unknown) => x);
    expect(isShadowboxError(direct, ErrorCodes.PathProtected, 'git_dir')).toBe(true);
    await v.remove('tools');
    await v.writeFile('tools/gitdir/hooks/pre-commit', '#!/bin/sh\necho pwned\n', { mode: 0o755 });
    const only = await svc.accept(t, { ...ALL, paths: ['tools/gitdir/hooks'] }, 'person').catch((x: unknown) => x);
    expect(isShadowboxError(only, ErrorCodes.PathProtected, 'symlink_in_path'), String(only)).toBe(true);
    expect(existsSync(hook)).toBe(false);
    const st = await svc.status(t);
    expect(st.files.find((f) => f.path === 'tools/gitdir')).toMatchObject({ change: 'deleted', symlink: '../.git' });
    await svc.accept(t, ALL, 'person');
    expect(existsSync(hook)).toBe(false);
    expect(lstatSync(path.join(ws.root, 'tools/gitdir')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(ws.root, 'tools/gitdir/hooks/pre-commit'), 'utf8')).toContain('pwned');
    expect(temps(path.join(ws.root, '.git'))).toEqual([]);
  });

  it('a base under a removed folder never snapshots what a link there points to', async () => {
    const { t } = linkedVendor();
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('vendor');
    await v.writeFile('vendor/shared/existing.txt', 'agent\n');
    const d = await svc.diff(t, ['vendor/shared/existing.txt']);
    expect(d.files.map((f) => [f.path, f.change])).toEqual([['vendor/shared/existing.txt', 'added']]);
    expect(JSON.stringify(d)).not.toContain('SECRET');
  });

  it('rejecting the removal of the link drops what the agent wrote below it; the link stays', async () => {
    const { outside, t } = linkedVendor();
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.remove('vendor');
    await v.writeFile('vendor/shared/pwn.txt', 'pwn\n');
    await svc.reject(t, { paths: ['vendor/shared'], hunks: [] }, 'person');
    const st = await svc.status(t);
    expect(st.files.map((f) => f.path)).toEqual(['vendor/keep.txt']);
    await svc.accept(t, ALL, 'person');
    expect(lstatSync(path.join(ws.root, 'vendor/shared')).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual(['existing.txt']);
  });
});

describe('the view never reads through a symlink', () => {
  it('a real symlink where the layer has a new folder: reads and listings do not reach its target', async () => {
    const { outside } = linkedVendor();
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.mkdir('x');
    // Later a link appears in the real tree where the agent's new folder is.
    symlinkSync(outside, path.join(ws.root, 'x'));
    const read = await v.readFile('x/existing.txt').then(
      (b) => Buffer.from(b).toString(),
      (e: unknown) => e,
    );
    expect(read).not.toBe('SECRET\n');
    const list = await v.readdir('x').catch(() => []);
    expect(list.map((e) => e.name)).not.toContain('existing.txt');
    expect(await v.stat('x/existing.txt').catch(() => null)).toBeNull();
  });

  it('a folder swapped for a symlink between the check and the open is refused (O_NOFOLLOW + the descriptor’s real path)', async () => {
    ws = makeWorkspace({ 'a/f.txt': 'inside\n' });
    const outside = path.join(ws.top, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'f.txt'), 'SECRET\n');
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    // The race, made deterministic: the swap happens right after the path was resolved and checked.
    const resolve = v.resolve.bind(v);
    v.resolve = async (p, intent) => {
      const rel = await resolve(p, intent);
      renameSync(path.join(ws.root, 'a'), path.join(ws.root, 'a-old'));
      symlinkSync(outside, path.join(ws.root, 'a'));
      return rel;
    };
    const e = await v.readFile('a/f.txt').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.PathOutsideWorkspace, 'path_changed'), String(e)).toBe(true);
  });
});
