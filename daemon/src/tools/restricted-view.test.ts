// The view a call gets when deny rules name paths it may not touch: refused for every operation (also
// through a symlink and in another letter case), left out of listings, and not carried along by a
// remove or rename of a folder above it. Over the real layered view of a temp workspace.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../shadow/test-support.js';
import { restrictedFor, restrictView } from './restricted-view.js';

const denied = [{ glob: 'secrets/**', rule: 'project:deny path=secrets/**' }];
let ws: ReturnType<typeof makeWorkspace> | null = null;
afterEach(async () => {
  await ws?.cleanup();
  ws = null;
});

async function setup() {
  ws = makeWorkspace({ 'secrets/key.txt': 'k', 'pub/a.txt': 'a', 'deep/secrets/x.txt': 'x' }, { git: false });
  symlinkSync('../secrets/key.txt', path.join(ws.root, 'pub', 'link.txt'));
  const base = await ws.open().view('s1', ws.root);
  return { base, view: restrictView(base, denied) };
}

const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { data?: { reason?: string } }) => e.data?.reason ?? 'thrown',
  );

describe('restrictView', () => {
  it("layerVersion (grep's skip of the isReal re-ask) is the view's, and moves with a write", async () => {
    const { base, view } = await setup();
    const v0 = view.layerVersion?.();
    expect(v0).toBe(base.layerVersion?.());
    await view.writeFile('pub/a.txt', 'b');
    expect(view.layerVersion?.()).not.toBe(v0);
    expect(view.isReal?.('pub/a.txt')).toBe(false);
  });

  it('realFiles (grep’s re-check of what rg read): a denied folder is null, denied names are left out, links are not files', async () => {
    const { base, view } = await setup();
    expect(view.realFiles?.('secrets')).toBeNull();
    expect(view.realFiles?.('SECRETS')).toBeNull();
    expect([...(view.realFiles?.('pub') ?? [])]).toEqual(['a.txt']); // link.txt is a link
    expect([...(view.realFiles?.('deep/secrets') ?? [])]).toEqual(['x.txt']); // secrets/** is anchored at the root
    const noA = restrictView(base, [{ glob: 'PUB/A.TXT', rule: 'project:deny path=PUB/A.TXT' }]);
    expect(noA.realFiles?.('pub')?.size).toBe(0);
    expect(view.realFiles?.('pub/../pub')).toBeNull(); // only canonical paths
    expect(view.realFiles?.('missing')).toBeNull();
  });

  it('realSize (grep’s size check of what rg found lines in): null for a denied path, a link, a folder, a non-canonical path', async () => {
    const { view } = await setup();
    expect(view.realSize?.('pub/a.txt')).toBe(1);
    expect(view.realSize?.('secrets/key.txt')).toBeNull();
    expect(view.realSize?.('SECRETS/key.txt')).toBeNull();
    expect(view.realSize?.('pub/link.txt')).toBeNull();
    expect(view.realSize?.('pub')).toBeNull();
    expect(view.realSize?.('pub/../pub/a.txt')).toBeNull();
    expect(view.realSize?.('pub/missing.txt')).toBeNull();
  });

  it('refuses every operation on a denied path, also through a symlink and in another case', async () => {
    const { view } = await setup();
    expect(await reason(view.readFile('secrets/key.txt'))).toBe('path_denied');
    expect(await reason(view.readFile('pub/link.txt'))).toBe('path_denied');
    expect(await reason(view.readFile('SECRETS/key.txt'))).toBe('path_denied');
    expect(await reason(view.stat('secrets'))).toBe('path_denied');
    expect(await reason(view.readdir('secrets'))).toBe('path_denied');
    expect(await reason(view.writeFile('secrets/new.txt', 'x'))).toBe('path_denied');
    expect(await reason(view.mkdir('secrets/sub'))).toBe('path_denied');
    expect(await reason(view.remove('secrets/key.txt'))).toBe('path_denied');
    expect(await reason(view.rename('secrets/key.txt', 'pub/stolen.txt'))).toBe('path_denied');
    expect(await reason(view.rename('pub/a.txt', 'secrets/a.txt'))).toBe('path_denied');
    // Other paths are untouched, including a folder of the same name deeper down (the glob is rooted).
    expect(Buffer.from(await view.readFile('deep/secrets/x.txt')).toString()).toBe('x');
  });

  it('leaves denied names and links into them out of listings', async () => {
    const { base, view } = await setup();
    expect((await base.readdir('')).map((e) => e.name).sort()).toEqual(['deep', 'pub', 'secrets']);
    expect((await view.readdir('')).map((e) => e.name).sort()).toEqual(['deep', 'pub']);
    expect((await view.readdir('pub')).map((e) => e.name)).toEqual(['a.txt']);
  });

  it('refuses removing or moving a folder that holds a denied path', async () => {
    const { base, view } = await setup();
    expect(await reason(view.remove(''))).not.toBe('ok');
    await base.mkdir('box');
    await base.writeFile('box/keep.txt', 'k');
    const nested = restrictView(base, [{ glob: 'box/keep.txt', rule: 'project:deny path=box/keep.txt' }]);
    expect(await reason(nested.remove('box'))).toBe('path_denied');
    expect(await reason(nested.rename('box', 'moved'))).toBe('path_denied');
    expect(await reason(view.remove('pub/a.txt'))).toBe('ok');
  });

  it('a deny glob whose leading folder holds an escape or glob syntax still guards removing the folder above it', async () => {
    const { base } = await setup();
    await base.mkdir('a*b');
    await base.writeFile('a*b/key.txt', 'k');
    for (const glob of ['a\\*b/**', 'a\\*b/key.txt', '!pub/**']) {
      const v = restrictView(base, [{ glob, rule: `project:deny path=${glob}` }]);
      expect({ glob, remove: await reason(v.remove('a*b')) }).toEqual({ glob, remove: 'path_denied' });
      expect({ glob, rename: await reason(v.rename('a*b', 'moved')) }).toEqual({ glob, rename: 'path_denied' });
    }
  });

  it('a deny glob whose letters fold under /i but not under toLowerCase (σ/ς) still guards the folder', async () => {
    const { base } = await setup();
    await base.mkdir('aς/pub/secret');
    await base.writeFile('aς/pub/secret/key.txt', 'k');
    const v = restrictView(base, [{ glob: 'aσ/pub/secret/**', rule: 'project:deny path=aσ/pub/secret/**' }]);
    expect(await reason(v.readFile('aς/pub/secret/key.txt'))).toBe('path_denied');
    expect(await reason(v.remove('aς'))).toBe('path_denied');
    expect(await reason(v.rename('aς/pub', 'moved'))).toBe('path_denied');
  });

  it('with any path denied, .git is withheld too (its objects hold the denied paths), in any letter case', async () => {
    ws = makeWorkspace({ 'secrets/key.pem': 'KEY', 'a.txt': 'a' });
    mkdirSync(path.join(ws.root, 'sub', '.GIT'), { recursive: true });
    writeFileSync(path.join(ws.root, 'sub', '.GIT', 'HEAD'), 'ref');
    const view = restrictView(await ws.open().view('s1', ws.root), denied);
    expect(await reason(view.readFile('.git/HEAD'))).toBe('path_denied');
    expect(await reason(view.readFile('sub/.GIT/HEAD'))).toBe('path_denied');
    expect((await view.readdir('')).map((e) => e.name)).not.toContain('.git');
    expect(await reason(view.readFile('a.txt'))).toBe('ok');
    // Ignore rules are not history: the shell's review reads them through this view.
    mkdirSync(path.join(ws.root, '.git', 'info'), { recursive: true });
    writeFileSync(path.join(ws.root, '.git', 'info', 'exclude'), 'scratch/\n');
    expect(await reason(view.readFile('.git/info/exclude'))).toBe('ok');
    const plain = await ws.open().view('s2', ws.root);
    expect(restrictView(plain, [])).toBe(plain);
  });

  it('with any path denied, the other version-control stores (.hg, .svn, .jj, …) are withheld too', async () => {
    ws = makeWorkspace({ 'secrets/key.pem': 'KEY', 'a.txt': 'a', '.hgignore': 'x\n' });
    for (const f of ['.hg/store/data/secrets/key.pem.i', 'sub/.SVN/pristine/ab/ab12.svn-base', '.jj/repo/store/x']) {
      mkdirSync(path.dirname(path.join(ws.root, f)), { recursive: true });
      writeFileSync(path.join(ws.root, f), 'KEY');
    }
    const view = restrictView(await ws.open().view('s1', ws.root), denied);
    expect(await reason(view.readFile('.hg/store/data/secrets/key.pem.i'))).toBe('path_denied');
    expect(await reason(view.readFile('sub/.SVN/pristine/ab/ab12.svn-base'))).toBe('path_denied');
    expect(await reason(view.readFile('.jj/repo/store/x'))).toBe('path_denied');
    const top = (await view.readdir('')).map((e) => e.name);
    expect(top).not.toContain('.hg');
    expect(top).not.toContain('.jj');
    expect((await view.readdir('sub')).map((e) => e.name)).toEqual([]);
    // Their neighbours are not history.
    expect(await reason(view.readFile('.hgignore'))).toBe('ok');
    const plain = await ws.open().view('s2', ws.root);
    expect(await reason(plain.readFile('.hg/store/data/secrets/key.pem.i'))).toBe('ok');
  });

  it('the folder a .git file points to (--separate-git-dir, a bare repository with worktrees) is withheld too', async () => {
    ws = makeWorkspace({ 'secrets/key.pem': 'KEY', 'a.txt': 'a' }, { git: false });
    writeFileSync(path.join(ws.root, '.git'), 'gitdir: .gitstore\n');
    mkdirSync(path.join(ws.root, '.gitstore', 'objects'), { recursive: true });
    writeFileSync(path.join(ws.root, '.gitstore', 'HEAD'), 'ref: refs/heads/main\n');
    const view = await restrictedFor(await ws.open().view('s1', ws.root), denied);
    expect(await reason(view.readFile('.gitstore/HEAD'))).toBe('path_denied');
    expect(await reason(view.readFile('.git'))).toBe('path_denied');
    expect((await view.readdir('')).map((e) => e.name).sort()).toEqual(['a.txt']);
  });

  it('a negated deny glob refuses what the policy denies in another letter case (`!src/**` holds SRC/x)', async () => {
    ws = makeWorkspace({ 'src/a.ts': 'a', 'SRC/secret.txt': 'KEY' }, { git: false });
    for (const glob of ['!src/**', '!(src)/**']) {
      const view = restrictView(await ws.open().view('s1', ws.root), [{ glob, rule: `project:deny path=${glob}` }]);
      expect(await reason(view.readFile('SRC/secret.txt'))).toBe('path_denied');
      expect(await reason(view.readFile('src/a.ts'))).toBe('ok');
    }
  });

  it('a deny glob with a top-level | or quotes still guards renaming the folder above the denied file', async () => {
    const { base } = await setup();
    await base.mkdir('lib/pub/secret');
    await base.writeFile('lib/pub/secret/key.txt', 'AKIA1234');
    for (const glob of ['x/**|lib/pub/secret/**', '"lib"/pub/secret/**']) {
      const v = restrictView(base, [{ glob, rule: `project:deny path=${glob}` }]);
      expect(await reason(v.readFile('lib/pub/secret/key.txt'))).toBe('path_denied');
      expect({ glob, rename: await reason(v.rename('lib', 'lib2')) }).toEqual({ glob, rename: 'path_denied' });
      expect({ glob, remove: await reason(v.remove('lib')) }).toEqual({ glob, remove: 'path_denied' });
    }
  });

  it('is the view itself when nothing is denied', async () => {
    const { base } = await setup();
    expect(restrictView(base, [])).toBe(base);
  });
});
