import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceView } from '../shadow/view.js';
import { createWasiRuntime } from './index.js';
import { createOverlayView, fixture } from './test-support.js';

const LIMITS = { wallMs: 5000, memoryBytes: 32 * 1024 * 1024, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

// Every way out of /workspace: `..`, absolute paths, symlinks planted in the real workspace
// (file and directory, absolute and relative targets), links the guest tries to create.
describe('escape attempts', () => {
  const runtime = createWasiRuntime({ poolSize: 2 });
  let probe: Uint8Array;
  let base: string;
  let ws: string;
  let outside: string;
  let view: WorkspaceView;
  beforeAll(async () => {
    probe = await fixture('probe');
    base = await mkdtemp(join(tmpdir(), 'sbx-wasi-esc-'));
    ws = join(base, 'ws');
    outside = join(base, 'outside');
    await mkdir(join(ws, 'src'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'SECRET');
    await writeFile(join(ws, 'src', 'main.c'), 'int main;');
    await mkdir(join(ws, '.git'));
    await writeFile(join(ws, '.git', 'HEAD'), 'ref: main');
    await symlink(join(outside, 'secret.txt'), join(ws, 'abs-link'));
    await symlink('../outside/secret.txt', join(ws, 'rel-link'));
    await symlink(outside, join(ws, 'dir-link'));
    await symlink('src/main.c', join(ws, 'inside-link'));
    view = createOverlayView(ws);
  });
  afterAll(async () => {
    await runtime.close();
    await rm(base, { recursive: true, force: true });
  });
  const run = (argv: string[]) =>
    runtime.run({
      module: { bytes: probe },
      mounts: { workspace: view, tmp: true },
      argv: ['probe', ...argv],
      limits: LIMITS,
    });

  it.each([
    ['/workspace/../outside/secret.txt'],
    ['/workspace/src/../../outside/secret.txt'],
    ['/workspace/../ws/../outside/secret.txt'],
    ['/etc/passwd'],
    ['HOST:secret.txt'],
    ['/workspace/abs-link'],
    ['/workspace/rel-link'],
    ['/workspace/dir-link/secret.txt'],
  ])('cannot read %s', async (path) => {
    const r = await run(['cat', path.startsWith('HOST:') ? join(outside, path.slice(5)) : path]);
    expect(r.exitCode).toBe(1);
    expect(text(r.stdout)).not.toContain('SECRET');
  });

  it('follows a symlink that stays inside the workspace', async () => {
    expect(text((await run(['cat', '/workspace/inside-link'])).stdout)).toBe('int main;');
  });

  it('does not list links that leave the workspace and reveals no host paths', async () => {
    const ls = text((await run(['ls', '/workspace'])).stdout)
      .split('\n')
      .filter(Boolean)
      .sort();
    expect(ls).toEqual(['.git', 'inside-link', 'src']);
    const rl = await run(['readlink', '/workspace/abs-link']);
    expect(rl.exitCode).toBe(1);
    expect(text(rl.stdout)).not.toContain(outside);
  });

  it('cannot write through links or above the mount, nor create links', async () => {
    for (const argv of [
      ['write', '/workspace/dir-link/secret.txt', 'pwned'],
      ['write', '/workspace/../outside/secret.txt', 'pwned'],
      ['write', '/workspace/abs-link', 'pwned'],
      ['symlink', '/etc/passwd', '/workspace/new-link'],
      ['mkdir', '/workspace/../evil'],
    ]) {
      const r = await run(argv);
      expect(r.changed.filter((p) => p !== 'abs-link')).toEqual([]);
    }
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('SECRET');
  });

  it('applies workspace writes, mkdir, rename and delete to the view only', async () => {
    const own = createOverlayView(ws);
    const mounts = { workspace: own, tmp: true };
    const go = (argv: string[]) =>
      runtime.run({ module: { bytes: probe }, mounts, argv: ['probe', ...argv], limits: LIMITS });
    expect((await go(['mkdir', '/workspace/gen'])).exitCode).toBe(0);
    expect((await go(['write', '/workspace/gen/out.txt', 'generated'])).changed).toEqual(['gen/out.txt']);
    expect((await go(['append', '/workspace/src/main.c', '\n// more'])).changed).toEqual(['src/main.c']);
    const mv = await go(['mv', '/workspace/gen/out.txt', '/workspace/gen/moved.txt']);
    expect(mv.changed.sort()).toEqual(['gen/moved.txt', 'gen/out.txt']);
    expect((await go(['rm', '/workspace/src/main.c'])).changed).toEqual(['src/main.c']);
    expect(text((await go(['cat', '/workspace/gen/moved.txt'])).stdout)).toBe('generated');
    expect((await go(['cat', '/workspace/src/main.c'])).exitCode).toBe(1);
    // The real workspace is untouched.
    expect(await readFile(join(ws, 'src', 'main.c'), 'utf8')).toBe('int main;');
  });

  it('reports writes the view refuses instead of failing the run', async () => {
    const r = await run(['write', '/workspace/.git/HEAD', 'evil']);
    expect(r.exitCode).toBe(0);
    expect(r.changed).toEqual([]);
    expect(r.refusedWrites).toEqual([{ path: '.git/HEAD', reason: 'protected_path' }]);
    expect(await readFile(join(ws, '.git', 'HEAD'), 'utf8')).toBe('ref: main');
    const w = await run(['write', '/workspace/.gitx', 'ok']);
    expect(w.changed).toEqual(['.gitx']);
  });
});
