// A bundle install on a nearly full disk (the state dir on a small tmpfs, so ENOSPC is the kernel's), swept over the
// room left: it either installs the whole bundle, or fails with the typed DiskFull and leaves no entry and no
// staging folder (the archive streams into a temp folder that only a verified install renames into place); once
// space is freed the same service installs it.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { mountSmallDisk } from '../state/test-support.js';
import { createWorld, type World } from './test-fixtures.js';

const disk = mountSmallDisk(4 * 1024 * 1024);
// Out of inodes instead of bytes: a recursive mkdir reports that as ENOENT, which is not a DiskFull.
const fewInodes = mountSmallDisk(16 * 1024 * 1024, 200);
if (!disk || !fewInodes) console.log('bundle install disk-full: not root (no tmpfs mount): skipped');
afterAll(() => {
  disk?.unmount();
  fewInodes?.unmount();
});

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  disk?.free();
  fewInodes?.free();
  await w.cleanup();
});

const KiB = 1024;

/** What a failed install left in the store besides a whole entry: temp folders, or an entry without its manifest. */
async function leftIn(storeDir: string): Promise<string[]> {
  const left: string[] = [];
  for (const name of await readdir(storeDir).catch(() => [] as string[])) {
    const whole = await readdir(join(storeDir, name)).then(
      (xs) => /^[0-9a-f]{64}$/.test(name) && xs.sort().join() === 'files,manifest.json,manifest.sig.json',
      () => false,
    );
    if (!whole) left.push(name);
  }
  return left;
}

/**
 * Installs `payload` once per step on a fresh state dir under `dir`, with `squeeze(step)` leaving that little room
 * (bytes or inodes): each install either succeeds, or fails DiskFull leaving no temp folder and then succeeds once
 * `release()` gave the room back. The sweep must reach both outcomes.
 */
async function sweep(
  dir: string,
  steps: number[],
  squeeze: (step: number) => void,
  release: () => void,
  payload: Record<string, string>,
): Promise<void> {
  const e = await w.publish('demo', '1.0.0', payload);
  await w.index({ demo: { '1.0.0': e } });
  const outcomes = new Set<string>();
  for (const step of steps) {
    const stateDir = join(dir, `state-${step}`);
    const svc = w.service({ stateDir });
    squeeze(step);
    const storeDir = join(stateDir, 'bundles', 'store');
    const err = await svc.install({ name: 'demo' }).then(
      () => null,
      (x: unknown) => x as { code?: number; message?: string },
    );
    release();
    if (err) {
      expect(err.code, `step ${step}: ${err.message ?? ''}`).toBe(ErrorCodes.DiskFull);
      // No temp folder; the entry itself may be there, whole, when what failed came after it (installed.json).
      expect(await leftIn(storeDir), `step ${step}`).toEqual([]);
      outcomes.add('disk full');
      await svc.install({ name: 'demo' });
    } else outcomes.add('installed');
    expect(await readdir(storeDir), `step ${step}`).toEqual([e.manifestSha256]);
    expect((await svc.load('demo')).entry.bytes.toString()).toBe(payload['bin/demo.wasm']);
    // The next step starts from an empty disk again.
    await rm(stateDir, { recursive: true, force: true });
  }
  // The sweep reached both ends: a disk too full to install and one with room.
  expect([...outcomes].sort()).toEqual(['disk full', 'installed']);
}

describe('bundle install on a full disk', () => {
  it.skipIf(!disk)('installs whole or fails DiskFull with nothing left behind, at every room swept', async () => {
    // Two files of 300 KiB and some small ones: the disk fills inside a file, between files, at the manifest.
    const big = (c: string) => c.repeat(300 * KiB);
    await sweep(
      disk!.dir,
      [0, 4, 64, 200, 320, 500, 604, 640, 700, 900, 1400].map((k) => k * KiB),
      (room) => disk!.fillLeaving(room),
      () => disk!.free(),
      { 'bin/demo.wasm': big('m'), 'lib/a.txt': 'a', 'lib/data.bin': big('d'), 'lib/z.txt': 'z' },
    );
  });

  it.skipIf(!fewInodes)('out of inodes: installs whole or fails DiskFull with nothing left behind', async () => {
    await sweep(
      fewInodes!.dir,
      Array.from({ length: 13 }, (_, i) => i * 2),
      (free) => fewInodes!.fillInodesLeaving(free),
      () => fewInodes!.free(),
      { 'bin/demo.wasm': 'module', 'lib/a/b/c.txt': 'c', 'lib/a/d.txt': 'd', 'share/e.txt': 'e' },
    );
  });
});
