import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorCode, ErrorReason } from '@shadowbox/protocol';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { makeWorkspace } from './test-support.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

async function refused<C extends ErrorCode>(p: Promise<unknown>, code: C, reason: ErrorReason<C>) {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(isShadowboxError(e, code, reason), `expected ${String(code)}/${String(reason)}, got ${String(e)}`).toBe(true);
}

describe('layered view', () => {
  it('reads fall through; writes, deletes and moves stay in the layer', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'src/b.ts': 'B\n', 'src/deep/c.ts': 'C\n' });
    const v = await ws.open().view('s1', ws.root);
    expect(text(await v.readFile('a.txt'))).toBe('A\n');
    await v.writeFile('a.txt', 'A2\n');
    await v.writeFile('new/dir/n.txt', 'N\n');
    await v.remove('src/deep');
    await v.rename('src/b.ts', 'lib/b.ts');
    await v.mkdir('empty');
    expect(text(await v.readFile('a.txt'))).toBe('A2\n');
    expect(text(await v.readFile('new/dir/n.txt'))).toBe('N\n');
    expect(text(await v.readFile('lib/b.ts'))).toBe('B\n');
    expect(await v.stat('src/deep/c.ts')).toBeNull();
    expect(await v.stat('src/b.ts')).toBeNull();
    expect((await v.stat('empty'))?.type).toBe('dir');
    expect((await v.readdir('')).map((e) => e.name)).toEqual(
      expect.arrayContaining(['a.txt', 'new', 'lib', 'empty', 'src']),
    );
    expect((await v.readdir('src')).map((e) => e.name)).toEqual([]);
    // The person's files are untouched.
    expect(readFileSync(path.join(ws.root, 'a.txt'), 'utf8')).toBe('A\n');
    expect(existsSync(path.join(ws.root, 'src/deep/c.ts'))).toBe(true);
    expect(existsSync(path.join(ws.root, 'new'))).toBe(false);
    expect(readdirSync(ws.root).sort()).toEqual(['.git', 'a.txt', 'src']);
    // A real change shows through where the layer has nothing.
    writeFileSync(path.join(ws.root, 'src/other.ts'), 'O\n');
    expect(text(await v.readFile('src/other.ts'))).toBe('O\n');
  });

  it('removing then recreating a directory hides what was there', async () => {
    ws = makeWorkspace({ 'd/x': 'x', 'd/y': 'y' });
    const v = await ws.open().view('s1', ws.root);
    await v.remove('d');
    await v.writeFile('d/z', 'z');
    expect((await v.readdir('d')).map((e) => e.name)).toEqual(['z']);
  });

  it('refuses .., absolute paths, symlinks out, loops, and writes to .git and state', async () => {
    ws = makeWorkspace({ 'a.txt': 'A' });
    mkdirSync(path.join(ws.top, 'outside'));
    writeFileSync(path.join(ws.top, 'outside/secret'), 'S');
    symlinkSync('../outside', path.join(ws.root, 'out'));
    symlinkSync('loop2', path.join(ws.root, 'loop1'));
    symlinkSync('loop1', path.join(ws.root, 'loop2'));
    symlinkSync('a.txt', path.join(ws.root, 'inside-link'));
    const v = await ws.open().view('s1', ws.root);
    const O = ErrorCodes.PathOutsideWorkspace;
    await refused(v.readFile('../x'), O, 'path_escape');
    await refused(v.readFile('src/../../x'), O, 'path_escape');
    await refused(v.readFile('/etc/passwd'), O, 'absolute_path');
    await refused(v.readFile(path.join(ws.root, 'a.txt')), O, 'absolute_path');
    await refused(v.readFile('out/secret'), O, 'symlink_outside');
    await refused(v.writeFile('out/new', 'x'), O, 'symlink_outside');
    await refused(v.readFile('loop1'), O, 'symlink_loop');
    await refused(v.writeFile('.git/config', 'x'), ErrorCodes.PathProtected, 'git_dir');
    await refused(v.writeFile('sub/.git/hooks/x', 'x'), ErrorCodes.PathProtected, 'git_dir');
    await refused(v.remove('.git'), ErrorCodes.PathProtected, 'git_dir');
    await refused(v.rename('a.txt', '.git/a'), ErrorCodes.PathProtected, 'git_dir');
    // A symlink inside the workspace resolves to its target.
    expect(await v.resolve('inside-link')).toBe('a.txt');
    expect(await v.resolve('x/../a.txt')).toBe('a.txt');
    expect(text(await v.readFile('inside-link'))).toBe('A');
    // Reading .git is allowed; removing a symlink removes the link, not its target.
    expect((await v.stat('.git/HEAD'))?.type).toBe('file');
    await v.remove('inside-link');
    expect(text(await v.readFile('a.txt'))).toBe('A');
  });

  it('refuses writes into a state dir that sits inside the workspace', async () => {
    ws = makeWorkspace({ 'a.txt': 'A' });
    const { createShadowService } = await import('./service.js');
    const { silentLogger } = await import('../state/index.js');
    const s = createShadowService({
      stateDir: path.join(ws.root, '.shadowbox-state'),
      audit: ws.audit,
      logger: silentLogger,
    });
    const v = await s.view('s1', ws.root);
    await refused(v.writeFile('.shadowbox-state/x', 'x'), ErrorCodes.PathProtected, 'shadow_state');
    await s.close();
  });

  it('keeps modes, binary bytes and the layer across a restart', async () => {
    ws = makeWorkspace({ 'run.sh': '#!/bin/sh\n' });
    const bin = Buffer.from([0, 1, 2, 255, 0, 10]);
    const v = await ws.open().view('s1', ws.root);
    await v.writeFile('img.bin', bin);
    await v.writeFile('tool.sh', 'echo\n', { mode: 0o755 });
    await v.remove('run.sh');
    const v2 = await ws.open().view('s1', ws.root);
    expect(Buffer.from(await v2.readFile('img.bin')).equals(bin)).toBe(true);
    expect((await v2.stat('tool.sh'))?.mode).toBe(0o755);
    expect(await v2.stat('run.sh')).toBeNull();
    // Another session on the same workspace has its own layer.
    const other = await ws.open().view('s2', ws.root);
    expect(await other.stat('img.bin')).toBeNull();
  });
});
