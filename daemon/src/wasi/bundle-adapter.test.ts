import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../bundles/index.js';
import { createBundleAdapter, createWasiRuntime, runWasiCommand } from './index.js';
import { sha256Hex } from './module-cache.js';
import { createOverlayView, fixture } from './test-support.js';

describe('bundle adapter', () => {
  let dir: string;
  let loaded: LoadedBundle;
  const runtime = createWasiRuntime({ poolSize: 1 });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-wasi-adapter-'));
    await mkdir(join(dir, 'files', 'share'), { recursive: true });
    await writeFile(join(dir, 'files', 'share', 'greeting.txt'), 'hi from the bundle');
    const probe = Buffer.from(await fixture('probe'));
    const files = [
      { path: 'bin/probe.wasm', size: probe.byteLength, sha256: sha256Hex(probe) },
      { path: 'share/greeting.txt', size: 18, sha256: sha256Hex(Buffer.from('hi from the bundle')) },
    ];
    const entry = { name: 'probe', path: join(dir, 'files/bin/probe.wasm'), bytes: probe, sha256: sha256Hex(probe) };
    const manifest = {
      entries: [{ name: 'probe', path: 'bin/probe.wasm', env: { X: 'y' } }],
      files,
      capabilities: {
        fs: [
          { guest: '/usr/local', source: 'bundle', access: 'ro' },
          { guest: '/workspace', source: 'workspace', access: 'rw' },
        ],
        netFetch: null,
      },
      limits: { memoryMb: 16, timeoutMs: 2000, maxOutputBytes: 4096 },
      tools: [],
    };
    loaded = {
      name: 'probe',
      version: '1.0.0',
      manifestSha256: 'a'.repeat(64),
      dir,
      filesDir: join(dir, 'files'),
      manifest: manifest as unknown as LoadedBundle['manifest'],
      entry,
      readEntry: async () => entry,
      files,
      limits: manifest.limits,
      capabilities: manifest.capabilities as LoadedBundle['capabilities'],
      tools: [],
    };
  });
  afterAll(async () => {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('mounts bundle files where the manifest says, with the entry env', async () => {
    const adapt = createBundleAdapter();
    const deps = { runtime, loadBundle: async () => adapt(loaded) };
    const view = createOverlayView(dir);
    const r = await runWasiCommand(deps, { bundle: 'probe', args: ['cat', '/usr/local/share/greeting.txt'], view });
    expect(Buffer.from(r.stdout).toString()).toBe('hi from the bundle');
    const env = await runWasiCommand(deps, { bundle: 'probe', args: ['env'], view });
    expect(Buffer.from(env.stdout).toString()).toBe('X=y\nPWD=/workspace\n');
  });

  it('refuses a payload file changed after verification', async () => {
    const adapt = createBundleAdapter();
    await writeFile(join(dir, 'files', 'share', 'greeting.txt'), 'tampered!!!!!!!!!!');
    try {
      await expect(adapt(loaded).files()).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
    } finally {
      await writeFile(join(dir, 'files', 'share', 'greeting.txt'), 'hi from the bundle');
    }
  });
});
