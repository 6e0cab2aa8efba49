import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createManifestTools,
  createRunBundleTool,
  createWasiRuntime,
  parseAllowEntry,
  runWasiCommand,
  type BundleForRun,
} from './index.js';
import { sha256Hex } from './module-cache.js';
import { createOverlayView, fixture } from './test-support.js';

describe('run_bundle tool', () => {
  const runtime = createWasiRuntime({ poolSize: 1 });
  let dir: string;
  let bundle: BundleForRun;
  beforeAll(async () => {
    const probe = await fixture('probe');
    dir = await mkdtemp(join(tmpdir(), 'sbx-wasi-tool-'));
    await writeFile(join(dir, 'in.txt'), 'input');
    bundle = {
      name: 'probe',
      version: '1.0.0',
      entry: { name: 'probe', bytes: probe, sha256: sha256Hex(probe), env: { LANG: 'C' } },
      files: async () => new Map([['data/x.txt', Buffer.from('from bundle')]]),
      mounts: [],
      limits: { memoryMb: 32, timeoutMs: 2000, maxOutputBytes: 4096 },
      netFetch: null,
    };
  });
  afterAll(async () => {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  });
  const deps = () => ({
    runtime,
    loadBundle: async (name: string) => {
      if (name !== 'probe') throw new Error('no such bundle');
      return bundle;
    },
  });

  it('runs a bundle command with default mounts, cwd /workspace and bundle env', async () => {
    const view = createOverlayView(dir);
    const tool = createRunBundleTool(deps());
    const ctx = { sessionId: 's', workspace: dir, view, signal: new AbortController().signal };
    const cat = await tool.handler(tool.input.parse({ bundle: 'probe', args: ['cat', 'in.txt'] }), ctx);
    expect(cat).toMatchObject({ content: 'input', isError: false });
    expect(
      (await tool.handler(tool.input.parse({ bundle: 'probe', args: ['cat', '/bundle/data/x.txt'] }), ctx)).content,
    ).toBe('from bundle');
    expect((await tool.handler(tool.input.parse({ bundle: 'probe', args: ['env'] }), ctx)).content).toBe(
      'LANG=C\nPWD=/workspace',
    );
    const w = await tool.handler(tool.input.parse({ bundle: 'probe', args: ['write', 'out.txt', 'x'] }), ctx);
    expect(w.changed).toEqual(['out.txt']);
    expect(w.content).toContain('changed in the shadow workspace: out.txt');
  });

  it('bounds time by the bundle and reports failures to the model', async () => {
    const view = createOverlayView(dir);
    const r = await runWasiCommand(deps(), { bundle: 'probe', args: ['loop'], timeoutMs: 200, view });
    expect(r.outcome).toBe('timeout');
    const tool = createRunBundleTool(deps());
    const out = await tool.handler(tool.input.parse({ bundle: 'probe', args: ['flood'] }), {
      sessionId: 's',
      workspace: dir,
      view,
      signal: new AbortController().signal,
    });
    expect(out.isError).toBe(true);
    expect(out.content).toContain('[stopped: output_limit');
  });

  it('honours a read-only workspace mount', async () => {
    const view = createOverlayView(dir);
    bundle.mounts = [{ guest: '/workspace', source: 'workspace', access: 'ro' }];
    try {
      const r = await runWasiCommand(deps(), { bundle: 'probe', args: ['write', '/workspace/x', 'y'], view });
      expect(r.changed).toEqual([]);
      expect(r.refusedWrites).toEqual([{ path: 'x', reason: 'read_only_mount' }]);
      expect(view.overlay.size).toBe(0);
    } finally {
      bundle.mounts = [];
    }
  });

  it('exposes manifest-declared tools with JSON Schema input and argv mapping', async () => {
    const manifest = {
      entries: [{ name: 'probe', path: 'bin/probe.wasm' }],
      tools: [
        {
          name: 'probe_cat',
          description: 'print a workspace file',
          entry: 'probe',
          kind: 'read' as const,
          inputSchema: {
            type: 'object',
            properties: { file: { type: 'string' }, upper: { type: 'boolean' } },
            required: ['file'],
            additionalProperties: false,
          },
          argv: [{ literal: 'cat' }, { arg: 'file', workspacePath: true }],
        },
      ],
    };
    const [tool] = createManifestTools({ name: 'probe', manifest }, deps());
    if (!tool) throw new Error('no tool');
    expect(tool.input.safeParse({ file: 'in.txt', extra: 1 }).success).toBe(false);
    expect(tool.targets?.({ file: 'in.txt' })).toEqual({ resource: 'probe', paths: ['in.txt'] });
    const ctx = { sessionId: 's', workspace: dir, view: createOverlayView(dir), signal: new AbortController().signal };
    expect(await tool.handler(tool.input.parse({ file: 'in.txt' }), ctx)).toMatchObject({
      content: 'input',
      isError: false,
    });
    await expect(tool.handler(tool.input.parse({ file: '../../etc/passwd' }), ctx)).rejects.toMatchObject({
      data: { reason: 'path_escape' },
    });
  });

  it('parses manifest netFetch rules', () => {
    expect(parseAllowEntry('api.github.com')).toEqual({ host: 'api.github.com' });
    expect(parseAllowEntry('http://127.0.0.1:8080')).toEqual({ host: '127.0.0.1', scheme: 'http', port: 8080 });
    expect(parseAllowEntry('https://*.example.com')).toEqual({ host: '*.example.com', scheme: 'https' });
  });
});
