// The store's stat-keyed hashes, kept across restarts: an unchanged file is not hashed again, a changed one
// always is (its ctime moved), and a torn cache file is ignored.
import { mkdtempSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './crypto.js';
import { openStore } from './store.js';

function setup() {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sbx-hashes-'));
  const file = path.join(stateDir, 'module.wasm');
  writeFileSync(file, 'first bytes');
  return { stateDir, file, cacheFile: path.join(stateDir, 'bundles', 'hash-cache.json') };
}

/**
 * Lets the store's coalesced write of hash-cache.json finish: waited for under expect.poll's cap (a hang guard), not
 * 200 tries 5 ms apart, which an atomic write on a loaded machine's disk could outlast.
 */
async function written(cacheFile: string, file: string): Promise<void> {
  const has = () => {
    try {
      return file in (JSON.parse(readFileSync(cacheFile, 'utf8')) as { files: object }).files;
    } catch {
      return false; // not written yet
    }
  };
  await expect.poll(has, { message: 'hash-cache.json was not written' }).toBe(true);
}

describe('kept bundle file hashes', () => {
  it('hashes the file it read through one descriptor: its identity is that fstat, and no file is read through a link', async () => {
    const { stateDir, file } = setup();
    const store = openStore(stateDir);
    const h = await store.hashFile(file);
    const st = statSync(file, { bigint: true });
    expect(h).toMatchObject({ sha256: sha256Hex(Buffer.from('first bytes')), size: 11 });
    expect(h.identity).toEqual({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    // A link to the same bytes is not that file: a stat of the path and a read of it could be two files.
    const link = path.join(stateDir, 'link.wasm');
    symlinkSync(file, link);
    await expect(openStore(stateDir).hashFile(link)).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('a restarted store takes an unchanged file hash from the state dir; bytes that will run are always hashed', async () => {
    const { stateDir, file, cacheFile } = setup();
    expect((await openStore(stateDir).hashFile(file)).sha256).toBe(sha256Hex(Buffer.from('first bytes')));
    await written(cacheFile, file);
    // Stands in for a hash only an earlier daemon computed: the kept value is what a restart returns.
    const kept = JSON.parse(readFileSync(cacheFile, 'utf8')) as { files: Record<string, unknown[]> };
    kept.files[file][5] = 'f'.repeat(64);
    writeFileSync(cacheFile, JSON.stringify(kept));
    const restarted = openStore(stateDir);
    expect((await restarted.hashFile(file)).sha256).toBe('f'.repeat(64));
    // An entry's bytes (the code a runner executes) are hashed as they are read, whatever was kept.
    const withBytes = await openStore(stateDir).hashFile(file, true);
    expect(withBytes.sha256).toBe(sha256Hex(Buffer.from('first bytes')));
    expect(withBytes.bytes?.toString()).toBe('first bytes');
    // A key from another device is not this file's.
    kept.files[file][0] = (kept.files[file][0] as number) + 1;
    writeFileSync(cacheFile, JSON.stringify(kept));
    expect((await openStore(stateDir).hashFile(file)).sha256).toBe(sha256Hex(Buffer.from('first bytes')));
  });

  it('a file changed since (same size, mtime put back) is hashed again: its ctime moved', async () => {
    const { stateDir, file, cacheFile } = setup();
    await openStore(stateDir).hashFile(file);
    await written(cacheFile, file);
    const { atime, mtime } = statSync(file);
    await new Promise((r) => setTimeout(r, 20)); // a later ctime on file systems with coarse timestamps
    writeFileSync(file, 'other bytes');
    utimesSync(file, atime, mtime);
    for (const keepBytes of [false, true]) {
      const h = await openStore(stateDir).hashFile(file, keepBytes);
      expect(h.sha256).toBe(sha256Hex(Buffer.from('other bytes')));
      if (keepBytes) expect(h.bytes?.toString()).toBe('other bytes');
    }
  });

  it('a torn or foreign hash-cache.json is ignored (the file is hashed)', async () => {
    const { stateDir, file, cacheFile } = setup();
    await openStore(stateDir).hashFile(file);
    await written(cacheFile, file);
    for (const text of ['{"v":2,"files":{', '{"v":1,"files":{}}', '[]']) {
      writeFileSync(cacheFile, text);
      expect((await openStore(stateDir).hashFile(file)).sha256).toBe(sha256Hex(Buffer.from('first bytes')));
      await written(cacheFile, file); // the store writes a whole file again
    }
  });
});
