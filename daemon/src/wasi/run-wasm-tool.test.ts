import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunWasmTool, createWasiRuntime } from './index.js';
import { createOverlayView, fixture } from './test-support.js';

describe('run_wasm tool (a local module)', () => {
  const runtime = createWasiRuntime({ poolSize: 1 });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-run-wasm-'));
    await mkdir(join(dir, 'build'));
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'build', 'probe.wasm'), await fixture('probe'));
    await writeFile(join(dir, 'data', 'in.txt'), 'input');
  });
  afterAll(async () => {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  });
  const call = async (input: Record<string, unknown>) => {
    const view = createOverlayView(dir);
    const tool = createRunWasmTool({ runtime });
    const out = await tool.handler(tool.input.parse(input), {
      sessionId: 's',
      workspace: dir,
      view,
      signal: new AbortController().signal,
    });
    return { out, view };
  };

  it('runs a workspace module over the workspace, writes landing in the view', async () => {
    const { out, view } = await call({ module: 'build/probe.wasm', args: ['cat', 'data/in.txt'], env: { A: 'b' } });
    expect(out).toMatchObject({ content: 'input', isError: false });
    const w = await call({ module: 'build/probe.wasm', args: ['write', 'data/out.txt', 'x'] });
    expect(w.out.changed).toEqual(['data/out.txt']);
    expect(Buffer.from(w.view.overlay.get('data/out.txt') ?? []).toString()).toBe('x');
    void view;
  });

  it('mounts a workspace folder at any guest path, its writes mapped back into the workspace', async () => {
    const { out } = await call({
      module: 'build/probe.wasm',
      dirs: [{ path: 'data', at: '/' }],
      args: ['write', '/new.txt', 'y'],
    });
    expect(out.isError).toBe(false);
    expect(out.changed).toEqual(['data/new.txt']);
    const ls = await call({
      module: 'build/probe.wasm',
      dirs: [{ path: 'data', at: '/mnt/d' }],
      args: ['ls', '/mnt/d'],
    });
    expect(ls.out.content).toBe('in.txt');
    // Only what is mounted is reachable.
    const cat = await call({
      module: 'build/probe.wasm',
      dirs: [{ path: 'data', at: '/d' }],
      args: ['cat', '/build/probe.wasm'],
    });
    expect(cat.out.isError).toBe(true);
  });

  it('refuses a module or folder outside the workspace', async () => {
    await expect(call({ module: '../x.wasm' })).rejects.toMatchObject({ data: { reason: 'path_escape' } });
    await expect(call({ module: 'build/probe.wasm', dirs: [{ path: '..', at: '/up' }] })).rejects.toMatchObject({
      data: { reason: 'path_escape' },
    });
  });
});
