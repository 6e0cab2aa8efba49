// The signed python bundle from the local build output installs into a brand-new state dir,
// verifies, and runs through createPython (the way the daemon wires it).
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBundleService, REPO_ROOT } from '../bundles/index.js';
import { ErrorCodes } from '../errors.js';
import { createPython, pythonFilesOf } from './index.js';
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
    // Each file the signed manifest lists, with the identity it was checked with (what python compares at its open).
    expect([...located.checked.keys()].sort()).toEqual(b.files.map((f) => f.path).sort());
    const zipStat = await stat(join(located.filesDir, 'lib', 'python311.zip'), { bigint: true });
    expect(located.checked.get('lib/python311.zip')).toEqual({
      dev: zipStat.dev,
      ino: zipStat.ino,
      size: zipStat.size,
      mtimeNs: zipStat.mtimeNs,
      ctimeNs: zipStat.ctimeNs,
    });
    const py = createPython({
      loadBundle: async () => pythonFilesOf(located),
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
        loadBundle: async () => ({ ...pythonFilesOf(located), module: { ...located.entry, path } }),
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
  // The store's lib/ as the guest's /usr/local/lib: only the files the signed manifest lists, each the very file
  // the check hashed. Both were holes: the folder was listed, and its files opened by path after the check.
  it('serves no file the signed manifest does not list (a sitecustomize.py dropped into the store)', async () => {
    const svc = createBundleService({ stateDir: join(tmp, 'state'), localOutputDir: out });
    const located = await svc.locate('python');
    const dir = join(located.filesDir, 'lib', 'python3.11');
    await chmod(dir, 0o755);
    const planted = join(dir, 'sitecustomize.py');
    await writeFile(planted, 'print("unsigned code ran")\n');
    const py = createPython({ loadBundle: async () => pythonFilesOf(await svc.locate('python')) });
    try {
      const r = await py.run(
        { code: 'import os\nprint(sorted(os.listdir("/usr/local/lib/python3.11")))' },
        { view: new MemoryLayerView(tmp) },
      );
      expect(r.stdout).not.toContain('unsigned code ran');
      expect(r.stdout).toBe("['lib-dynload', 'os.py', 'pip-22.3.1-py3-none-any.whl']\n");
    } finally {
      await py.close();
      await rm(planted, { force: true });
    }
  }, 60_000);

  /**
   * The store's os.py, and a python whose first load runs `swap` right after the bundle's check, before python opens
   * the stdlib; `readLine` runs a guest that prints os.py's first line.
   */
  async function swappedAfterCheck(swap: (osPy: string) => Promise<void>) {
    const svc = createBundleService({ stateDir: join(tmp, 'state'), localOutputDir: out });
    const osPy = join((await svc.locate('python')).filesDir, 'lib', 'python3.11', 'os.py');
    const firstLine = `${(await readFile(osPy, 'utf8')).split('\n')[0]}\n`;
    let swapped = false;
    const py = createPython({
      loadBundle: async () => {
        const b = pythonFilesOf(await svc.locate('python'));
        if (!swapped) {
          swapped = true;
          await swap(osPy);
        }
        return b;
      },
    });
    const readLine = () =>
      py.run(
        { code: 'print(open("/usr/local/lib/python3.11/os.py").readline(), end="")' },
        { view: new MemoryLayerView(tmp) },
      );
    return { osPy, firstLine, py, readLine };
  }

  it('refuses a stdlib file replaced between the check and its open (file_mismatch), and runs once it is back', async () => {
    const keep = join(tmp, 'os.py.orig');
    const { osPy, firstLine, py, readLine } = await swappedAfterCheck(async (osPy) => {
      // Other bytes renamed over the checked file.
      await copyFile(osPy, keep);
      const evil = join(tmp, 'os.py.evil');
      await writeFile(evil, Buffer.concat([Buffer.from('# tampered\n'), await readFile(osPy)]));
      await rename(evil, osPy);
    });
    try {
      await expect(readLine()).rejects.toMatchObject({
        code: ErrorCodes.BundleVerificationFailed,
        data: { reason: 'file_mismatch', path: 'lib/python3.11/os.py' },
      });
      // Checked again on the next call: the store's bytes are not the signed ones any more.
      await expect(readLine()).rejects.toMatchObject({
        code: ErrorCodes.BundleVerificationFailed,
        data: { reason: 'file_mismatch' },
      });
      await rename(keep, osPy);
      expect((await readLine()).stdout).toBe(firstLine);
    } finally {
      await py.close();
    }
  }, 60_000);

  it('refuses a symlink swapped in for a stdlib file after the check (typed file_mismatch, nothing opened through it)', async () => {
    const moved = join(tmp, 'os.py.moved');
    const { osPy, firstLine, py, readLine } = await swappedAfterCheck(async (osPy) => {
      // The checked bytes themselves, behind a link: the open does not follow it.
      await rename(osPy, moved);
      await symlink(moved, osPy);
    });
    try {
      await expect(readLine()).rejects.toMatchObject({
        code: ErrorCodes.BundleVerificationFailed,
        data: { reason: 'file_mismatch', path: 'lib/python3.11/os.py' },
      });
      await rm(osPy);
      await rename(moved, osPy);
      expect((await readLine()).stdout).toBe(firstLine);
    } finally {
      await py.close();
    }
  }, 60_000);
});
