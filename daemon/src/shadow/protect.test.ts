import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes, isShadowboxError, type ReasonOf, type ShadowboxError } from '../errors.js';
import { PROTECTED_TTL_MS, ProtectedGlobs } from './protect.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
// Only the clock the TTL is measured with is faked (timers and I/O stay real): a burst of writes takes one instant
// however slow the machine, and the TTL passes when a test moves the clock, not when a sleep outlasts it.
beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(async () => {
  vi.useRealTimers();
  await ws?.cleanup();
});

/** The policy's default list plus a project's own globs, as `policy.list(ws).protected` returns them. */
const GLOBS = ['**/.git/**', '.shadowbox/**', 'secrets/**', '**/*.pem'];

async function refusedWith(p: Promise<unknown>, reason: ReasonOf<'PathProtected'>): Promise<Record<string, unknown>> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(
    isShadowboxError(e, ErrorCodes.PathProtected, reason),
    `expected PathProtected/${reason}, got ${String(e)}`,
  ).toBe(true);
  return (e as ShadowboxError).data;
}

function counting(globs: () => string[]) {
  const calls: string[] = [];
  return { calls, source: async (workspace: string) => (calls.push(workspace), globs()) };
}

describe('protected paths at the layer', () => {
  it('refuses writes, mkdirs, removes and moves of protected paths; nothing reaches the pending changes', async () => {
    ws = makeWorkspace({
      'a.txt': 'A\n',
      'secrets/token': 'T\n',
      'conf/id.pem': 'K\n',
      'conf/app.ini': 'x=1\n',
      'src/b.ts': 'B\n',
    });
    const { calls, source } = counting(() => GLOBS);
    const svc = ws.open({ protectedPaths: source });
    const v = await svc.view('s1', ws.root);
    expect(await refusedWith(v.writeFile('.shadowbox/policy.json', '{}'), 'protected_path')).toMatchObject({
      path: '.shadowbox/policy.json',
      glob: '.shadowbox/**',
    });
    expect(await refusedWith(v.writeFile('secrets/token', 'stolen\n'), 'protected_path')).toMatchObject({
      path: 'secrets/token',
      glob: 'secrets/**',
    });
    // Matching is case-insensitive and dotfiles count, like the policy's.
    await refusedWith(v.writeFile('SECRETS/new', 'x'), 'protected_path');
    await refusedWith(v.writeFile('src/.hidden.pem', 'x'), 'protected_path');
    await refusedWith(v.mkdir('.shadowbox'), 'protected_path');
    await refusedWith(v.mkdir('.shadowbox/x'), 'protected_path');
    await refusedWith(v.remove('conf/id.pem'), 'protected_path');
    await refusedWith(v.rename('conf/id.pem', 'conf/id.txt'), 'protected_path');
    await refusedWith(v.rename('a.txt', 'secrets/a.txt'), 'protected_path');
    // A directory holding a protected file cannot be removed or moved (the refusal names the file).
    expect(await refusedWith(v.remove('conf'), 'protected_path')).toMatchObject({
      path: 'conf/id.pem',
      glob: '**/*.pem',
    });
    expect(await refusedWith(v.rename('conf', 'conf2'), 'protected_path')).toMatchObject({
      path: 'conf/id.pem',
      glob: '**/*.pem',
    });
    // ... nor moved to where its contents become protected.
    expect(await refusedWith(v.rename('src', 'secrets/src'), 'protected_path')).toMatchObject({ glob: 'secrets/**' });
    const t = { sessionId: 's1', workspace: ws.root };
    expect((await svc.status(t)).files).toEqual([]);
    // Everything else works as before.
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('conf/app.ini', 'x=2\n');
    await v.rename('src', 'lib');
    await v.remove('lib');
    expect((await svc.status(t)).files.map((f) => f.path)).toEqual(['a.txt', 'conf/app.ini', 'src/b.ts']);
    // One answer serves the whole burst (asked once per TTL; the clock stood still), for the realpath of the workspace.
    expect(calls).toEqual([ws.root]);
  });

  it('checks the path a symlink leads to as well as the path as given', async () => {
    ws = makeWorkspace({ 'secrets/token': 'T\n', 'real/x': 'x' });
    symlinkSync('secrets', path.join(ws.root, 'vault'));
    symlinkSync('real', path.join(ws.root, 'alias'));
    const v = await ws.open({ protectedPaths: async () => ['secrets/**', 'alias/**'] }).view('s1', ws.root);
    expect(await refusedWith(v.writeFile('vault/token', 'x'), 'protected_path')).toMatchObject({
      path: 'secrets/token',
      glob: 'secrets/**',
    });
    expect(await refusedWith(v.writeFile('alias/x', 'y'), 'protected_path')).toMatchObject({
      path: 'alias/x',
      glob: 'alias/**',
    });
    await v.writeFile('real/x', 'y');
  });

  it('a removed directory with a nested repository is refused by the default **/.git/** glob', async () => {
    ws = makeWorkspace({ 'vendor/lib/a.c': 'a' }, { git: false });
    mkdirSync(path.join(ws.root, 'vendor/lib/.git'));
    const v = await ws.open({ protectedPaths: async () => ['**/.git/**'] }).view('s1', ws.root);
    expect(await refusedWith(v.remove('vendor'), 'protected_path')).toMatchObject({
      path: 'vendor/lib/.git',
      glob: '**/.git/**',
    });
    await v.remove('vendor/lib/a.c');
  });

  it('a changed answer applies once the TTL has passed; a failing source refuses writes', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    let globs = ['none/**'];
    let fail = false;
    const { calls, source } = counting(() => {
      if (fail) throw new Error('rules file invalid');
      return globs;
    });
    const v = await ws.open({ protectedPaths: source }).view('s1', ws.root);
    for (let i = 0; i < 50; i++) await v.writeFile(`f${i}.txt`, `${i}`);
    expect(calls).toHaveLength(1);
    globs = ['a.txt'];
    // Within the TTL the old answer still serves; once it has passed the new one applies.
    vi.advanceTimersByTime(PROTECTED_TTL_MS - 1);
    await v.writeFile('a.txt', 'A1\n');
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(await refusedWith(v.writeFile('a.txt', 'A2\n'), 'protected_path')).toMatchObject({
      path: 'a.txt',
      glob: 'a.txt',
    });
    expect(calls).toHaveLength(2);
    fail = true;
    vi.advanceTimersByTime(PROTECTED_TTL_MS);
    await refusedWith(v.writeFile('b.txt', 'B\n'), 'protected_paths_unavailable');
    fail = false;
    globs = [];
    await v.writeFile('b.txt', 'B\n');
    await v.writeFile('a.txt', 'A2\n');
  });

  it('without a source only .git and shadowbox state are refused (as before)', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' });
    const v = await ws.open().view('s1', ws.root);
    await v.writeFile('.shadowbox/x', 'x');
    await refusedWith(v.writeFile('.git/config', 'x'), 'git_dir');
  });
});

describe('ProtectedGlobs.mayMatchBelow', () => {
  // A red-team review's finds: each glob protects the file (check refuses it) while the prune said nothing below
  // the folder could match, so a move or remove of the folder would not have looked inside.
  it('looks inside every folder that holds a path a glob protects, whatever the glob spells', async () => {
    for (const [glob, dir, file] of [
      ['x/**|lib/pub/**', 'lib', 'lib/pub/k'],
      ['"lib"/pub/**', 'lib', 'lib/pub/k'],
      ['aσ/pub/**', 'aς', 'aς/pub/k'],
      ['l\\ib/pub/**', 'lib', 'lib/pub/k'],
    ] as const) {
      const g = new ProtectedGlobs(() => Promise.resolve([glob]), '/ws');
      const refused = await g.check([file], file).then(
        () => false,
        () => true,
      );
      expect({ glob, refused, lookInside: await g.mayMatchBelow(dir, dir) }).toEqual({
        glob,
        refused: true,
        lookInside: true,
      });
    }
  });
});
