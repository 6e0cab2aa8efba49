// The streamed install: what an archive may write before it is verified (only what a verified manifest lists, at its
// size), and an install whose mirror has no usable manifest.json beside the archive (nothing written on the first
// read; a second read writes what the verified archive holds).
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StagedFile } from './store.js';
import { writeTar } from './tar.js';
import { createWorld, type World } from './test-fixtures.js';
import { contentFromArchive } from './verify.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.cleanup();
});

async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

describe('streamed install', () => {
  it('writes only the files the plan lists, at their listed size; hashes every file', async () => {
    const tar = writeTar(
      [
        { path: 'files/a.txt', bytes: Buffer.from('listed') },
        { path: 'files/b.txt', bytes: Buffer.from('listed, other size') },
        // A hostile archive's deep unlisted name: it must not become folders on disk.
        { path: `files/${'d/'.repeat(40)}x`, bytes: Buffer.from('unlisted') },
        { path: 'manifest.json', bytes: Buffer.from('{}') },
      ],
      0,
    );
    const created: string[] = [];
    const bytes = new Map<string, Buffer[]>();
    const createFile = (path: string): Promise<StagedFile> => {
      created.push(path);
      return Promise.resolve({
        write: (b: Uint8Array) => Promise.resolve(void bytes.set(path, [...(bytes.get(path) ?? []), Buffer.from(b)])),
        close: () => Promise.resolve(),
      });
    };
    const sig = Buffer.from(JSON.stringify({ signatures: [] }));
    const plan = new Map([
      ['a.txt', 6],
      ['b.txt', 6],
    ]);
    const c = await contentFromArchive(chunksOf(tar, 100), sig, { plan, createFile });
    expect(created).toEqual(['a.txt']);
    expect([...c.written]).toEqual(['a.txt']);
    expect(Buffer.concat(bytes.get('a.txt') ?? []).toString()).toBe('listed');
    expect([...c.files.keys()].sort()).toEqual(['a.txt', 'b.txt', `${'d/'.repeat(40)}x`]);
    expect(c.archive.size).toBe(tar.length);
  });

  it("installs when the mirror's manifest.json is missing or fails its checks: the archive decides, read twice", async () => {
    const payload = { 'bin/demo.wasm': 'module bytes', 'lib/data.txt': 'data' };
    const e = await w.publish('demo', '1.0.0', payload);
    await w.index({ demo: { '1.0.0': e } });
    const manifestFile = join(w.outDir, 'demo', '1.0.0', 'manifest.json');
    // Valid JSON, its signature no longer matching: a mirror that raised the memory limit of what it serves.
    const edited = JSON.parse(await readFile(manifestFile, 'utf8')) as { limits: { memoryMb: number } };
    edited.limits.memoryMb = 4096;
    for (const variant of ['missing', 'edited after signing']) {
      if (variant === 'missing') await rm(manifestFile);
      else await writeFile(manifestFile, JSON.stringify(edited));
      const svc = w.service({ stateDir: join(w.base, `state-${variant.split(' ')[0]}`) });
      await svc.install({ name: 'demo' });
      const b = await svc.load('demo');
      expect(b.manifestSha256, variant).toBe(e.manifestSha256);
      expect(b.entry.bytes.toString(), variant).toBe(payload['bin/demo.wasm']);
      expect(await readFile(join(b.filesDir, 'lib', 'data.txt'), 'utf8'), variant).toBe('data');
    }
  });
});
