// The signed python bundle from the local build output installs into a brand-new state dir,
// verifies, and runs through createPython (the way the daemon wires it).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBundleService, REPO_ROOT } from '../bundles/index.js';
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
    const py = createPython({
      loadBundle: async () => ({ filesDir: b.filesDir, moduleBytes: b.entry.bytes, moduleSha256: b.entry.sha256 }),
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
});
