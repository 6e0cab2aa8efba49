import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { isShadowboxError } from '../errors.js';
import { isDiskFull, mapDiskFull } from './disk-full.js';
import { mkdirAll, writeFileAtomic } from './durable.js';
import { mountSmallDisk } from './test-support.js';

const disk = mountSmallDisk(256 * 1024);
if (!disk) console.log('disk-full: not root (no tmpfs mount): the real-disk cases are skipped');
// Bytes to spare, few inodes (files and folders).
const inodes = mountSmallDisk(1024 * 1024, 64);
afterAll(() => {
  disk?.unmount();
  inodes?.unmount();
});

describe('disk full', () => {
  it('maps ENOSPC and EDQUOT to DiskFull and leaves other errors alone', async () => {
    const enospc = Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' });
    const edquot = Object.assign(new Error('write EDQUOT'), { code: 'EDQUOT' });
    expect(isDiskFull(enospc) && isDiskFull(edquot)).toBe(true);
    const err = await mapDiskFull('/x/y', () => Promise.reject(edquot)).catch((e: unknown) => e);
    expect(isShadowboxError(err, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
    const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    await expect(mapDiskFull('/x', () => Promise.reject(eacces))).rejects.toBe(eacces);
  });

  // 64 KiB goes through writeFileAtomic's synchronous small-file path, 2 MiB through the FileHandle one.
  it.skipIf(!disk).each([64 * 1024, 2 * 1024 * 1024])(
    'writeFileAtomic of %i bytes on a full disk fails typed, keeps the old file, leaves no temp, and works once space is freed',
    async (size) => {
      const dir = disk!.dir;
      const file = path.join(dir, 'state.json');
      await writeFile(file, 'old');
      disk!.fill();
      const err = await writeFileAtomic(file, 'x'.repeat(size)).catch((e: unknown) => e);
      expect(isShadowboxError(err, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
      if (!isShadowboxError(err)) throw new Error('unreachable');
      expect(err.data.path).toBe(file);
      expect(typeof err.data.freeBytes).toBe('number');
      expect(err.data.freeBytes).toBeLessThan(size);
      expect(await readFile(file, 'utf8')).toBe('old');
      expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      disk!.free();
      await writeFileAtomic(file, 'new');
      expect(await readFile(file, 'utf8')).toBe('new');
    },
  );

  it.skipIf(!inodes)(
    'mkdirAll on a disk out of inodes throws ENOSPC (Node says ENOENT), typed DiskFull naming the files left',
    async () => {
      const dir = path.join(inodes!.dir, 'a', 'b', 'c');
      inodes!.fillInodesLeaving(0);
      try {
        const raw = await mkdirAll(dir).catch((e: unknown) => e);
        expect((raw as NodeJS.ErrnoException).code).toBe('ENOSPC');
        const err = await mapDiskFull(dir, () => mkdirAll(dir, 0o700)).catch((e: unknown) => e);
        expect(isShadowboxError(err, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
        if (!isShadowboxError(err)) throw new Error('unreachable');
        expect(err.data.freeFiles).toBe(0);
        expect(err.data.freeBytes).toBeGreaterThan(0);
        expect(err.message).toMatch(/\(\d+ bytes free, 0 files free\)/);
      } finally {
        inodes!.free();
      }
      // With room again it makes every level.
      await mkdirAll(dir);
      expect((await readdir(path.join(inodes!.dir, 'a', 'b'))).includes('c')).toBe(true);
    },
  );
});
