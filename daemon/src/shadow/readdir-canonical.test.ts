// Listing a folder by its canonical path (what a grep or glob walk does, folder after folder) skips
// resolve's per-prefix lstats; these check that every answer is still the one resolve gives: links on
// the way followed inside, refused when they lead outside, a swap caught, the layer's own links honoured.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const names = (list: { name: string }[]) => list.map((e) => e.name);

/** A workspace with src/a/{x,y}.txt, `lnk` → src (inside) and `out` → a folder outside holding a secret. */
function linked() {
  ws = makeWorkspace({ 'src/a/x.txt': 'x\n', 'src/a/y.txt': 'y\n', 'top.txt': 't\n' }, { git: false });
  const outside = path.join(ws.top, 'outside');
  mkdirSync(path.join(outside, 'sub'), { recursive: true });
  writeFileSync(path.join(outside, 'secret.txt'), 'SECRET\n');
  symlinkSync('src', path.join(ws.root, 'lnk'));
  symlinkSync(outside, path.join(ws.root, 'out'));
  return outside;
}

describe('readdir of a canonical path', () => {
  it('lists a real folder, and every other spelling of it the same', async () => {
    linked();
    const v = await ws.open().view('s1', ws.root);
    expect(names(await v.readdir('src/a'))).toEqual(['x.txt', 'y.txt']);
    for (const p of ['./src/a', 'src/a/', 'src//a', 'src/b/../a', 'src\\a'])
      expect(names(await v.readdir(p))).toEqual(['x.txt', 'y.txt']);
  });

  it('follows a real link inside the workspace on the way (as resolve does)', async () => {
    linked();
    const v = await ws.open().view('s1', ws.root);
    expect(names(await v.readdir('lnk/a'))).toEqual(['x.txt', 'y.txt']);
    expect(names(await v.readdir('lnk'))).toEqual(['a']);
  });

  it('refuses a real link to outside, as the link itself and on the way, without listing its target', async () => {
    linked();
    const v = await ws.open().view('s1', ws.root);
    for (const p of ['out', 'out/sub']) {
      const e = await v.readdir(p).then(
        (l) => names(l),
        (err: unknown) => err,
      );
      expect(isShadowboxError(e) && e.code === ErrorCodes.PathOutsideWorkspace).toBe(true);
      expect(isShadowboxError(e) && e.reason).toBe('symlink_outside');
    }
  });

  it('a folder swapped for a link to outside just before the listing: the secret is never listed', async () => {
    const outside = linked();
    const v = await ws.open().view('s1', ws.root);
    expect(names(await v.readdir('src/a'))).toEqual(['x.txt', 'y.txt']);
    renameSync(path.join(ws.root, 'src'), path.join(ws.root, 'src-old'));
    symlinkSync(outside, path.join(ws.root, 'src'));
    const e = await v.readdir('src').then(
      (l) => names(l),
      (err: unknown) => err,
    );
    expect(isShadowboxError(e) && e.reason).toBe('symlink_outside');
  });

  it('honours the layer: a link the agent made is followed, a folder it deleted is gone, a new folder merges', async () => {
    linked();
    const v = await ws.open().view('s1', ws.root);
    await v.symlink('mine', 'src/a');
    expect(names(await v.readdir('mine'))).toEqual(['x.txt', 'y.txt']);
    await v.symlink('far', 'out');
    await expect(v.readdir('far')).rejects.toMatchObject({ reason: 'symlink_outside' });
    await v.writeFile('src/a/z.txt', 'z\n');
    await v.remove('src/a/x.txt');
    expect(names(await v.readdir('src/a'))).toEqual(['y.txt', 'z.txt']);
    await v.remove('src');
    await expect(v.readdir('src/a')).rejects.toMatchObject({ code: ErrorCodes.FileNotFound });
    await v.mkdir('src/a');
    expect(names(await v.readdir('src/a'))).toEqual([]);
  });
});

describe('readdir and the layer’s entries index (entries by folder, built again after a change)', () => {
  it('a listing follows every write, remove and rename, and a write whose save failed is not listed', async () => {
    ws = makeWorkspace({ 'd/a.txt': 'a\n', 'e/b.txt': 'b\n' }, { git: false });
    let failNext = false;
    const v = await ws
      .open({
        faults: {
          before(op) {
            if (failNext && op === 'log.append') {
              failNext = false;
              throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
            }
          },
        },
      })
      .view('s1', ws.root);
    expect(names(await v.readdir('d'))).toEqual(['a.txt']);
    await v.writeFile('d/new.txt', 'n\n');
    await v.writeFile('d/sub/deep.txt', 'x\n');
    expect(names(await v.readdir('d'))).toEqual(['a.txt', 'new.txt', 'sub']);
    expect(names(await v.readdir('d/sub'))).toEqual(['deep.txt']);
    await v.remove('d/a.txt');
    await v.rename('d/new.txt', 'e/moved.txt');
    expect(names(await v.readdir('d'))).toEqual(['sub']);
    expect(names(await v.readdir('e'))).toEqual(['b.txt', 'moved.txt']);
    failNext = true;
    await expect(v.writeFile('e/lost.txt', 'l\n')).rejects.toMatchObject({ code: ErrorCodes.DiskFull });
    expect(names(await v.readdir('e'))).toEqual(['b.txt', 'moved.txt']); // the failed write was put back
    expect(names(await v.readdir(''))).toEqual(['d', 'e']);
  });
});
