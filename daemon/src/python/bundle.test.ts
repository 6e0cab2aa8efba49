// The signed python bundle from the local build output installs into a brand-new state dir,
// verifies, and runs through createPython (the way the daemon wires it).
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBundleService, REPO_ROOT } from '../bundles/index.js';
import { ErrorCodes } from '../errors.js';
import { createPython } from './index.js';
import { MemoryLayerView } from './test-support.js';

const out = join(REPO_ROOT, 'bundles', 'out');
const built = existsSync(join(out, 'python'));
if (!built && process.env.SHADOWBOX_REQUIRE_BUNDLES)
  throw new Error('SHADOWBOX_REQUIRE_BUNDLES is set but bundles/out/python is missing');
if (!built)
  console.warn('python bundle test skipped: bundles/out/python missing (run `node bundles/scripts/build.mjs python`)');

describe.skipIf(!built)('python bundle', () => {
  let tmp = '';
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('installs from the local build output, verifies and runs', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sbpy-bundle-'));
    const svc = createBundleService({ stateDir: join(tmp, 'state'), localOutputDir: out });
    const b = await svc.load('python');
    expect(b.manifest.entries[0]).toMatchObject({ name: 'python', path: 'python.wasm' });
    expect(b.files.map((f) => f.path)).toContain('lib/python311.zip');
    // As the daemon wires it: the bundle checked without reading python.wasm, which the worker reads and hashes.
    const located = await svc.locate('python');
    expect(located.entry).toMatchObject({ path: b.entry.path, sha256: b.entry.sha256, size: b.entry.bytes.length });
    const py = createPython({
      loadBundle: async () => ({ filesDir: located.filesDir, module: located.entry }),
    });
    try {
      const r = await py.run(
        {
          code: 'import sys, sqlite3, zlib, bz2, lzma, decimal\nprint(sys.version.split()[0], sqlite3.sqlite_version)',
        },
        { view: new MemoryLayerView(tmp) },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('3.11.2 3.40.1\n');
    } finally {
      await py.close();
    }
  }, 60_000);

  it('refuses a python.wasm changed after the check: the worker compiles only bytes with the signed hash', async () => {
    const svc = createBundleService({ stateDir: join(tmp, 'state'), localOutputDir: out });
    const located = await svc.locate('python');
    // Changed between the check and the read (same size, one byte flipped; the store's files are read-only).
    const copy = join(tmp, 'tampered.wasm');
    await copyFile(located.entry.path, copy);
    const bytes = await readFile(copy);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(copy, bytes);
    // A symlink to the real bytes is refused too: the worker opens the file without following one.
    const link = join(tmp, 'link.wasm');
    await symlink(located.entry.path, link);
    for (const path of [copy, link]) {
      const py = createPython({
        loadBundle: async () => ({ filesDir: located.filesDir, module: { ...located.entry, path } }),
      });
      try {
        await expect(py.run({ code: 'print(1)' }, { view: new MemoryLayerView(tmp) })).rejects.toMatchObject({
          code: ErrorCodes.BundleVerificationFailed,
          data: { reason: 'file_mismatch' },
        });
      } finally {
        await py.close();
      }
    }
  }, 60_000);
});
